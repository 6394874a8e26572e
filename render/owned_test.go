package render

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/coderfleet/coderfleet/config"
)

// evaluateExample evaluates the repository's templates for one region of
// the example fleet.
func evaluateExample(t *testing.T, region string) *Output {
	t.Helper()
	fs := filesys.MakeFsOnDisk()
	cfg, err := config.Load(fs, "..", config.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r := cfg.Region(region)
	in, err := templateInput(cfg, r, "test")
	if err != nil {
		t.Fatal(err)
	}
	ev := &evaluator{imp: newImporter(fs, "..")}
	out, err := ev.evaluate(region, in)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// The owned names come from what the templates render, so they cannot
// drift from it: every variable of coderd's container, every namespace a
// component or add-on uses, and the workspace namespaces' other
// ServiceAccounts are owned.
func TestOwnedNamesMatchWhatIsRendered(t *testing.T) {
	out := evaluateExample(t, "us-east-2")
	env := out.Owned["coder.env"].Names
	namespaces := out.Owned["workspaceNamespaces[].name"].Names
	workspaces := map[string]bool{"coder-ws": true, "coder-ws-experiment": true, "coder-ws-demo": true}
	var deployments int
	for _, objs := range out.Components {
		for _, m := range objs {
			switch {
			case m["kind"] == "Deployment" && str(m, "metadata", "name") == "coder":
				deployments++
				var d struct {
					Spec struct {
						Template struct {
							Spec struct {
								Containers []struct{ Env []struct{ Name string } }
							}
						}
					}
				}
				b, _ := json.Marshal(m)
				if err := json.Unmarshal(b, &d); err != nil {
					t.Fatal(err)
				}
				for _, e := range d.Spec.Template.Spec.Containers[0].Env {
					if _, ok := env[e.Name]; !ok {
						t.Errorf("coderd's variable %s is not owned: coder.env could replace it", e.Name)
					}
				}
			case m["kind"] == "Namespace" && !workspaces[str(m, "metadata", "name")]:
				if _, ok := namespaces[str(m, "metadata", "name")]; !ok {
					t.Errorf("namespace %s is rendered but a workspace namespace could take it", str(m, "metadata", "name"))
				}
			case m["kind"] == "HelmRelease":
				if ns := str(m, "spec", "targetNamespace"); namespaces[ns] == "" {
					t.Errorf("add-on namespace %s is not owned", ns)
				}
			case m["kind"] == "ServiceAccount" && workspaces[str(m, "metadata", "namespace")] && str(m, "metadata", "name") != str(m, "metadata", "namespace"):
				if namespaces[str(m, "metadata", "name")] == "" {
					t.Errorf("ServiceAccount %s of a workspace namespace is not owned", str(m, "metadata", "name"))
				}
			}
		}
	}
	if deployments != 1 {
		t.Fatalf("found %d coder Deployments", deployments)
	}
	for _, n := range []string{"karpenter", "cert-manager", "external-secrets", "kube-system", "kube-public", "kube-node-lease",
		"default", "flux-system", "coder", "coder-proxy", "litellm", "rotate-key", "secret-reader"} {
		if namespaces[n] == "" {
			t.Errorf("workspace namespace %q is not refused", n)
		}
	}
	for _, n := range []string{"CODER_TLS_ENABLE", "CODER_REDIRECT_TO_ACCESS_URL", "CODER_HTTP_ADDRESS", "CODER_PG_CONNECTION_URL"} {
		if !strings.Contains(env[n], "Coder docs") && !strings.Contains(env[n], "Secret") && !strings.Contains(env[n], "8080") {
			t.Errorf("%s has no reason: %q", n, env[n])
		}
	}
	if v := out.Owned["addons.karpenter.values"].Names; v["settings.clusterName"] == "" || v["serviceAccount.annotations.eks.amazonaws.com/role-arn"] == "" {
		t.Errorf("karpenter's pinned values: %v", v)
	}
}

func TestChosenNames(t *testing.T) {
	settings := map[string]any{
		"workspaceNamespaces": []any{map[string]any{"name": "a"}, map[string]any{"name": "b"}},
		"addons": map[string]any{
			"x": map[string]any{"namespace": "nx", "values": map[string]any{"s": map[string]any{"c": "v"}, "empty": map[string]any{}, "n": nil}},
		},
	}
	var got []string
	for _, p := range []string{"workspaceNamespaces[].name", "addons.*.namespace", "addons.x.values", "missing.key"} {
		for _, c := range chosenNames(settings, "", strings.Split(p, ".")) {
			got = append(got, c.key+"="+c.name)
		}
	}
	want := []string{"workspaceNamespaces[0].name=a", "workspaceNamespaces[1].name=b", "addons.x.namespace=nx",
		"addons.x.values.empty=empty", "addons.x.values.n=n", "addons.x.values.s.c=s.c"}
	if !slices.Equal(got, want) {
		t.Errorf("got  %v\nwant %v", got, want)
	}
	for _, c := range []struct {
		a, b string
		want bool
	}{{"s", "s.c", true}, {"s.c", "s", true}, {"s.c", "s.c", true}, {"s", "sx.c", false}, {"coder", "coder-ws", false}} {
		if collides(c.a, c.b) != c.want {
			t.Errorf("collides(%q, %q) = %v", c.a, c.b, !c.want)
		}
	}
}
