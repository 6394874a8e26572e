package golden_test

import (
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/coderfleet/coderfleet/awsstate"
	"github.com/coderfleet/coderfleet/internal/testfleet"
)

// addonServiceAccount is, per cluster add-on that calls AWS, where its
// chart's values put the controller's ServiceAccount (create, name,
// annotations), as each chart's values.yaml spells it.
var addonServiceAccount = map[string][]string{
	"aws-load-balancer-controller": {"serviceAccount"},
	"karpenter":                    {"serviceAccount"},
	"aws-ebs-csi-driver":           {"controller", "serviceAccount"},
}

// TestAddonRoles renders a fleet whose IAM coderfleet manages, with every
// add-on and with the EBS CSI driver turned off, and checks in every region
// that each add-on calling AWS has the chart create its ServiceAccount
// annotated with the ARN of the role in aws/roles.yaml that trusts exactly
// that ServiceAccount, that a disabled add-on has no role, and that
// External Secrets' controller has none (its SecretStores authenticate
// with key sync's own ServiceAccount).
func TestAddonRoles(t *testing.T) {
	templates := testfleet.ReadDir(t, testfleet.RepoRoot(t), "templates")
	base := testfleet.Fleet()
	managed := base["overlays/fleet.yaml"] + "iam:\n  mode: managed\n"
	for _, tc := range []struct {
		name     string
		fleet    string
		disabled string
	}{
		{name: "all add-ons", fleet: managed},
		{name: "EBS CSI off", fleet: managed + "addons:\n  aws-ebs-csi-driver:\n    enabled: false\n", disabled: "aws-ebs-csi-driver"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			testfleet.WriteDisk(t, dir, testfleet.With(base, map[string]string{"overlays/fleet.yaml": tc.fleet}))
			regions := testfleet.RenderOverlays(t, templates, dir)
			if len(regions) != 2 {
				t.Fatalf("rendered %d regions, want 2", len(regions))
			}
			for region, tree := range regions {
				data, ok := tree["aws/roles.yaml"]
				if !ok {
					t.Fatalf("%s: no aws/roles.yaml although iam.mode is managed", region)
				}
				f, err := awsstate.Parse(region+"/aws/roles.yaml", data)
				if err != nil {
					t.Fatal(err)
				}
				bySubject := map[string]awsstate.Role{}
				for _, r := range f.Roles {
					bySubject[r.ServiceAccount.Subject()] = r
				}
				releases := map[string]map[string]any{}
				for p, data := range tree {
					if !strings.HasPrefix(p, "addons/") {
						continue
					}
					var o map[string]any
					if err := yaml.Unmarshal(data, &o); err != nil {
						t.Fatalf("%s/%s: %v", region, p, err)
					}
					if o["kind"] == "HelmRelease" {
						releases[dig(o, "metadata", "name").(string)] = o
					}
				}
				for addon, at := range addonServiceAccount {
					rel, enabled := releases[addon]
					if addon == tc.disabled {
						if enabled {
							t.Errorf("%s: disabled add-on %s has a HelmRelease", region, addon)
						}
						for _, r := range f.Roles {
							if r.ServiceAccount.Namespace == "kube-system" && r.ServiceAccount.Name == "ebs-csi-controller-sa" || strings.HasSuffix(r.Name, "-ebs-csi") {
								t.Errorf("%s: disabled add-on %s still has role %s", region, addon, r.Name)
							}
						}
						continue
					}
					if !enabled {
						t.Fatalf("%s: add-on %s has no HelmRelease", region, addon)
					}
					sa, _ := dig(rel, append([]string{"spec", "values"}, at...)...).(map[string]any)
					name, _ := sa["name"].(string)
					arn, _ := dig(sa, "annotations", "eks.amazonaws.com/role-arn").(string)
					if sa["create"] != true || name == "" || arn == "" {
						t.Errorf("%s: %s's chart values %s = %v: want create true, a name and the role-arn annotation", region, addon, strings.Join(at, "."), sa)
						continue
					}
					ns, _ := dig(rel, "spec", "targetNamespace").(string)
					subject := awsstate.ServiceAccountRef{Namespace: ns, Name: name}.Subject()
					role, ok := bySubject[subject]
					if !ok {
						t.Errorf("%s: no role in aws/roles.yaml trusts %s, the ServiceAccount of %s", region, subject, addon)
						continue
					}
					if got := role.ARN("aws", "123456789012"); got != arn {
						t.Errorf("%s: %s's ServiceAccount is annotated %s, its role's ARN is %s", region, addon, arn, got)
					}
					if len(role.InlinePolicies)+len(role.ManagedPolicies) == 0 {
						t.Errorf("%s: role %s of %s grants nothing", region, role.Name, addon)
					}
				}
				es := releases["external-secrets"]
				if es == nil {
					t.Fatalf("%s: no external-secrets HelmRelease", region)
				}
				if v := dig(es, "spec", "values", "serviceAccount", "annotations", "eks.amazonaws.com/role-arn"); v != nil {
					t.Errorf("%s: external-secrets' controller is annotated with role %v; it needs none", region, v)
				}
			}
		})
	}
}

// dig returns the value at keys in nested maps, or nil.
func dig(o any, keys ...string) any {
	for _, k := range keys {
		m, ok := o.(map[string]any)
		if !ok {
			return nil
		}
		o = m[k]
	}
	return o
}
