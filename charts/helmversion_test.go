package charts

import (
	"os"
	"testing"

	"golang.org/x/mod/modfile"
)

// TestLinkedHelmVersionMatchesGoMod keeps the fallback Helm version (used
// by binaries without module information) equal to the version go.mod links.
func TestLinkedHelmVersionMatchesGoMod(t *testing.T) {
	data, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	mf, err := modfile.ParseLax("go.mod", data, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range mf.Require {
		if r.Mod.Path == helmModule {
			if r.Mod.Version != linkedHelmVersion {
				t.Fatalf("go.mod requires %s %s but linkedHelmVersion is %s: update charts/lock.go (and re-vendor charts)", helmModule, r.Mod.Version, linkedHelmVersion)
			}
			if HelmVersion() != r.Mod.Version {
				t.Fatalf("HelmVersion() = %s, go.mod has %s", HelmVersion(), r.Mod.Version)
			}
			return
		}
	}
	t.Fatalf("go.mod does not require %s", helmModule)
}
