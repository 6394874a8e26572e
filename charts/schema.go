package charts

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
	"helm.sh/helm/v3/pkg/chart"

	"github.com/coderfleet/coderfleet/internal/diag"
)

// SchemaError says that a chart's values do not match its values.schema.json.
type SchemaError struct {
	// Chart is the chart name, Release the release name.
	Chart, Release string
	// Problems lists each violation as "<value path>: <message>", sorted.
	Problems []string
}

// Error implements error.
func (e *SchemaError) Error() string {
	return fmt.Sprintf("chart %q (release %q): values do not match values.schema.json:\n  - %s\nfix the values passed to helmTemplate (or the chart's defaults they override)",
		e.Chart, e.Release, strings.Join(e.Problems, "\n  - "))
}

var schemaPrinter = message.NewPrinter(language.English)

// validateValues checks the coalesced values of c, and of each of its
// subcharts under their own key, against their values.schema.json. Schemas
// may not reference anything outside themselves: rendering uses no network
// and no files beyond the vendored chart.
func validateValues(c *chart.Chart, vals map[string]any, release string) error {
	var problems []string
	if err := collectSchemaProblems(c, vals, "", &problems); err != nil {
		return fmt.Errorf("chart %q: %w", c.Name(), err)
	}
	if len(problems) == 0 {
		return nil
	}
	sort.Strings(problems)
	return &diag.Error{Err: &SchemaError{Chart: c.Name(), Release: release, Problems: problems}}
}

func collectSchemaProblems(c *chart.Chart, vals map[string]any, prefix string, problems *[]string) error {
	if len(c.Schema) > 0 {
		if err := validateOne(c.Schema, vals, prefix, problems); err != nil {
			return fmt.Errorf("values.schema.json of %s: %w", chartLabel(c), err)
		}
	}
	for _, sub := range c.Dependencies() {
		raw, ok := vals[sub.Name()]
		if !ok || raw == nil {
			continue
		}
		subVals, ok := raw.(map[string]any)
		if !ok {
			*problems = append(*problems, fmt.Sprintf("%s: the values of subchart %q must be an object, got %s", joinValuePath(prefix, sub.Name()), sub.Name(), jsonTypeName(raw)))
			continue
		}
		if err := collectSchemaProblems(sub, subVals, joinValuePath(prefix, sub.Name()), problems); err != nil {
			return err
		}
	}
	return nil
}

func chartLabel(c *chart.Chart) string {
	if c.IsRoot() {
		return "the chart"
	}
	return "subchart " + strconv.Quote(c.ChartFullPath())
}

func validateOne(schemaJSON []byte, vals map[string]any, prefix string, problems *[]string) error {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schemaJSON))
	if err != nil {
		return fmt.Errorf("invalid JSON: %w", err)
	}
	c := jsonschema.NewCompiler()
	// No loader at all: a $ref to a URL or file fails instead of fetching.
	c.UseLoader(jsonschema.SchemeURLLoader{})
	const url = "mem:///values.schema.json"
	if err := c.AddResource(url, doc); err != nil {
		return err
	}
	sch, err := c.Compile(url)
	if err != nil {
		return fmt.Errorf("compiling (references outside the file are not fetched): %w", err)
	}
	// The validator wants JSON-shaped data; values from Jsonnet and from
	// values.yaml already are (maps, slices, float64, string, bool, nil).
	err = sch.Validate(map[string]any(vals))
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return err
	}
	walkLeaves(ve, func(leaf *jsonschema.ValidationError) {
		p := valuePath(vals, leaf.InstanceLocation)
		*problems = append(*problems, fmt.Sprintf("%s: %s", joinValuePath(prefix, p), leaf.ErrorKind.LocalizedString(schemaPrinter)))
	})
	return nil
}

func walkLeaves(e *jsonschema.ValidationError, fn func(*jsonschema.ValidationError)) {
	if len(e.Causes) == 0 {
		fn(e)
		return
	}
	for _, c := range e.Causes {
		walkLeaves(c, fn)
	}
}

// valuePath spells a JSON pointer the way Helm users write value paths:
// image.tag, tolerations[0].key.
func valuePath(root any, loc []string) string {
	var sb strings.Builder
	cur := root
	for _, seg := range loc {
		switch v := cur.(type) {
		case []any:
			sb.WriteString("[" + seg + "]")
			if i, err := strconv.Atoi(seg); err == nil && i >= 0 && i < len(v) {
				cur = v[i]
			} else {
				cur = nil
			}
		default:
			if sb.Len() > 0 {
				sb.WriteByte('.')
			}
			sb.WriteString(seg)
			if m, ok := v.(map[string]any); ok {
				cur = m[seg]
			} else {
				cur = nil
			}
		}
	}
	return sb.String()
}

func joinValuePath(prefix, p string) string {
	switch {
	case prefix == "" && p == "":
		return "(top level)"
	case prefix == "":
		return p
	case p == "":
		return prefix
	case strings.HasPrefix(p, "["):
		return prefix + p
	default:
		return prefix + "." + p
	}
}

func jsonTypeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case string:
		return "a string"
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	default:
		return "a number"
	}
}
