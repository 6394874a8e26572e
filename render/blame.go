package render

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path"
	"path/filepath"
	"strings"

	"github.com/coderfleet/coderfleet/config"
)

// blamer finds the input file (and line) behind a problem in a rendered
// object, so an error names what the user must edit: a value written in
// fleet.yaml or a region's files, a patch of the region's overlay, or a
// template.
type blamer struct {
	opts    Options
	ev      *evaluator
	region  *config.RegionConfig
	changed map[string]bool // refs of objects the overlay added or changed
}

// before records the objects as the templates made them; after marks those
// the overlay added or changed.
func overlayChanges(before, after []map[string]any) map[string]bool {
	pre := map[string][]byte{}
	for _, m := range before {
		j, _ := json.Marshal(m)
		pre[ref(m)] = j
	}
	changed := map[string]bool{}
	for _, m := range after {
		j, _ := json.Marshal(m)
		if old, ok := pre[ref(m)]; !ok || !bytes.Equal(old, j) {
			changed[ref(m)] = true
		}
	}
	return changed
}

// valueAt returns the value at a field path of an object.
func valueAt(m map[string]any, field string) (any, bool) {
	var cur any = m
	for _, seg := range splitField(field) {
		key := strings.TrimSuffix(strings.TrimPrefix(seg, "["), "]")
		switch c := cur.(type) {
		case map[string]any:
			if uq, err := unquote(key); err == nil {
				key = uq
			}
			v, ok := c[key]
			if !ok {
				return nil, false
			}
			cur = v
		case []any:
			found := false
			for _, item := range c {
				if im, ok := item.(map[string]any); ok && im["name"] == key {
					cur, found = item, true
					break
				}
			}
			if !found {
				var i int
				if _, err := fmt.Sscanf(key, "%d", &i); err != nil || i < 0 || i >= len(c) {
					return nil, false
				}
				cur = c[i]
			}
		default:
			return nil, false
		}
	}
	return cur, true
}

func unquote(s string) (string, error) {
	var out string
	err := json.Unmarshal([]byte(s), &out)
	return out, err
}

// candidates lists the files to search, most specific first.
func (b *blamer) candidates(object string) []string {
	var files []string
	dir := filepath.Join(b.opts.Repo, filepath.FromSlash(b.region.Dir))
	if b.changed[object] {
		if list, err := listFiles(b.opts.FS, dir); err == nil {
			for _, f := range list {
				if !overlayInputs[f] {
					files = append(files, path.Join(b.region.Dir, f))
				}
			}
		}
	}
	files = append(files, path.Join(b.region.Dir, config.RegionFile), config.FleetFile)
	if deps, err := b.ev.dependencies(); err == nil {
		files = append(files, deps...)
	}
	// Last, the templates of vendored Helm charts: a value no input file
	// holds may come from a chart.
	charts := path.Join(TemplatesDir, "charts")
	if list, err := listFiles(b.opts.FS, filepath.Join(b.opts.Repo, filepath.FromSlash(charts))); err == nil {
		for _, f := range list {
			if strings.Contains("/"+f, "/templates/") {
				files = append(files, path.Join(charts, f))
			}
		}
	}
	return files
}

// find returns the first file and line holding needle.
func (b *blamer) find(files []string, needle string) (string, int) {
	for _, f := range files {
		data, err := b.opts.FS.ReadFile(filepath.Join(b.opts.Repo, filepath.FromSlash(f)))
		if err != nil {
			continue
		}
		for i, line := range strings.Split(string(data), "\n") {
			if strings.Contains(line, needle) {
				return f, i + 1
			}
		}
	}
	return "", 0
}

// blame places e (a problem with an object) at the input behind it.
// locate, when set, is the text inside the field's value to search for
// first (the part of a multi-line value the problem is about).
func (b *blamer) blame(e *Error, obj map[string]any, locate string) {
	files := b.candidates(e.Object)
	var needles []string
	if first, _, _ := strings.Cut(locate, "\n"); len(strings.TrimSpace(first)) >= 4 {
		needles = append(needles, first)
	}
	if v, ok := valueAt(obj, e.Field); ok {
		switch x := v.(type) {
		case string:
			first, _, _ := strings.Cut(x, "\n")
			if len(strings.TrimSpace(first)) >= 4 && first != locate {
				needles = append(needles, first)
			}
		}
	}
	// An unknown field has no value worth searching for, but its key was
	// written somewhere; other keys (image:, resources:) are too common to
	// search for.
	if segs := splitField(e.Field); len(segs) > 0 && strings.HasPrefix(e.Msg, "unknown field") {
		last := segs[len(segs)-1]
		if !strings.HasPrefix(last, "[") && len(last) >= 3 {
			needles = append(needles, last+":")
		}
	}
	for _, n := range needles {
		if f, line := b.find(files, n); f != "" {
			e.File, e.Line = f, line
			return
		}
	}
	if b.changed[e.Object] {
		e.File, e.Line = path.Join(b.region.Dir, KustomizationFile), 0
		return
	}
	e.File, e.Line = EntryPoint, 0
}

// blameObject places an error about a whole object: at the overlay when
// the overlay added or changed it, else at the templates.
func (b *blamer) blameObject(e *Error) {
	if b.changed[e.Object] {
		e.File = path.Join(b.region.Dir, KustomizationFile)
		return
	}
	e.File = EntryPoint
}
