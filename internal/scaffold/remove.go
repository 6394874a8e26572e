package scaffold

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/agnivade/levenshtein"
	yaml "go.yaml.in/yaml/v3"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/coderfleet/coderfleet/config"
)

// Removed is what RemoveRegion deleted.
type Removed struct {
	// Dir is the removed overlay folder, relative to the repository
	// ("overlays/<name>").
	Dir string
	// Name, AWSRegion and ClusterName are the removed region's, as its
	// region.yaml wrote them (empty when it did not).
	Name, AWSRegion, ClusterName string
}

// RemoveRegion deletes overlays/<name>/ of the fleet at repo (inside fsys)
// after checking that nothing else depends on it. A name that is no
// region folder is a *RequestError (with the nearest name); the primary,
// or a region another YAML file under overlays/ mentions (fleet.yaml,
// another region's region.yaml or kustomization patches), is a
// *config.Error at the file, line and key that refers to it. Nothing is
// removed when it fails.
func RemoveRegion(fsys filesys.FileSystem, repo, name string) (*Removed, error) {
	existing, err := readRegions(fsys, repo)
	if err != nil {
		return nil, err
	}
	var target *existingRegion
	var names []string
	for i, r := range existing {
		names = append(names, r.folder)
		if r.folder == name {
			target = &existing[i]
		}
	}
	if target == nil {
		return nil, &RequestError{Flag: "NAME", Msg: fmt.Sprintf("no region %q: there is no folder %s (regions of this fleet: %s)", name, path.Join(config.OverlaysDir, name), strings.Join(names, ", ")),
			Hint: nearestName(name, names)}
	}
	dir := path.Join(config.OverlaysDir, name)
	if target.Role == config.RolePrimary {
		file := path.Join(dir, config.RegionFile)
		line := 0
		_ = forEachMention(fsys, filepath.Join(repo, filepath.FromSlash(file)), regexp.MustCompile(`^`+config.RolePrimary+`$`), func(key string, l int) {
			if key == "role" {
				line = l
			}
		})
		return nil, &config.Error{File: file, Line: line, Key: "role", Msg: fmt.Sprintf("region %q is the fleet's primary: coderd runs there and every proxy connects to it", name),
			Hint: "make another region role: primary and this one role: proxy, render and let Flux move coderd, then remove it"}
	}
	mention := regexp.MustCompile(`(?:^|[^a-z0-9-])` + regexp.QuoteMeta(name) + `(?:$|[^a-z0-9-])`)
	var refs []*config.Error
	root := filepath.Join(repo, config.OverlaysDir)
	err = fsys.Walk(root, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(repo, p)
		rel = filepath.ToSlash(rel)
		if info.IsDir() {
			if rel == dir {
				return filepath.SkipDir
			}
			return nil
		}
		if ext := path.Ext(rel); ext != ".yaml" && ext != ".yml" {
			return nil // documentation; only YAML reaches the render
		}
		return forEachMention(fsys, p, mention, func(key string, line int) {
			refs = append(refs, &config.Error{File: rel, Line: line, Key: key,
				Msg:  fmt.Sprintf("refers to region %q, which region remove would delete", name),
				Hint: "remove or change this reference first, then run region remove again"})
		})
	})
	if err != nil {
		return nil, fmt.Errorf("reading %q: %w", config.OverlaysDir, err)
	}
	if len(refs) == 1 {
		return nil, refs[0]
	}
	if len(refs) > 1 {
		return nil, config.ErrorList(refs)
	}
	if err := fsys.RemoveAll(filepath.Join(repo, filepath.FromSlash(dir))); err != nil {
		return nil, fmt.Errorf("removing %q: %w", dir, err)
	}
	return &Removed{Dir: dir, Name: name, AWSRegion: target.AWSRegion, ClusterName: target.ClusterName}, nil
}

// forEachMention calls f with the dotted key path and line of every key or
// scalar value of the YAML file p (every document) that re matches. A file
// that is not YAML is searched line by line, without a key. A file the
// repository's filesystem refuses (a link leaving it) is that *config.Error;
// a file that cannot be read otherwise is skipped.
func forEachMention(fsys filesys.FileSystem, p string, re *regexp.Regexp, f func(key string, line int)) error {
	data, err := fsys.ReadFile(p)
	if err != nil {
		if config.IsInputError(err) {
			return err
		}
		return nil
	}
	var docs []*yaml.Node
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	for {
		var n yaml.Node
		if dec.Decode(&n) != nil {
			break
		}
		docs = append(docs, &n)
	}
	if len(docs) == 0 {
		for i, l := range strings.Split(string(data), "\n") {
			if re.MatchString(l) {
				f("", i+1)
			}
		}
		return nil
	}
	var walk func(n *yaml.Node, key string)
	walk = func(n *yaml.Node, key string) {
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				walk(c, key)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k := n.Content[i]
				sub := k.Value
				if key != "" {
					sub = key + "." + k.Value
				}
				if re.MatchString(k.Value) {
					f(sub, k.Line)
				}
				walk(n.Content[i+1], sub)
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				walk(c, fmt.Sprintf("%s[%d]", key, i))
			}
		case yaml.ScalarNode:
			// The line of the match, also inside a multi-line value such
			// as an inline kustomize patch.
			for i, l := range strings.Split(n.Value, "\n") {
				if !re.MatchString(l) {
					continue
				}
				line := n.Line + i
				if n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
					line++ // the value starts below its | or > indicator
				}
				f(key, line)
			}
		}
	}
	for _, d := range docs {
		walk(d, "")
	}
	return nil
}

// nearestName suggests the name of names closest to name.
func nearestName(name string, names []string) string {
	best, bestDist := "", len(name)/2+2
	for _, n := range names {
		if d := levenshtein.ComputeDistance(name, n); d < bestDist {
			best, bestDist = n, d
		}
	}
	if best == "" {
		return "name a folder under overlays/ (coderfleet region list shows them)"
	}
	return fmt.Sprintf("did you mean %q?", best)
}
