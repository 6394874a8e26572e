package render

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"path/filepath"
	"sort"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/coderfleet/coderfleet/config"
)

// Marker is the ownership record at regions/<region>/.coderfleet.yaml: it
// says the folder is coderfleet's. It holds nothing that changes with the
// inputs, so a pull request's diff shows only objects that really changed.
type Marker struct {
	Generator string `json:"generator"`
	Region    string `json:"region"`
	Version   string `json:"version"`
}

// Digest records what a region folder was rendered from and what it holds;
// the CLI keeps it outside the committed tree to make the next render
// incremental.
type Digest struct {
	Inputs  string `json:"inputs"`
	Outputs string `json:"outputs"`
}

const markerHeader = "# This folder is owned by coderfleet: `coderfleet render` replaces it whole.\n# Edit overlays/ or templates/ instead.\n"

// Bytes serialises the marker.
func (m Marker) Bytes() []byte {
	m.Generator = "coderfleet"
	y, err := yaml.Marshal(m)
	if err != nil {
		panic(err) // a struct of strings always marshals
	}
	return append([]byte(markerHeader), y...)
}

// ParseMarker reads a marker file.
func ParseMarker(data []byte) (Marker, error) {
	var m Marker
	if err := yaml.UnmarshalStrict(data, &m); err != nil {
		return m, fmt.Errorf("invalid %s: %w", MarkerFile, err)
	}
	if m.Generator != "coderfleet" {
		return m, fmt.Errorf("invalid %s: generator is %q", MarkerFile, m.Generator)
	}
	return m, nil
}

// OutputsDigest hashes every file of a region tree.
func OutputsDigest(t Tree) string {
	h := sha256.New()
	for _, p := range t.Paths() {
		writeEntry(h, p, t[p])
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

func writeEntry(h hash.Hash, name string, data []byte) {
	fmt.Fprintf(h, "%s\x00%d\x00", name, len(data))
	h.Write(data)
}

// inputsDigest hashes everything a region's output depends on: coderfleet's
// version, the template input (the region's effective configuration and
// the fleet's regions), the template files the entry point imports, the
// region's overlay folder, and Options.ExtraDigest.
func inputsDigest(opts Options, imp *importer, deps []string, r *config.RegionConfig, input []byte) (string, error) {
	h := sha256.New()
	writeEntry(h, "version", []byte(opts.Version))
	writeEntry(h, "extra", []byte(opts.ExtraDigest))
	writeEntry(h, "input", input)
	for _, d := range deps {
		f := imp.read(d)
		if f.err != nil {
			return "", nil // evaluation will report it
		}
		writeEntry(h, d, f.data)
	}
	files, err := listFiles(opts.FS, filepath.Join(opts.Repo, filepath.FromSlash(r.Dir)))
	if err != nil {
		return "", fmt.Errorf("region %s: listing %q: %w", r.Region.Name, r.Dir, err)
	}
	for _, f := range files {
		data, err := opts.FS.ReadFile(filepath.Join(opts.Repo, filepath.FromSlash(r.Dir), filepath.FromSlash(f)))
		if err != nil {
			return "", fmt.Errorf("region %s: reading %q: %w", r.Region.Name, r.Dir+"/"+f, err)
		}
		writeEntry(h, r.Dir+"/"+f, data)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

// listFiles lists the files under dir, slash-separated and sorted.
func listFiles(fs filesys.FileSystem, dir string) ([]string, error) {
	var out []string
	var walk func(rel string) error
	walk = func(rel string) error {
		entries, err := fs.ReadDir(filepath.Join(dir, filepath.FromSlash(rel)))
		if err != nil {
			return err
		}
		for _, e := range entries {
			p := strings.TrimPrefix(rel+"/"+e, "/")
			if fs.IsDir(filepath.Join(dir, filepath.FromSlash(p))) {
				if err := walk(p); err != nil {
					return err
				}
				continue
			}
			out = append(out, p)
		}
		return nil
	}
	if err := walk(""); err != nil {
		return nil, err
	}
	sort.Strings(out)
	return out, nil
}
