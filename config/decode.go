package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/agnivade/levenshtein"
	yaml "go.yaml.in/yaml/v3"
)

// Pos is where a key was written: its file and line.
type Pos struct {
	File string
	Line int
	Col  int
}

// positions maps a key path ("coder.replicas") to where it was written, so
// checks that run after decoding can still point at a line.
type positions map[string]Pos

var yamlNodeType = reflect.TypeOf((*yaml.Node)(nil))

// decoder decodes YAML nodes into Go values strictly: unknown keys,
// duplicate keys, wrong scalar types, aliases and missing required keys are
// all errors naming file, line and key. Struct fields are named by their
// `json` tag (the same names the templates see) and marked required with
// `cf:"required"`.
type decoder struct {
	file  string                // file of nodes not listed in origin
	orig  map[*yaml.Node]string // origin file of nodes merged in from another file
	errs  ErrorList
	pos   positions
	limit int // remaining node budget, a guard against huge documents
}

func newDecoder(file string) *decoder {
	return &decoder{file: file, orig: map[*yaml.Node]string{}, pos: positions{}, limit: 100000}
}

func (d *decoder) fileOf(n *yaml.Node) string {
	if f, ok := d.orig[n]; ok {
		return f
	}
	return d.file
}

func (d *decoder) errorf(n *yaml.Node, key, hint, format string, args ...any) {
	e := &Error{File: d.fileOf(n), Key: key, Msg: fmt.Sprintf(format, args...), Hint: hint}
	if n != nil {
		e.Line, e.Col = n.Line, n.Column
	}
	d.errs = append(d.errs, e)
}

// parseDocument parses one YAML document into its root node, refusing
// anchors and aliases (a billion-laughs bomb is made of them and no
// coderfleet file needs them). An empty document yields a nil node.
func parseDocument(file string, data []byte) (*yaml.Node, error) {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		return nil, yamlSyntaxError(file, err)
	}
	var second yaml.Node
	if err := dec.Decode(&second); err == nil {
		line := 0
		if len(second.Content) > 0 {
			line = second.Content[0].Line
		}
		return nil, &Error{File: file, Line: line, Msg: "a second YAML document in the file",
			Hint: "each coderfleet file holds one document; remove the `---` and what follows, or merge it into the first"}
	} else if !errors.Is(err, io.EOF) {
		return nil, yamlSyntaxError(file, err)
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil, nil
	}
	root := doc.Content[0]
	var bad *yaml.Node
	walk(root, func(n *yaml.Node) bool {
		if bad == nil && (n.Kind == yaml.AliasNode || n.Anchor != "") {
			bad = n
		}
		if bad != nil {
			return false
		}
		return true
	})
	if bad != nil {
		return nil, &Error{File: file, Line: bad.Line, Col: bad.Column, Msg: "YAML anchors and aliases are not supported",
			Hint: "write the value out in full; anchors make a file harder to review and can expand without bound"}
	}
	return root, nil
}

// yamlSyntaxError turns a yaml.v3 parse error ("yaml: line 3: ...") into an
// Error carrying file and line.
func yamlSyntaxError(file string, err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if strings.HasPrefix(msg, "line ") {
		rest := msg[len("line "):]
		if i := strings.Index(rest, ":"); i > 0 {
			if n, convErr := strconv.Atoi(rest[:i]); convErr == nil {
				line = n
				msg = strings.TrimSpace(rest[i+1:])
				// yaml.v3 reports parser errors ("did not find expected
				// ...") with a 0-based line, scanner errors 1-based.
				if strings.HasPrefix(msg, "did not find expected") {
					line++
				}
			}
		}
	}
	return &Error{File: file, Line: line, Msg: "invalid YAML: " + msg, Hint: "check indentation and quoting near this line"}
}

func walk(n *yaml.Node, f func(*yaml.Node) bool) {
	if n == nil || !f(n) {
		return
	}
	for _, c := range n.Content {
		walk(c, f)
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!str":
			return fmt.Sprintf("the string %q", n.Value)
		case "!!int", "!!float":
			return "the number " + n.Value
		case "!!bool":
			return "the boolean " + n.Value
		case "!!null":
			return "null"
		}
		return n.Value
	}
	return "an unsupported value"
}

// decode decodes n into v (an addressable value); path is the key path of n.
func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	d.limit--
	if d.limit < 0 {
		if d.limit == -1 {
			d.errorf(n, path, "split the file or remove repeated content", "document is too large")
		}
		return
	}
	if v.Type() == yamlNodeType {
		v.Set(reflect.ValueOf(n))
		return
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		// An explicit null leaves the value (and its default) alone.
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.decode(n, v.Elem(), path)
	case reflect.Struct:
		d.decodeStruct(n, v, path)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.errorf(n, path, "", "expected a list, got %s", kindName(n))
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, c := range n.Content {
			item := fmt.Sprintf("%s[%d]", path, i)
			d.pos[item] = Pos{File: d.fileOf(c), Line: c.Line, Col: c.Column}
			if df, ok := s.Index(i).Addr().Interface().(defaulter); ok {
				df.SetDefaults()
			}
			d.decode(c, s.Index(i), item)
		}
		v.Set(s)
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			d.errorf(n, path, "", "expected a mapping, got %s", kindName(n))
			return
		}
		if v.Type().Key().Kind() != reflect.String {
			panic("config: map keys must be strings")
		}
		// Keys merge over the entries already there (the defaults).
		m := reflect.MakeMapWithSize(v.Type(), v.Len()+len(n.Content)/2)
		for it := v.MapRange(); it.Next(); {
			m.SetMapIndex(it.Key(), it.Value())
		}
		seen := map[string]*yaml.Node{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			if !d.checkKey(k, seen, path) {
				continue
			}
			elem := reflect.New(v.Type().Elem()).Elem()
			if old := v.MapIndex(reflect.ValueOf(k.Value).Convert(v.Type().Key())); old.IsValid() {
				elem.Set(old)
			} else if elem.Kind() == reflect.Pointer {
				elem.Set(reflect.New(elem.Type().Elem()))
				if df, ok := elem.Interface().(defaulter); ok {
					df.SetDefaults()
				}
			}
			d.decode(val, elem, join(path, k.Value))
			m.SetMapIndex(reflect.ValueOf(k.Value).Convert(v.Type().Key()), elem)
		}
		v.Set(m)
	case reflect.Interface:
		val, ok := d.generic(n, path)
		if ok && val != nil {
			v.Set(reflect.ValueOf(val))
		}
	case reflect.String:
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
			hint := ""
			if n.Kind == yaml.ScalarNode {
				hint = fmt.Sprintf("quote it: \"%s\"", n.Value)
			}
			d.errorf(n, path, hint, "expected a string, got %s", kindName(n))
			return
		}
		v.SetString(n.Value)
	case reflect.Int, reflect.Int32, reflect.Int64:
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" {
			d.errorf(n, path, "", "expected an integer, got %s", kindName(n))
			return
		}
		i, err := strconv.ParseInt(n.Value, 0, 64)
		if err != nil || v.OverflowInt(i) {
			d.errorf(n, path, "", "integer %s is out of range", n.Value)
			return
		}
		v.SetInt(i)
	case reflect.Bool:
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" {
			d.errorf(n, path, "write true or false", "expected a boolean, got %s", kindName(n))
			return
		}
		v.SetBool(n.Value == "true" || n.Value == "True" || n.Value == "TRUE")
	default:
		panic(fmt.Sprintf("config: unsupported field type %s", v.Type()))
	}
}

// checkKey validates a mapping key: a plain string, not seen before.
func (d *decoder) checkKey(k *yaml.Node, seen map[string]*yaml.Node, path string) bool {
	if k.Kind != yaml.ScalarNode || k.ShortTag() != "!!str" {
		d.errorf(k, path, "keys are plain strings", "invalid key %s", kindName(k))
		return false
	}
	if prev, dup := seen[k.Value]; dup {
		d.errorf(k, join(path, k.Value), fmt.Sprintf("remove one of the two; the first is at line %d", prev.Line),
			"duplicate key")
		return false
	}
	seen[k.Value] = k
	d.pos[join(path, k.Value)] = Pos{File: d.fileOf(k), Line: k.Line, Col: k.Column}
	return true
}

type fieldInfo struct {
	index    []int
	required bool
}

// structFields lists the keys of a struct type by their json names,
// flattening embedded structs as encoding/json does.
func structFields(t reflect.Type) (map[string]fieldInfo, []string) {
	fields := map[string]fieldInfo{}
	var names []string
	var collect func(t reflect.Type, prefix []int)
	collect = func(t reflect.Type, prefix []int) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			index := append(append([]int{}, prefix...), i)
			if f.Anonymous && f.Type.Kind() == reflect.Struct {
				collect(f.Type, index)
				continue
			}
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" || !f.IsExported() {
				continue
			}
			if name == "" {
				name = f.Name
			}
			fields[name] = fieldInfo{index: index, required: f.Tag.Get("cf") == "required"}
			names = append(names, name)
		}
	}
	collect(t, nil)
	sort.Strings(names)
	return fields, names
}

// defaulter is implemented by list items and map elements that have
// defaults of their own (for a map, when the key is not a built-in entry).
type defaulter interface{ SetDefaults() }

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, path, "", "expected a mapping, got %s", kindName(n))
		return
	}
	fields, names := structFields(v.Type())
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if !d.checkKey(k, seen, path) {
			continue
		}
		fi, ok := fields[k.Value]
		if !ok {
			d.errorf(k, join(path, k.Value), unknownKeyHint(k.Value, names), "unknown key")
			continue
		}
		d.decode(val, v.FieldByIndex(fi.index), join(path, k.Value))
	}
	for _, name := range names {
		if fields[name].required && seen[name] == nil {
			d.errorf(n, join(path, name), "add it; see overlays/README.md for what it means", "missing required key")
		}
	}
}

// generic converts free-form YAML (Helm values, model lists) into JSON-ready
// Go values: maps with string keys, lists and typed scalars.
func (d *decoder) generic(n *yaml.Node, path string) (any, bool) {
	d.limit--
	switch n.Kind {
	case yaml.MappingNode:
		m := map[string]any{}
		seen := map[string]*yaml.Node{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if !d.checkKey(k, seen, path) {
				continue
			}
			if val, ok := d.generic(n.Content[i+1], join(path, k.Value)); ok {
				m[k.Value] = val
			}
		}
		return m, true
	case yaml.SequenceNode:
		l := make([]any, 0, len(n.Content))
		for i, c := range n.Content {
			if val, ok := d.generic(c, fmt.Sprintf("%s[%d]", path, i)); ok {
				l = append(l, val)
			}
		}
		return l, true
	case yaml.ScalarNode:
		var val any
		if err := n.Decode(&val); err != nil {
			d.errorf(n, path, "", "invalid value: %v", err)
			return nil, false
		}
		return val, true
	}
	d.errorf(n, path, "", "unsupported value")
	return nil, false
}

// unknownKeyHint suggests the closest valid key, or lists them all.
func unknownKeyHint(key string, valid []string) string {
	best, bestDist := "", len(key)/2+2
	for _, v := range valid {
		if dist := levenshtein.ComputeDistance(strings.ToLower(key), strings.ToLower(v)); dist < bestDist {
			best, bestDist = v, dist
		}
	}
	if best != "" {
		return fmt.Sprintf("did you mean %q?", best)
	}
	return "valid keys here: " + strings.Join(valid, ", ")
}

// mergeInto deep-merges the mapping src over dst (both mapping nodes):
// mappings merge key by key, anything else replaces. Nodes taken from src
// are recorded as coming from srcFile so errors point at the right file.
func (d *decoder) mergeInto(dst, src *yaml.Node, srcFile string) {
	for i := 0; i+1 < len(src.Content); i += 2 {
		k, v := src.Content[i], src.Content[i+1]
		replaced := false
		for j := 0; j+1 < len(dst.Content); j += 2 {
			if dst.Content[j].Value != k.Value {
				continue
			}
			if v.Kind == yaml.MappingNode && dst.Content[j+1].Kind == yaml.MappingNode {
				d.mergeInto(dst.Content[j+1], v, srcFile)
			} else {
				dst.Content[j], dst.Content[j+1] = k, v
				d.markOrigin(k, srcFile)
				d.markOrigin(v, srcFile)
			}
			replaced = true
			break
		}
		if !replaced {
			dst.Content = append(dst.Content, k, v)
			d.markOrigin(k, srcFile)
			d.markOrigin(v, srcFile)
		}
	}
}

func (d *decoder) markOrigin(n *yaml.Node, file string) {
	walk(n, func(c *yaml.Node) bool {
		d.orig[c] = file
		return true
	})
}

// cloneNode deep-copies a node tree so merges never alter the original.
func cloneNode(n *yaml.Node) *yaml.Node {
	if n == nil {
		return nil
	}
	c := *n
	c.Content = make([]*yaml.Node, len(n.Content))
	for i, x := range n.Content {
		c.Content[i] = cloneNode(x)
	}
	return &c
}
