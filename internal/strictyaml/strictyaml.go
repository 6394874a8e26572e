// Package strictyaml decodes coderfleet's own YAML files (overlays/*.yaml,
// the AWS desired state under regions/<region>/aws/ and outputs.yaml) into
// Go values strictly, with one set of rules and one set of messages: unknown
// keys, duplicate keys, wrong scalar types, missing required keys, anchors
// and aliases, a second document and oversized documents are all
// diag.Error values naming file, line, column and key path, with a hint.
//
// Struct fields are named by a struct tag (TagKey, "json" unless set) and
// marked required with `cf:"required"`. Decoding records where every key
// was written (Pos) and the value node behind every key path (Nodes), so
// checks that run after decoding still point at a line.
package strictyaml

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

	"github.com/coderfleet/coderfleet/internal/diag"
)

// Pos is where a key was written: its file, line and column (1-based).
type Pos struct {
	File string
	Line int
	Col  int
}

// Positions maps a key path ("coder.replicas", "records[2].alias") to where
// it was written.
type Positions map[string]Pos

// Defaulter is implemented by list items and map elements that have
// defaults of their own (for a map, when the key is not an entry already
// there); SetDefaults runs before the item is decoded.
type Defaulter interface{ SetDefaults() }

// maxNodes bounds the nodes decoded from one document, a guard against
// huge documents.
const maxNodes = 100000

var yamlNodeType = reflect.TypeOf((*yaml.Node)(nil))

// Decoder decodes YAML nodes into Go values, collecting every problem.
// Set its options before the first Decode.
type Decoder struct {
	// TagKey is the struct tag that names fields ("json" when empty).
	TagKey string
	// BareKeys prints key paths as `k: ` rather than `key "k": ` (see
	// diag.Error.BareKey).
	BareKeys bool
	// MissingKeyHint is the hint of a missing required key (default: see
	// overlays/README.md).
	MissingKeyHint string
	// Errs are the problems found, in the order found.
	Errs diag.List
	// Pos is where each key path was written; an item of a list is placed
	// at the item.
	Pos Positions
	// Nodes is the value node of each key path.
	Nodes map[string]*yaml.Node

	file  string                // file of nodes not listed in orig
	orig  map[*yaml.Node]string // origin file of nodes merged in from another file
	limit int                   // remaining node budget
}

// NewDecoder returns a Decoder whose problems name file.
func NewDecoder(file string) *Decoder {
	return &Decoder{file: file, orig: map[*yaml.Node]string{}, Pos: Positions{}, Nodes: map[string]*yaml.Node{}, limit: maxNodes}
}

// FileOf returns the file node n was read from.
func (d *Decoder) FileOf(n *yaml.Node) string {
	if f, ok := d.orig[n]; ok {
		return f
	}
	return d.file
}

// Fail records a problem at node n (nil: the file without a line) and key
// path key.
func (d *Decoder) Fail(n *yaml.Node, key string, e *diag.Error) {
	e.File, e.Key, e.BareKey = d.FileOf(n), key, d.BareKeys && key != ""
	if n != nil {
		e.Line, e.Col = n.Line, n.Column
	}
	d.Errs = append(d.Errs, e)
}

// Errorf records a problem at node n and key path key with a hint.
func (d *Decoder) Errorf(n *yaml.Node, key, hint, format string, args ...any) {
	d.Fail(n, key, &diag.Error{Msg: fmt.Sprintf(format, args...), Hint: hint})
}

// Parse parses one YAML document into its root node, refusing a second
// document and anchors and aliases (a billion-laughs bomb is made of them
// and no coderfleet file needs them). An empty document, or one that is only
// null, yields a nil node.
// Errors are *diag.Error values naming file and line.
func Parse(file string, data []byte) (*yaml.Node, error) {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		return nil, syntaxError(file, err)
	}
	var second yaml.Node
	if err := dec.Decode(&second); err == nil {
		line := 0
		if len(second.Content) > 0 {
			line = second.Content[0].Line
		}
		return nil, &diag.Error{File: file, Line: line, Msg: "a second YAML document in the file",
			Hint: "each coderfleet file holds one document; remove the `---` and what follows, or merge it into the first"}
	} else if !errors.Is(err, io.EOF) {
		return nil, syntaxError(file, err)
	}
	if doc.Kind == 0 || len(doc.Content) == 0 || IsNull(doc.Content[0]) {
		return nil, nil
	}
	root := doc.Content[0]
	var bad *yaml.Node
	Walk(root, func(n *yaml.Node) bool {
		if bad == nil && (n.Kind == yaml.AliasNode || n.Anchor != "") {
			bad = n
		}
		return bad == nil
	})
	if bad != nil {
		return nil, &diag.Error{File: file, Line: bad.Line, Col: bad.Column, Msg: "YAML anchors and aliases are not supported",
			Hint: "write the value out in full; anchors make a file harder to review and can expand without bound"}
	}
	return root, nil
}

// syntaxError turns a yaml.v3 parse error ("yaml: line 3: ...") into an
// Error carrying file and line.
func syntaxError(file string, err error) error {
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
	return &diag.Error{File: file, Line: line, Msg: "invalid YAML: " + msg, Hint: "check indentation and quoting near this line"}
}

// Walk calls f for n and, while f returns true, for its children.
func Walk(n *yaml.Node, f func(*yaml.Node) bool) {
	if n == nil || !f(n) {
		return
	}
	for _, c := range n.Content {
		Walk(c, f)
	}
}

// Join appends key to the key path path.
func Join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// Parent drops the last segment of a key path ("a.b[2].c" -> "a.b[2]").
func Parent(path string) string {
	i := strings.LastIndexAny(path, ".[")
	if i <= 0 {
		return ""
	}
	return path[:i]
}

// Item returns the key path of item i of the list at path.
func Item(path string, i int) string { return fmt.Sprintf("%s[%d]", path, i) }

// KindName says what n is, for messages: "a mapping", "the string "x"".
func KindName(n *yaml.Node) string {
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

// IsNull reports whether n is absent or an explicit null.
func IsNull(n *yaml.Node) bool {
	return n == nil || n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// Decode decodes n into the value ptr points to; path is the key path of n
// ("" for a document's root).
func (d *Decoder) Decode(n *yaml.Node, ptr any, path string) {
	d.decode(n, reflect.ValueOf(ptr).Elem(), path)
}

func (d *Decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	d.value(n, v, path, true)
}

// value decodes n into v; nullOK says whether an explicit null is allowed
// (it leaves the value, and its default, alone). List items may not be
// null, except in free-form values.
func (d *Decoder) value(n *yaml.Node, v reflect.Value, path string, nullOK bool) {
	d.limit--
	if d.limit < 0 {
		if d.limit == -1 {
			d.Errorf(n, path, "split the file or remove repeated content", "document is too large")
		}
		return
	}
	if path != "" {
		d.Nodes[path] = n
	}
	if v.Type() == yamlNodeType {
		v.Set(reflect.ValueOf(n))
		return
	}
	if IsNull(n) && (nullOK || v.Kind() == reflect.Interface) {
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.value(n, v.Elem(), path, nullOK)
	case reflect.Struct:
		d.decodeStruct(n, v, path)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.Errorf(n, path, "", "expected %s, got %s", collection("a list", v.Type()), KindName(n))
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, c := range n.Content {
			item := Item(path, i)
			d.Pos[item] = Pos{File: d.FileOf(c), Line: c.Line, Col: c.Column}
			if df, ok := s.Index(i).Addr().Interface().(Defaulter); ok {
				df.SetDefaults()
			}
			d.value(c, s.Index(i), item, false)
		}
		v.Set(s)
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			d.Errorf(n, path, "", "expected %s, got %s", collection("a mapping", v.Type()), KindName(n))
			return
		}
		if v.Type().Key().Kind() != reflect.String {
			panic("strictyaml: map keys must be strings")
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
				if df, ok := elem.Interface().(Defaulter); ok {
					df.SetDefaults()
				}
			}
			d.decode(val, elem, Join(path, k.Value))
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
			d.Errorf(n, path, hint, "expected a string, got %s", KindName(n))
			return
		}
		v.SetString(n.Value)
	case reflect.Int, reflect.Int32, reflect.Int64:
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" {
			d.Errorf(n, path, "", "expected an integer, got %s", KindName(n))
			return
		}
		i, err := strconv.ParseInt(n.Value, 0, 64)
		if err != nil || v.OverflowInt(i) {
			d.Errorf(n, path, "", "integer %s is out of range", n.Value)
			return
		}
		v.SetInt(i)
	case reflect.Bool:
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" {
			d.Errorf(n, path, "write true or false", "expected a boolean, got %s", KindName(n))
			return
		}
		v.SetBool(n.Value == "true" || n.Value == "True" || n.Value == "TRUE")
	default:
		panic(fmt.Sprintf("strictyaml: unsupported field type %s", v.Type()))
	}
}

// collection names a list or mapping type t for messages, with its
// element type when that is strings ("a list of strings").
func collection(what string, t reflect.Type) string {
	if t.Elem().Kind() == reflect.String {
		return what + " of strings"
	}
	return what
}

// checkKey validates a mapping key: a plain string, not seen before.
func (d *Decoder) checkKey(k *yaml.Node, seen map[string]*yaml.Node, path string) bool {
	if k.Kind != yaml.ScalarNode || k.ShortTag() != "!!str" {
		d.Errorf(k, path, "keys are plain strings", "invalid key %s", KindName(k))
		return false
	}
	if prev, dup := seen[k.Value]; dup {
		d.Errorf(k, Join(path, k.Value), fmt.Sprintf("remove one of the two; the first is at line %d", prev.Line),
			"duplicate key")
		return false
	}
	seen[k.Value] = k
	d.Pos[Join(path, k.Value)] = Pos{File: d.FileOf(k), Line: k.Line, Col: k.Column}
	return true
}

type fieldInfo struct {
	index    []int
	required bool
}

// Fields lists the keys of struct type t by their names under tagKey
// ("json" when empty), sorted, flattening embedded structs as encoding/json
// does.
func Fields(t reflect.Type, tagKey string) []string {
	_, names := structFields(t, tagKey)
	return names
}

func structFields(t reflect.Type, tagKey string) (map[string]fieldInfo, []string) {
	if tagKey == "" {
		tagKey = "json"
	}
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
			name, _, _ := strings.Cut(f.Tag.Get(tagKey), ",")
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

func (d *Decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.Errorf(n, path, "", "expected a mapping, got %s", KindName(n))
		return
	}
	fields, names := structFields(v.Type(), d.TagKey)
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if !d.checkKey(k, seen, path) {
			continue
		}
		fi, ok := fields[k.Value]
		if !ok {
			d.Errorf(k, Join(path, k.Value), UnknownKeyHint(k.Value, names), "unknown key")
			continue
		}
		d.decode(val, v.FieldByIndex(fi.index), Join(path, k.Value))
	}
	hint := d.MissingKeyHint
	if hint == "" {
		hint = "add it; see overlays/README.md for what it means"
	}
	for _, name := range names {
		if !fields[name].required {
			continue
		}
		if k := seen[name]; k == nil {
			d.Errorf(n, Join(path, name), hint, "missing required key")
		} else if IsNull(d.Nodes[Join(path, name)]) {
			d.Errorf(k, Join(path, name), hint, "missing required value")
		}
	}
}

// generic converts free-form YAML (Helm values, model lists) into JSON-ready
// Go values: maps with string keys, lists and typed scalars.
func (d *Decoder) generic(n *yaml.Node, path string) (any, bool) {
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
			if val, ok := d.generic(n.Content[i+1], Join(path, k.Value)); ok {
				m[k.Value] = val
			}
		}
		return m, true
	case yaml.SequenceNode:
		l := make([]any, 0, len(n.Content))
		for i, c := range n.Content {
			if val, ok := d.generic(c, Item(path, i)); ok {
				l = append(l, val)
			}
		}
		return l, true
	case yaml.ScalarNode:
		var val any
		if err := n.Decode(&val); err != nil {
			d.Fail(n, path, &diag.Error{Msg: "invalid value", Err: err})
			return nil, false
		}
		return val, true
	}
	d.Errorf(n, path, "", "unsupported value")
	return nil, false
}

// UnknownKeyHint suggests the closest valid key, or lists them all.
func UnknownKeyHint(key string, valid []string) string {
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

// MergeInto deep-merges the mapping src over dst (both mapping nodes):
// mappings merge key by key, anything else replaces. Nodes taken from src
// are recorded as coming from srcFile so problems name the right file.
func (d *Decoder) MergeInto(dst, src *yaml.Node, srcFile string) {
	for i := 0; i+1 < len(src.Content); i += 2 {
		k, v := src.Content[i], src.Content[i+1]
		replaced := false
		for j := 0; j+1 < len(dst.Content); j += 2 {
			if dst.Content[j].Value != k.Value {
				continue
			}
			if v.Kind == yaml.MappingNode && dst.Content[j+1].Kind == yaml.MappingNode {
				d.MergeInto(dst.Content[j+1], v, srcFile)
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

func (d *Decoder) markOrigin(n *yaml.Node, file string) {
	Walk(n, func(c *yaml.Node) bool {
		d.orig[c] = file
		return true
	})
}

// Clone deep-copies a node tree so merges never alter the original.
func Clone(n *yaml.Node) *yaml.Node {
	if n == nil {
		return nil
	}
	c := *n
	c.Content = make([]*yaml.Node, len(n.Content))
	for i, x := range n.Content {
		c.Content[i] = Clone(x)
	}
	return &c
}
