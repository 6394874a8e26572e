// Package fleettest renders small fleets in memory for tests, the way the
// CLI does: a case's overlays/ with the repository's templates/.
package fleettest

import (
	"context"
	"testing"

	"github.com/coderfleet/coderfleet/internal/fleet"
	"github.com/coderfleet/coderfleet/internal/testfleet"
	"github.com/coderfleet/coderfleet/render"
)

// RenderOverlays renders dir/overlays with templates (repository-relative
// paths to contents, e.g. from testfleet.ReadDir(t, root, "templates")),
// in memory, with the options the CLI uses; a render error fails the test.
func RenderOverlays(t testing.TB, templates map[string]string, dir string) map[string]render.Tree {
	t.Helper()
	files := map[string]string{}
	for p, data := range templates {
		files[p] = data
	}
	for p, data := range testfleet.ReadDir(t, dir, "overlays") {
		files[p] = data
	}
	fsys, repo := testfleet.MemFS(t, files)
	opts, err := fleet.Prepare(fsys, repo, nil)
	if err != nil {
		t.Fatalf("rendering %s: %v", dir, err)
	}
	res, err := render.Render(context.Background(), opts)
	if err != nil {
		t.Fatalf("rendering %s: %v", dir, err)
	}
	return res.Regions
}
