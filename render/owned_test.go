package render

import (
	"encoding/json"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/coderfleet/coderfleet/config"
	"github.com/coderfleet/coderfleet/internal/synth"
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

// Every ServiceAccount the templates render in a workspace namespace,
// besides the workspaces' own one named after the namespace, is a name
// workspaceNamespaces[].name may not take, and every such owned name is
// rendered somewhere (no stale entry): checked over every region of the
// example fleet and of a synthetic fleet (a primary and proxies), each in
// both key sync modes and both secrets modes. The names come from the
// components' workspaceServiceAccounts declarations (main.jsonnet), so this
// fails when a component creates a ServiceAccount it does not declare.
func TestWorkspaceServiceAccountsOwned(t *testing.T) {
	files, err := synth.Fleet(os.DirFS(".."), 4)
	if err != nil {
		t.Fatal(err)
	}
	mem := filesys.MakeFsInMemory()
	if err := synth.Write(mem, "/repo", files); err != nil {
		t.Fatal(err)
	}
	const accountReason = "a ServiceAccount "
	rendered := map[string]bool{}
	checked := 0
	claimed := map[string]bool{} // owned as a workspace components' ServiceAccount
	for _, fl := range []struct {
		name string
		fs   filesys.FileSystem
		root string
	}{{"example", filesys.MakeFsOnDisk(), ".."}, {"synthetic", mem, "/repo"}} {
		cfg, err := config.Load(fl.fs, fl.root, config.LoadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ev := &evaluator{imp: newImporter(fl.fs, fl.root)}
		for _, r := range cfg.Regions {
			in, err := templateInput(cfg, r, "test")
			if err != nil {
				t.Fatal(err)
			}
			for _, keySync := range []string{"externalsecrets", "cronjob"} {
				for _, secretsMode := range []string{"externalsecrets", "manual"} {
					var input map[string]any
					if err := json.Unmarshal(in, &input); err != nil {
						t.Fatal(err)
					}
					settings := input["settings"].(map[string]any)
					settings["keySync"].(map[string]any)["mode"] = keySync
					settings["secrets"].(map[string]any)["mode"] = secretsMode
					workspaces := map[string]bool{}
					for _, ws := range settings["workspaceNamespaces"].([]any) {
						workspaces[ws.(map[string]any)["name"].(string)] = true
					}
					if len(workspaces) == 0 {
						continue // proxy-003 of the synthetic fleet has none
					}
					checked++
					b, err := json.Marshal(input)
					if err != nil {
						t.Fatal(err)
					}
					out, err := ev.evaluate(r.Region.Name, b)
					if err != nil {
						t.Fatalf("%s fleet, region %s, keySync.mode %s, secrets.mode %s: %v", fl.name, r.Region.Name, keySync, secretsMode, err)
					}
					owned := out.Owned["workspaceNamespaces[].name"].Names
					for c, objs := range out.Components {
						for _, m := range objs {
							name, ns := str(m, "metadata", "name"), str(m, "metadata", "namespace")
							if m["kind"] != "ServiceAccount" || !workspaces[ns] || name == ns {
								continue
							}
							rendered[name] = true
							if owned[name] == "" {
								t.Errorf("%s fleet, region %s, keySync.mode %s, secrets.mode %s: component %s renders ServiceAccount %s/%s, which workspaceNamespaces[].name does not refuse (owned: %q); declare it in the component's workspaceServiceAccounts",
									fl.name, r.Region.Name, keySync, secretsMode, c, ns, name, owned[name])
							}
						}
					}
					for name, why := range owned {
						if strings.HasPrefix(why, accountReason) {
							claimed[name] = true
						}
					}
				}
			}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(claimed)) {
		if !rendered[name] {
			t.Errorf("ServiceAccount %s is refused as a workspace namespace name but no component rendered it in a workspace namespace, in any mode", name)
		}
	}
	if checked < 2*2*4 {
		t.Errorf("checked %d renders with workspace namespaces, want the example's and the synthetic fleet's regions in 4 modes each", checked)
	}
	if len(rendered) < 3 {
		t.Errorf("found the ServiceAccounts %v in workspace namespaces; want the provisioner's, key sync's and the SecretStores' reader", slices.Sorted(maps.Keys(rendered)))
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
