package synth

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// Write writes files (as Fleet returns them) under dir in fsys, creating
// folders as needed, in sorted order.
func Write(fsys filesys.FileSystem, dir string, files map[string][]byte) error {
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := fsys.MkdirAll(filepath.Dir(full)); err != nil {
			return fmt.Errorf("creating %q: %w", filepath.Dir(full), err)
		}
		if err := fsys.WriteFile(full, files[p]); err != nil {
			return fmt.Errorf("writing %q: %w", full, err)
		}
	}
	return nil
}

// Generate writes a synthetic fleet of n regions into the folder dst on
// disk, made from the example repository at src (a coderfleet checkout).
// dst gets overlays/ and templates/ and no regions/. It is the on-disk edge
// of Fleet and Write.
func Generate(dst, src string, n int) error {
	files, err := Fleet(os.DirFS(src), n)
	if err != nil {
		return err
	}
	return Write(filesys.MakeFsOnDisk(), dst, files)
}
