package reviewdiff

import (
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"strconv"

	"github.com/pmezard/go-difflib/difflib"
)

// plainKey is a map key written as .key in a path; others are ["key"].
var plainKey = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)

func keyPath(parent, key string) string {
	if plainKey.MatchString(key) {
		if parent == "" {
			return key
		}
		return parent + "." + key
	}
	return parent + "[" + strconv.Quote(key) + "]"
}

// plainName is a list item name written as [name]; others are ["name"].
var plainName = regexp.MustCompile(`^[A-Za-z0-9_.:/-]+$`)

func namePath(parent, name string) string {
	if plainName.MatchString(name) {
		return parent + "[" + name + "]"
	}
	return parent + "[" + strconv.Quote(name) + "]"
}

func indexPath(parent string, i int) string { return fmt.Sprintf("%s[%d]", parent, i) }

// diffValue appends the differences between a (base) and b (head) at path.
func diffValue(path string, a, b any, out *[]Field) {
	switch av := a.(type) {
	case map[string]any:
		if bv, ok := b.(map[string]any); ok {
			diffMap(path, av, bv, out)
			return
		}
	case []any:
		if bv, ok := b.([]any); ok {
			diffList(path, av, bv, out)
			return
		}
	}
	if !reflect.DeepEqual(a, b) {
		*out = append(*out, Field{Path: path, Change: Changed, Old: a, New: b})
	}
}

func diffMap(path string, a, b map[string]any, out *[]Field) {
	for _, k := range unionKeys(a, b) {
		av, inA := a[k]
		bv, inB := b[k]
		p := keyPath(path, k)
		switch {
		case !inA:
			*out = append(*out, Field{Path: p, Change: Added, New: bv})
		case !inB:
			*out = append(*out, Field{Path: p, Change: Removed, Old: av})
		default:
			diffValue(p, av, bv, out)
		}
	}
}

// itemNames returns the name of every item when each is a map with a
// string name, unique within the list.
func itemNames(l []any) ([]string, bool) {
	names := make([]string, len(l))
	seen := map[string]bool{}
	for i, item := range l {
		m, ok := item.(map[string]any)
		if !ok {
			return nil, false
		}
		n, ok := m["name"].(string)
		if !ok || n == "" || seen[n] {
			return nil, false
		}
		seen[n] = true
		names[i] = n
	}
	return names, true
}

func diffList(path string, a, b []any, out *[]Field) {
	an, aNamed := itemNames(a)
	bn, bNamed := itemNames(b)
	if aNamed && bNamed && len(a)+len(b) > 0 {
		diffNamedList(path, a, an, b, bn, out)
		return
	}
	diffIndexedList(path, a, b, out)
}

func diffNamedList(path string, a []any, an []string, b []any, bn []string, out *[]Field) {
	ai := map[string]int{}
	for i, n := range an {
		ai[n] = i
	}
	bi := map[string]int{}
	for i, n := range bn {
		bi[n] = i
	}
	// Items kept on both sides in a different order.
	var aOrder, bOrder []string
	for _, n := range an {
		if _, ok := bi[n]; ok {
			aOrder = append(aOrder, n)
		}
	}
	for _, n := range bn {
		if _, ok := ai[n]; ok {
			bOrder = append(bOrder, n)
		}
	}
	if !reflect.DeepEqual(aOrder, bOrder) {
		*out = append(*out, Field{Path: path, Change: Reordered, Old: anyList(aOrder), New: anyList(bOrder)})
	}
	for i, n := range bn {
		j, ok := ai[n]
		if !ok {
			*out = append(*out, Field{Path: namePath(path, n), Change: Added, New: b[i]})
			continue
		}
		diffValue(namePath(path, n), a[j], b[i], out)
	}
	for i, n := range an {
		if _, ok := bi[n]; !ok {
			*out = append(*out, Field{Path: namePath(path, n), Change: Removed, Old: a[i]})
		}
	}
}

// anyList turns names into a JSON-friendly list.
func anyList(names []string) []any {
	out := make([]any, len(names))
	for i, n := range names {
		out[i] = n
	}
	return out
}

// maxAlign bounds the work of aligning two unnamed lists; longer ones are
// compared position by position.
const maxAlign = 1 << 18

// diffIndexedList aligns equal items with difflib's SequenceMatcher (the
// Ratcliff/Obershelp matching of Python's difflib, autojunk off) over each
// item's canonical JSON, and compares the rest: in each stretch between
// aligned items, removed and added items are paired up position by position
// as changes, the surplus reported as removed (base index) or added (head
// index).
func diffIndexedList(path string, a, b []any, out *[]Field) {
	if len(a)*len(b) > maxAlign {
		n := min(len(a), len(b))
		for i := 0; i < n; i++ {
			diffValue(indexPath(path, i), a[i], b[i], out)
		}
		for i := n; i < len(b); i++ {
			*out = append(*out, Field{Path: indexPath(path, i), Change: Added, New: b[i]})
		}
		for i := n; i < len(a); i++ {
			*out = append(*out, Field{Path: indexPath(path, i), Change: Removed, Old: a[i]})
		}
		return
	}
	m := difflib.NewMatcherWithJunk(itemKeys(a), itemKeys(b), false, nil)
	for _, op := range m.GetOpCodes() {
		if op.Tag == 'e' {
			continue
		}
		n := min(op.I2-op.I1, op.J2-op.J1)
		for k := 0; k < n; k++ {
			diffValue(indexPath(path, op.J1+k), a[op.I1+k], b[op.J1+k], out)
		}
		for j := op.J1 + n; j < op.J2; j++ {
			*out = append(*out, Field{Path: indexPath(path, j), Change: Added, New: b[j]})
		}
		for i := op.I1 + n; i < op.I2; i++ {
			*out = append(*out, Field{Path: indexPath(path, i), Change: Removed, Old: a[i]})
		}
	}
}

// itemKeys returns each item's canonical JSON (maps with sorted keys), so
// equal items have equal keys.
func itemKeys(items []any) []string {
	keys := make([]string, len(items))
	for i, v := range items {
		data, err := json.Marshal(v)
		if err != nil { // not JSON-shaped; still a stable key for equal values
			data = fmt.Appendf(nil, "%T:%#v", v, v)
		}
		keys[i] = string(data)
	}
	return keys
}

func scalarString(v any) string {
	switch t := v.(type) {
	case string:
		return t
	case nil:
		return "null"
	default:
		return fmt.Sprint(t)
	}
}
