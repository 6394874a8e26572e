package golden_test

import (
	"context"
	"strings"
	"testing"

	"github.com/coderfleet/coderfleet/internal/fleet"
	"github.com/coderfleet/coderfleet/internal/testfleet"
	"github.com/coderfleet/coderfleet/render"
)

// TestComponentDependsOnIsChecked edits the dependsOn a component of the
// repository's templates declares and checks the render refuses it as an
// input error that names the component and the key, from
// components/flux.libsonnet.
func TestComponentDependsOnIsChecked(t *testing.T) {
	const file, decl = "templates/components/litellm.libsonnet", "dependsOn: ['coder', 'secretstores'],"
	for _, tc := range []struct {
		name, replace string
		want          []string
	}{
		{"unknown component", "dependsOn: ['coder', 'litelm'],",
			[]string{`component litellm: key dependsOn names "litelm", which is not a component of region us-east-2 (its components: addons, coder, keysync, litellm, namespaces, provisioners, secretstores)`}},
		{"component of another role", "dependsOn: ['coder-proxy'],",
			[]string{`component litellm: key dependsOn names "coder-proxy", which is not a component of region us-east-2`}},
		{"missing", "", []string{"component litellm: key dependsOn is missing"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files := testfleet.With(testfleet.Fleet(), testfleet.ReadDir(t, testfleet.RepoRoot(t), "templates"))
			if !strings.Contains(files[file], decl) {
				t.Fatalf("%s no longer declares %s; update this test", file, decl)
			}
			files[file] = strings.Replace(files[file], decl, tc.replace, 1)
			fsys, repo := testfleet.MemFS(t, files)
			opts, err := fleet.Prepare(fsys, repo, nil)
			if err != nil {
				t.Fatal(err)
			}
			_, err = render.Render(context.Background(), opts)
			if err == nil {
				t.Fatal("the render accepted it")
			}
			if !render.IsInputError(err) {
				t.Errorf("not an input error (exit 3): %T %v", err, err)
			}
			if testing.Verbose() {
				t.Log(err)
			}
			for _, w := range append(tc.want, "templates/components/flux.libsonnet:") {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}
