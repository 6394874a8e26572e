package validate

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// decodeYAML turns one YAML document into an object as the renderer holds
// it: strict YAML (duplicate keys fail), numbers as json.Number.
func decodeYAML(t *testing.T, name string, data []byte) map[string]any {
	t.Helper()
	js, err := yaml.YAMLToJSONStrict(data)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return m
}

// TestCommittedFleetPasses validates the example fleet's committed regions/
// tree exactly as the renderer will before writing it.
func TestCommittedFleetPasses(t *testing.T) {
	root := filepath.Join("..", "regions")
	regions, err := os.ReadDir(root)
	if err != nil {
		t.Fatalf("reading the committed fleet: %v", err)
	}
	checked := 0
	for _, r := range regions {
		if !r.IsDir() {
			continue
		}
		region := r.Name()
		var objs []Object
		var awsProblems []*Problem
		dir := filepath.Join(root, region)
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(dir, p)
			rel = filepath.ToSlash(rel)
			if d.IsDir() {
				if rel == "review" {
					return filepath.SkipDir
				}
				return nil
			}
			if !strings.HasSuffix(rel, ".yaml") || d.Name() == "kustomization.yaml" || rel == ".coderfleet.yaml" {
				return nil
			}
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			if strings.HasPrefix(rel, "aws/") {
				awsProblems = append(awsProblems, AWSFile(region, filepath.ToSlash(p), data, Options{})...)
				return nil
			}
			component := strings.SplitN(rel, "/", 2)[0]
			objs = append(objs, Object{Component: component, Obj: decodeYAML(t, p, data)})
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		problems := append(Objects(region, objs, Options{}), awsProblems...)
		for _, p := range problems {
			t.Errorf("%v", p)
		}
		checked += len(objs)
	}
	if checked == 0 {
		t.Fatalf("no objects found under %s: the example fleet is missing", root)
	}
	t.Logf("validated %d committed objects", checked)
}

// TestEveryKindTheTemplatesEmitIsKnown guards against a dependency bump
// dropping a kind coderfleet renders.
func TestEveryKindTheTemplatesEmitIsKnown(t *testing.T) {
	want := []string{
		"v1/Namespace", "v1/ServiceAccount", "v1/Service", "v1/ConfigMap", "v1/Secret",
		"apps/v1/Deployment", "batch/v1/CronJob", "rbac.authorization.k8s.io/v1/Role", "rbac.authorization.k8s.io/v1/RoleBinding",
		"kustomize.toolkit.fluxcd.io/v1/Kustomization", "source.toolkit.fluxcd.io/v1/HelmRepository",
		"source.toolkit.fluxcd.io/v1/OCIRepository", "helm.toolkit.fluxcd.io/v2/HelmRelease",
		"external-secrets.io/v1/ExternalSecret", "external-secrets.io/v1/SecretStore",
	}
	reg := decoders()
	known := map[string]bool{}
	for gvk, info := range reg.kinds {
		if !info.prerelease {
			known[gvk.GroupVersion().String()+"/"+gvk.Kind] = true
		}
	}
	var missing []string
	for _, k := range want {
		if !known[k] {
			missing = append(missing, k)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Fatalf("kinds not known to the strict decoder: %v", missing)
	}
}
