package render

import (
	"strconv"
	"strings"

	yaml3 "go.yaml.in/yaml/v3"
)

// splitField splits a field path such as
// `spec.template.spec.containers[coder].env[FOO].value` or
// `metadata.annotations["a.b/c"]` into its segments; a bracketed segment
// keeps its brackets.
func splitField(path string) []string {
	var segs []string
	for len(path) > 0 {
		switch path[0] {
		case '.':
			path = path[1:]
		case '[':
			end := strings.IndexByte(path, ']')
			if strings.HasPrefix(path, `["`) {
				if q, err := strconv.QuotedPrefix(path[1:]); err == nil {
					end = 1 + len(q)
				}
			}
			if end < 0 {
				return append(segs, path)
			}
			segs = append(segs, path[:end+1])
			path = path[end+1:]
		default:
			end := strings.IndexAny(path, ".[")
			if end < 0 {
				end = len(path)
			}
			segs = append(segs, path[:end])
			path = path[end:]
		}
	}
	return segs
}

// lineOfField returns the line of a field path inside a YAML document, or
// of the deepest part of the path that exists; 0 when nothing matches.
func lineOfField(data []byte, field string) int {
	var doc yaml3.Node
	if yaml3.Unmarshal(data, &doc) != nil || len(doc.Content) == 0 {
		return 0
	}
	n, line := doc.Content[0], 0
	for _, seg := range splitField(field) {
		next, at := step(n, seg)
		if next == nil {
			break
		}
		n, line = next, at
	}
	return line
}

// step follows one path segment from n; it returns the node reached and
// the line to report for it (a mapping key's line).
func step(n *yaml3.Node, seg string) (*yaml3.Node, int) {
	key := seg
	if strings.HasPrefix(seg, "[") {
		key = strings.TrimSuffix(strings.TrimPrefix(seg, "["), "]")
		if uq, err := strconv.Unquote(key); err == nil {
			key = uq
		}
	}
	switch n.Kind {
	case yaml3.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				return n.Content[i+1], n.Content[i].Line
			}
		}
	case yaml3.SequenceNode:
		for _, item := range n.Content {
			if item.Kind != yaml3.MappingNode {
				continue
			}
			for i := 0; i+1 < len(item.Content); i += 2 {
				if item.Content[i].Value == "name" && item.Content[i+1].Value == key {
					return item, item.Line
				}
			}
		}
		if i, err := strconv.Atoi(key); err == nil && i >= 0 && i < len(n.Content) {
			return n.Content[i], n.Content[i].Line
		}
	}
	return nil, 0
}
