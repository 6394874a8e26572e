package reviewdiff

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"sort"
	"strings"

	"github.com/pmezard/go-difflib/difflib"
	yaml "go.yaml.in/yaml/v3"

	"github.com/coderfleet/coderfleet/render"
)

// Diff compares the rendered regions of base with those of head (both keyed
// by region name) and reports what a reviewer needs to see. It never
// fails: a file that cannot be read as YAML is compared as text.
func Diff(base, head map[string]render.Tree) *Report {
	rep := &Report{Regions: []Region{}}
	for _, name := range unionKeys(base, head) {
		b, inBase := base[name]
		h, inHead := head[name]
		reg := Region{Name: name, Change: Changed}
		switch {
		case !inBase:
			reg.Change = Added
		case !inHead:
			reg.Change = Removed
		}
		diffRegion(&reg, b, h)
		if reg.Change != Changed || len(reg.Components)+len(reg.AWS)+len(reg.Files) > 0 {
			rep.Regions = append(rep.Regions, reg)
		}
	}
	return rep
}

// diffRegion fills reg with the differences between two trees of a region
// (either may be nil).
func diffRegion(reg *Region, base, head render.Tree) {
	// Sort every file into objects by component, AWS files, and others.
	type side struct {
		objects map[string]map[string]object // component -> key -> object
		aws     map[string][]byte
		files   map[string][]byte
	}
	split := func(t render.Tree) side {
		s := side{objects: map[string]map[string]object{}, aws: map[string][]byte{}, files: map[string][]byte{}}
		for _, p := range t.Paths() {
			data := t[p]
			comp, _, nested := strings.Cut(p, "/")
			switch {
			case !nested:
				s.files[p] = data
			case comp == render.AWSDir:
				s.aws[p] = data
			default:
				objs, ok := parseObjects(p, data)
				if !ok {
					s.files[p] = data
					continue
				}
				if s.objects[comp] == nil {
					s.objects[comp] = map[string]object{}
				}
				for _, o := range objs {
					k := o.key()
					if _, dup := s.objects[comp][k]; dup {
						k += "@" + o.path // the same object twice: keep both
					}
					s.objects[comp][k] = o
				}
			}
		}
		return s
	}
	b, h := split(base), split(head)

	for _, comp := range unionKeys(b.objects, h.objects) {
		bo, inBase := b.objects[comp]
		ho, inHead := h.objects[comp]
		c := Component{Name: comp, Change: Changed}
		switch {
		case !inBase:
			c.Change = Added
		case !inHead:
			c.Change = Removed
		}
		for _, k := range unionKeys(bo, ho) {
			if o, ok := diffObject(bo[k], ho[k]); ok {
				c.Objects = append(c.Objects, o)
			}
		}
		if len(c.Objects) > 0 {
			sort.SliceStable(c.Objects, func(i, j int) bool { return c.Objects[i].less(c.Objects[j]) })
			reg.Components = append(reg.Components, c)
		}
	}

	reg.AWS, reg.Files = diffAWS(b.aws, h.aws)
	for _, p := range unionKeys(b.files, h.files) {
		if p == render.MarkerFile && reg.Change != Changed {
			continue // a new or gone region obviously gains or loses its marker
		}
		bd, inBase := b.files[p]
		hd, inHead := h.files[p]
		if f, ok := diffFile(p, bd, inBase, hd, inHead); ok {
			reg.Files = append(reg.Files, f)
		}
	}
	sort.SliceStable(reg.Files, func(i, j int) bool { return reg.Files[i].Path < reg.Files[j].Path })
}

// object is one parsed Kubernetes object.
type object struct {
	apiVersion, group, kind, namespace, name string
	path                                     string
	raw                                      []byte
	value                                    any
}

func (o object) key() string {
	k := o.group + "/" + o.kind + "/" + o.namespace + "/" + o.name
	if o.name == "" {
		k += "@" + o.path
	}
	return k
}

func (o Object) less(p Object) bool {
	if o.Kind != p.Kind {
		return o.Kind < p.Kind
	}
	if o.Namespace != p.Namespace {
		return o.Namespace < p.Namespace
	}
	if o.Name != p.Name {
		return o.Name < p.Name
	}
	if o.Group != p.Group {
		return o.Group < p.Group
	}
	return o.Path < p.Path
}

// parseObjects reads every document of a YAML file as a Kubernetes object;
// ok is false when the file is not YAML or a document has no kind.
func parseObjects(path string, data []byte) ([]object, bool) {
	docs, err := decodeAll(data)
	if err != nil || len(docs) == 0 {
		return nil, false
	}
	var out []object
	for _, d := range docs {
		m, ok := d.(map[string]any)
		if !ok {
			return nil, false
		}
		apiVersion, _ := m["apiVersion"].(string)
		kind, _ := m["kind"].(string)
		if apiVersion == "" || kind == "" {
			return nil, false
		}
		o := object{apiVersion: apiVersion, kind: kind, path: path, raw: data, value: m}
		if g, _, ok := strings.Cut(apiVersion, "/"); ok {
			o.group = g
		}
		if md, ok := m["metadata"].(map[string]any); ok {
			o.name, _ = md["name"].(string)
			o.namespace, _ = md["namespace"].(string)
		}
		out = append(out, o)
	}
	return out, true
}

// diffObject compares two versions of an object (zero values when absent).
func diffObject(b, h object) (Object, bool) {
	o := Object{Change: Changed}
	src := h
	switch {
	case b.kind == "":
		o.Change = Added
	case h.kind == "":
		o.Change, src = Removed, b
	}
	o.APIVersion, o.Group, o.Kind, o.Namespace, o.Name, o.Path = src.apiVersion, src.group, src.kind, src.namespace, src.name, src.path
	if o.Change != Changed {
		return o, true
	}
	if reflect.DeepEqual(b.value, h.value) {
		// Equal values: a change only when the object's own file (holding
		// nothing else) differs in comments or formatting. A move to
		// another file, or a change to another document of the same
		// file, is not a change of this object.
		formatting := b.path == h.path && !bytes.Equal(b.raw, h.raw) && singleDoc(b.raw) && singleDoc(h.raw)
		return o, formatting
	}
	diffValue("", b.value, h.value, &o.Fields)
	return o, true
}

func singleDoc(data []byte) bool {
	docs, err := decodeAll(data)
	return err == nil && len(docs) == 1
}

// diffFile compares a file as a whole.
func diffFile(path string, b []byte, inBase bool, h []byte, inHead bool) (File, bool) {
	f := File{Path: path, Change: Changed}
	switch {
	case !inBase:
		f.Change = Added
		return f, true
	case !inHead:
		f.Change = Removed
		return f, true
	case bytes.Equal(b, h):
		return f, false
	}
	bv, errB := decodeAll(b)
	hv, errH := decodeAll(h)
	if errB == nil && errH == nil && !reflect.DeepEqual(bv, hv) {
		var bs, hs any = bv, hv
		if len(bv) == 1 && len(hv) == 1 {
			bs, hs = bv[0], hv[0]
		}
		diffValue("", bs, hs, &f.Fields)
		return f, true
	}
	f.Text = unifiedDiff(path, b, h)
	return f, true
}

// unifiedDiff is a unified diff of two texts, base -> head.
func unifiedDiff(name string, b, h []byte) string {
	d, err := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A: difflib.SplitLines(string(b)), B: difflib.SplitLines(string(h)),
		FromFile: "base/" + name, ToFile: "head/" + name, Context: 2,
	})
	if err != nil {
		return err.Error()
	}
	return d
}

// decodeAll decodes every non-empty document of a YAML stream into plain
// values (maps with string keys, slices, scalars).
func decodeAll(data []byte) ([]any, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var out []any
	for {
		var v any
		err := dec.Decode(&v)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if v != nil {
			out = append(out, normalize(v))
		}
	}
}

// normalize turns maps with non-string keys into maps with string keys, so
// values compare, print and encode to JSON alike.
func normalize(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			t[k] = normalize(e)
		}
		return t
	case map[any]any:
		m := make(map[string]any, len(t))
		for k, e := range t {
			m[scalarString(k)] = normalize(e)
		}
		return m
	case []any:
		for i, e := range t {
			t[i] = normalize(e)
		}
		return t
	case float64:
		if t != t || t > 1e308 || t < -1e308 { // NaN, ±Inf: JSON cannot hold them
			return scalarString(t)
		}
		return t
	default:
		return v
	}
}

func unionKeys[V any](a, b map[string]V) []string {
	seen := map[string]bool{}
	for k := range a {
		seen[k] = true
	}
	for k := range b {
		seen[k] = true
	}
	out := make([]string, 0, len(seen))
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func sortedKeys[V any](m map[string]V) []string { return unionKeys(m, nil) }
