package bench_test

import (
	"context"
	"fmt"
	"os"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/coderfleet/coderfleet/internal/fleet"
	"github.com/coderfleet/coderfleet/internal/synth"
	"github.com/coderfleet/coderfleet/internal/testfleet"
	"github.com/coderfleet/coderfleet/render"
)

// Sizes are the fleet sizes the benchmarks and `make bench` measure.
var sizes = []int{1, 10, 100}

// renderCold renders the fleet at dir in fsys as every CLI render does
// (fleet.Prepare: vendored charts checked, helmTemplate offered), with no
// previous render to skip regions against.
func renderCold(fsys filesys.FileSystem, dir string) (*render.Result, error) {
	opts, err := fleet.Prepare(fsys, dir, nil)
	if err != nil {
		return nil, err
	}
	return render.Render(context.Background(), opts)
}

// BenchmarkRender measures a cold render.Render of a synthetic fleet: the
// fleet lives in an in-memory filesystem without regions/, so every
// iteration loads the configuration and evaluates every region.
func BenchmarkRender(b *testing.B) {
	src := os.DirFS(testfleet.RepoRoot(b))
	for _, n := range sizes {
		b.Run(fmt.Sprintf("regions=%d", n), func(b *testing.B) {
			files, err := synth.Fleet(src, n)
			if err != nil {
				b.Fatal(err)
			}
			fsys := filesys.MakeFsInMemory()
			if err := synth.Write(fsys, "/repo", files); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				res, err := renderCold(fsys, "/repo")
				if err != nil {
					b.Fatal(err)
				}
				if len(res.Regions) != n {
					b.Fatalf("rendered %d regions, want %d", len(res.Regions), n)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n)/1e6, "ms/region")
		})
	}
}

// BenchmarkRenderExample measures a cold render of the example fleet
// (overlays/ and templates/ of the repository, 3 regions).
func BenchmarkRenderExample(b *testing.B) {
	root := testfleet.RepoRoot(b)
	files := map[string][]byte{}
	for _, dir := range []string{"overlays", "templates"} {
		for p, data := range testfleet.ReadDir(b, root, dir) {
			files[p] = []byte(data)
		}
	}
	fsys := filesys.MakeFsInMemory()
	if err := synth.Write(fsys, "/repo", files); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := renderCold(fsys, "/repo"); err != nil {
			b.Fatal(err)
		}
	}
}
