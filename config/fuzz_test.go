package config_test

import (
	"errors"
	"testing"

	"github.com/coderfleet/coderfleet/config"
	"github.com/coderfleet/coderfleet/internal/testfleet"
)

// FuzzLoad feeds arbitrary fleet and region files to the loader: it must
// never panic, and every failure must be an input error naming a file.
func FuzzLoad(f *testing.F) {
	base := testfleet.Fleet()
	f.Add(base["overlays/fleet.yaml"], base["overlays/us-west-2/region.yaml"])
	f.Add(fleetHead+"coder: {replicas: 2}\n", regionFile("name: us-west-2\nawsRegion: us-west-2\nrole: proxy\nclusterName: c\noverrides: {proxy: {replicas: 3}}\n"))
	f.Add(fleetHead+"a: &a [1]\nb: *a\n", "{")
	f.Add(fleetHead+"workspaceNamespaces: [{name: x, organization: y}, {name: x}]\n", regionFile("overrides: [1, 2]\n"))
	f.Add("\t\x00", "name: [")
	f.Fuzz(func(t *testing.T, fleet, region string) {
		files := testfleet.With(base, map[string]string{"overlays/fleet.yaml": fleet, "overlays/us-west-2/region.yaml": region})
		fsys, repo := testfleet.MemFS(t, files)
		cfg, err := config.Load(fsys, repo, config.LoadOptions{})
		if err == nil {
			if cfg.Primary() == nil {
				t.Fatal("a loaded fleet always has a primary")
			}
			return
		}
		var e *config.Error
		if !errors.As(err, &e) || e.File == "" {
			t.Fatalf("error without a file: %#v", err)
		}
	})
}
