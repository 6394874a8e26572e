package awsstate

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/coderfleet/coderfleet/internal/awsrules"
	"github.com/coderfleet/coderfleet/internal/diag"
)

// ParseError is an error in a desired-state or outputs file, located by file
// (the path as given to Parse), line and key path (e.g.
// records[2].alias.service). It prints as "path:line: key: msg".
type ParseError = diag.Error

// decoder walks yaml nodes and collects located errors.
type decoder struct {
	path string
	errs diag.List
}

func (d *decoder) fail(n *yaml.Node, key, format string, args ...any) {
	line := 0
	if n != nil {
		line = n.Line
	}
	d.errs = append(d.errs, &ParseError{File: d.path, Line: line, Key: key, BareKey: true, Msg: fmt.Sprintf(format, args...)})
}

func (d *decoder) err() error { return d.errs.Err() }

// root parses data into its single document's root mapping.
func (d *decoder) root(data []byte) *object {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		line := 0
		if _, after, ok := strings.Cut(msg, "line "); ok {
			if n, err := strconv.Atoi(strings.SplitN(after, ":", 2)[0]); err == nil {
				line = n
			}
		}
		d.errs = append(d.errs, &ParseError{File: d.path, Line: line, Msg: "invalid YAML: " + msg})
		return nil
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		d.fail(nil, "", "file is empty; expected a mapping with apiVersion and kind")
		return nil
	}
	return d.object(doc.Content[0], "")
}

// object is a mapping node being decoded; used records the keys read.
type object struct {
	d    *decoder
	n    *yaml.Node
	path string
	used map[string]bool
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "null"
		}
		return "the scalar " + strconv.Quote(n.Value)
	}
	return "nothing"
}

func (d *decoder) object(n *yaml.Node, path string) *object {
	if n.Kind != yaml.MappingNode {
		d.fail(n, keyOr(path), "expected a mapping, got %s", kindName(n))
		return nil
	}
	return &object{d: d, n: n, path: path, used: map[string]bool{}}
}

func keyOr(p string) string {
	if p == "" {
		return "(document)"
	}
	return p
}

func (o *object) sub(key string) string {
	if o.path == "" {
		return key
	}
	return o.path + "." + key
}

// get returns the value node of key, or nil; duplicates are reported.
func (o *object) get(key string) *yaml.Node {
	o.used[key] = true
	var found *yaml.Node
	for i := 0; i+1 < len(o.n.Content); i += 2 {
		if o.n.Content[i].Value == key {
			if found != nil {
				o.d.fail(o.n.Content[i], o.sub(key), "duplicate key")
			}
			found = o.n.Content[i+1]
		}
	}
	return found
}

// done reports every key that was never read.
func (o *object) done() {
	if o == nil {
		return
	}
	var known []string
	for k := range o.used {
		known = append(known, k)
	}
	sort.Strings(known)
	for i := 0; i+1 < len(o.n.Content); i += 2 {
		k := o.n.Content[i]
		if !o.used[k.Value] {
			o.d.fail(k, o.sub(k.Value), "unknown key (known keys: %s)", strings.Join(known, ", "))
		}
	}
}

func (o *object) scalar(key string, required bool, tag string) (*yaml.Node, bool) {
	n := o.get(key)
	if n == nil || (n.Kind == yaml.ScalarNode && n.Tag == "!!null") {
		if required {
			o.d.fail(o.n, o.sub(key), "missing required value")
		}
		return nil, false
	}
	if n.Kind != yaml.ScalarNode || n.Tag != tag {
		want := map[string]string{"!!str": "a string", "!!int": "an integer", "!!bool": "true or false"}[tag]
		o.d.fail(n, o.sub(key), "expected %s, got %s", want, kindName(n))
		return nil, false
	}
	return n, true
}

func (o *object) str(key string, required bool) string {
	n, ok := o.scalar(key, required, "!!str")
	if !ok {
		return ""
	}
	if required && strings.TrimSpace(n.Value) == "" {
		o.d.fail(n, o.sub(key), "must not be empty")
	}
	return n.Value
}

// enum reads a required string that must be one of allowed.
func (o *object) enum(key string, allowed ...string) string {
	n, ok := o.scalar(key, true, "!!str")
	if !ok {
		return ""
	}
	for _, a := range allowed {
		if n.Value == a {
			return n.Value
		}
	}
	o.d.fail(n, o.sub(key), "unsupported value %q (supported: %s)", n.Value, strings.Join(allowed, ", "))
	return n.Value
}

func (o *object) integer(key string, required bool, lo, hi int64) int64 {
	n, ok := o.scalar(key, required, "!!int")
	if !ok {
		return 0
	}
	v, err := strconv.ParseInt(n.Value, 0, 64)
	if err != nil || v < lo || v > hi {
		o.d.fail(n, o.sub(key), "expected an integer from %d to %d, got %q", lo, hi, n.Value)
		return 0
	}
	return v
}

func (o *object) boolean(key string, required bool) bool {
	n, ok := o.scalar(key, required, "!!bool")
	if !ok {
		return false
	}
	v, err := strconv.ParseBool(n.Value)
	if err != nil {
		// yaml 1.1 spellings such as "yes" carry the !!bool tag only when quoted tags are used.
		o.d.fail(n, o.sub(key), "expected true or false, got %q", n.Value)
	}
	return v
}

func (o *object) strList(key string) []string {
	n := o.get(key)
	if n == nil || (n.Kind == yaml.ScalarNode && n.Tag == "!!null") {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		o.d.fail(n, o.sub(key), "expected a list of strings, got %s", kindName(n))
		return nil
	}
	var out []string
	for i, c := range n.Content {
		if c.Kind != yaml.ScalarNode || c.Tag != "!!str" || c.Value == "" {
			o.d.fail(c, fmt.Sprintf("%s[%d]", o.sub(key), i), "expected a non-empty string, got %s", kindName(c))
			continue
		}
		out = append(out, c.Value)
	}
	return out
}

func (o *object) strMap(key string) map[string]string {
	n := o.get(key)
	if n == nil || (n.Kind == yaml.ScalarNode && n.Tag == "!!null") {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		o.d.fail(n, o.sub(key), "expected a mapping of strings, got %s", kindName(n))
		return nil
	}
	out := map[string]string{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if _, dup := out[k.Value]; dup {
			o.d.fail(k, o.sub(key)+"."+k.Value, "duplicate key")
		}
		if v.Kind != yaml.ScalarNode || v.Tag != "!!str" {
			o.d.fail(v, o.sub(key)+"."+k.Value, "expected a string, got %s", kindName(v))
			continue
		}
		out[k.Value] = v.Value
	}
	return out
}

func (o *object) child(key string, required bool) *object {
	n := o.get(key)
	if n == nil {
		if required {
			o.d.fail(o.n, o.sub(key), "missing required mapping")
		}
		return nil
	}
	return o.d.object(n, o.sub(key))
}

// list calls fn for each mapping item of the list at key.
func (o *object) list(key string, fn func(item *object)) {
	n := o.get(key)
	if n == nil || (n.Kind == yaml.ScalarNode && n.Tag == "!!null") {
		return
	}
	if n.Kind != yaml.SequenceNode {
		o.d.fail(n, o.sub(key), "expected a list, got %s", kindName(n))
		return
	}
	for i, c := range n.Content {
		if it := o.d.object(c, fmt.Sprintf("%s[%d]", o.sub(key), i)); it != nil {
			fn(it)
			it.done()
		}
	}
}

// failErr reports a broken AWS rule (see internal/awsrules) at n, with the
// rule's hint.
func (d *decoder) failErr(n *yaml.Node, key string, err error) {
	line := 0
	if n != nil {
		line = n.Line
	}
	d.errs = append(d.errs, &ParseError{File: d.path, Line: line, Key: key, BareKey: true, Err: err, Hint: awsrules.HintOf(err)})
}
