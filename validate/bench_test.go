package validate

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// BenchmarkSecretGuard measures the secret guard alone over every rendered
// object of the example fleet (regions/ of the repository), with gitleaks'
// rules already compiled: the cost each render pays per region.
//
//	go test -bench SecretGuard -run '^$' ./validate
func BenchmarkSecretGuard(b *testing.B) {
	var objs []*objectCheck
	values := 0
	err := filepath.WalkDir("../regions", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".yaml") || strings.Contains(p, "/aws/") || strings.HasSuffix(p, "kustomization.yaml") || strings.HasSuffix(p, ".coderfleet.yaml") {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		var m map[string]any
		if err := yaml.Unmarshal(data, &m); err != nil {
			return err
		}
		walkValues(m, "", "", func(_, _, _ string) { values++ })
		objs = append(objs, &objectCheck{region: "r", component: "c", ref: Ref(m), obj: m})
		return nil
	})
	if err != nil || len(objs) == 0 {
		b.Fatalf("reading the example fleet's objects: %d, %v", len(objs), err)
	}
	leaks() // compile the rules outside the measurement
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		for _, c := range objs {
			c.problems = c.problems[:0]
			c.credentials(nil)
			if len(c.problems) > 0 {
				b.Fatalf("example fleet flagged: %v", c.problems[0])
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(values), "ns/value")
}
