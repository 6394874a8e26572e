package reviewdiff

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/pmezard/go-difflib/difflib"
	yaml "go.yaml.in/yaml/v3"

	"github.com/coderfleet/coderfleet/internal/jsonout"
)

// Format is an output format of Report.Write.
type Format string

// The output formats.
const (
	// FormatText is for a terminal.
	FormatText Format = "text"
	// FormatMarkdown is for a pull-request comment: a summary, then one
	// collapsible <details> section per region.
	FormatMarkdown Format = "markdown"
	// FormatJSON is for programs; its schema is SchemaVersion, described
	// in docs/json.md.
	FormatJSON Format = "json"
)

// Formats lists the output formats, for help texts.
var Formats = []Format{FormatText, FormatMarkdown, FormatJSON}

// SchemaVersion names the JSON output's schema; it changes only when a
// field is removed or changes meaning. v2 follows coderfleet's one JSON
// convention (docs/json.md): the summary holds only counts (v1's summary
// text is "summaryText", its region name lists are left out: each region
// carries its change), and AWS items carry a resource address.
const SchemaVersion = "coderfleet.io/diff/v2"

// ParseFormat returns the format called name.
func ParseFormat(name string) (Format, error) {
	for _, f := range Formats {
		if string(f) == name {
			return f, nil
		}
	}
	return "", fmt.Errorf("unknown output format %q: use text, markdown or json", name)
}

// Write renders the report in format f.
func (r *Report) Write(w io.Writer, f Format) error {
	var b bytes.Buffer
	switch f {
	case FormatText:
		r.writeText(&b)
	case FormatMarkdown:
		cuts := r.writeMarkdown(&b)
		r.fitMarkdown(&b, cuts, MaxMarkdown)
	case FormatJSON:
		if err := r.writeJSON(&b); err != nil {
			return err
		}
	default:
		return fmt.Errorf("unknown output format %q: use text, markdown or json", f)
	}
	_, err := w.Write(b.Bytes())
	return err
}

// Limits that keep a report readable; JSON always carries full values.
const (
	maxInline     = 100 // characters of a value shown on its field's line
	maxBlockLines = 20  // lines of a multi-line value or its diff
)

// fieldView is a field prepared for display.
type fieldView struct {
	path     string
	change   Change
	old, new string   // inline values; empty when not shown inline
	note     string   // e.g. "3 lines -> 4 lines"
	block    []string // a value or diff shown below the line
	lang     string   // "diff" or "yaml" for the block's code fence
}

func viewField(f Field) fieldView {
	v := fieldView{path: f.Path, change: f.Change}
	if v.path == "" {
		v.path = "(whole value)"
	}
	switch f.Change {
	case Reordered:
		v.note = "order changed"
		v.old, v.new = nameList(f.Old), nameList(f.New)
	case Changed:
		os, oIsStr := f.Old.(string)
		ns, nIsStr := f.New.(string)
		if oIsStr && nIsStr && (strings.Contains(os, "\n") || strings.Contains(ns, "\n")) {
			v.note = fmt.Sprintf("%s -> %s", plural(lineCount(os), "line"), plural(lineCount(ns), "line"))
			v.block, v.lang = lineDiff(os, ns), "diff"
			return v
		}
		v.old, v.new = inline(f.Old), inline(f.New)
	case Added, Removed:
		val := f.New
		if f.Change == Removed {
			val = f.Old
		}
		s, one := inlineOnly(val)
		if one {
			if f.Change == Added {
				v.new = s
			} else {
				v.old = s
			}
			return v
		}
		if str, ok := val.(string); ok {
			v.note = plural(lineCount(str), "line")
			v.block = capLines(strings.Split(strings.TrimSuffix(str, "\n"), "\n"))
			return v
		}
		v.block, v.lang = capLines(yamlLines(val)), "yaml"
	}
	return v
}

// inlineOnly returns a value's one-line form when it is short enough.
func inlineOnly(v any) (string, bool) {
	if s, ok := v.(string); ok && strings.Contains(s, "\n") {
		return "", false
	}
	s := compact(v)
	switch v.(type) {
	case map[string]any, []any:
		return s, len(s) <= maxInline
	}
	return shorten(s), true
}

// inline is a value on one line, shortened in the middle when long.
func inline(v any) string {
	if s, ok := v.(string); ok && strings.Contains(s, "\n") {
		return fmt.Sprintf("(%s)", plural(lineCount(s), "line"))
	}
	return shorten(compact(v))
}

func compact(v any) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Sprint(v)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

func shorten(s string) string {
	r := []rune(s)
	if len(r) <= maxInline {
		return s
	}
	keep := (maxInline - 1) / 2
	return fmt.Sprintf("%s…%s (%d characters)", string(r[:keep]), string(r[len(r)-keep:]), len(r))
}

func nameList(v any) string {
	l, _ := v.([]any)
	parts := make([]string, len(l))
	for i, e := range l {
		parts[i] = scalarString(e)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

func lineCount(s string) int {
	if s == "" {
		return 0
	}
	return strings.Count(strings.TrimSuffix(s, "\n"), "\n") + 1
}

// lineDiff is a unified diff of two multi-line strings without file
// headers, one line of context.
func lineDiff(a, b string) []string {
	d, err := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A: difflib.SplitLines(ensureNL(a)), B: difflib.SplitLines(ensureNL(b)), Context: 1,
	})
	if err != nil {
		return []string{err.Error()}
	}
	return capLines(strings.Split(strings.TrimSuffix(d, "\n"), "\n"))
}

func ensureNL(s string) string {
	if s != "" && !strings.HasSuffix(s, "\n") {
		return s + "\n"
	}
	return s
}

func yamlLines(v any) []string {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(v); err != nil {
		return []string{compact(v)}
	}
	return strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
}

func capLines(lines []string) []string {
	if len(lines) <= maxBlockLines {
		return lines
	}
	out := append([]string{}, lines[:maxBlockLines]...)
	return append(out, fmt.Sprintf("… %d more lines", len(lines)-maxBlockLines))
}

var marks = map[Change]string{Added: "+", Removed: "-", Changed: "~", Reordered: "~"}

// fieldLine is a field's line without its marker, e.g.
// `spec.replicas: 1 -> 2`; arrow joins old and new.
func (v fieldView) line(quote func(string) string, arrow string) string {
	s := quote(v.path)
	var vals []string
	switch {
	case v.old != "" && v.new != "":
		vals = append(vals, quote(v.old)+" "+arrow+" "+quote(v.new))
	case v.old != "":
		vals = append(vals, quote(v.old))
	case v.new != "":
		vals = append(vals, quote(v.new))
	}
	if v.note != "" {
		vals = append(vals, "("+v.note+")")
	}
	if len(vals) > 0 {
		s += ": " + strings.Join(vals, " ")
	}
	return s
}

// ---- text

func (r *Report) writeText(b *bytes.Buffer) {
	fmt.Fprintf(b, "Summary: %s\n", r.Summary())
	same := func(s string) string { return s }
	fields := func(indent string, fs []Field) {
		for _, f := range fs {
			v := viewField(f)
			fmt.Fprintf(b, "%s%s %s\n", indent, marks[f.Change], v.line(same, "->"))
			for _, l := range v.block {
				fmt.Fprintf(b, "%s    %s\n", indent, l)
			}
		}
	}
	for _, reg := range r.Regions {
		fmt.Fprintf(b, "\nRegion %s (%s)\n", reg.Name, reg.Change)
		for _, c := range reg.Components {
			fmt.Fprintf(b, "  Component %s (%s)\n", c.Name, c.Change)
			for _, o := range c.Objects {
				fmt.Fprintf(b, "    %s %s", marks[o.Change], o.Display())
				if o.Change == Changed && len(o.Fields) == 0 {
					b.WriteString(" (comments or formatting only)")
				}
				b.WriteString("\n")
				fields("        ", o.Fields)
			}
		}
		if len(reg.AWS) > 0 {
			b.WriteString("  AWS desired state\n")
			for _, a := range reg.AWS {
				fmt.Fprintf(b, "    %s %s %s", marks[a.Change], a.Type, a.Key)
				if a.Detail != "" {
					fmt.Fprintf(b, " (%s)", a.Detail)
				}
				b.WriteString("\n")
				fields("        ", a.Fields)
			}
		}
		if len(reg.Files) > 0 {
			b.WriteString("  Files\n")
			for _, f := range reg.Files {
				fmt.Fprintf(b, "    %s %s\n", marks[f.Change], f.Path)
				fields("        ", f.Fields)
				for _, l := range textLines(f.Text) {
					fmt.Fprintf(b, "        %s\n", l)
				}
			}
		}
	}
}

func textLines(s string) []string {
	if s == "" {
		return nil
	}
	return capLines(strings.Split(strings.TrimSuffix(s, "\n"), "\n"))
}

// ---- markdown

// code returns s as a Markdown code span, whatever backticks it holds.
func code(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	longest, run := 0, 0
	for _, c := range s {
		if c == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	fence := strings.Repeat("`", longest+1)
	if longest > 0 || strings.HasPrefix(s, " ") || strings.HasSuffix(s, " ") {
		return fence + " " + s + " " + fence
	}
	return fence + s + fence
}

// codeBlock writes lines as a fenced block, indented for a list level.
func codeBlock(b *bytes.Buffer, indent, lang string, lines []string) {
	longest := 0
	for _, l := range lines {
		run := 0
		for _, c := range l {
			if c == '`' {
				run++
				longest = max(longest, run)
			} else {
				run = 0
			}
		}
	}
	fence := strings.Repeat("`", max(3, longest+1))
	fmt.Fprintf(b, "%s%s%s\n", indent, fence, lang)
	for _, l := range lines {
		fmt.Fprintf(b, "%s%s\n", indent, l)
	}
	fmt.Fprintf(b, "%s%s\n", indent, fence)
}

// MaxMarkdown is the most characters -o markdown writes: GitHub's limit on
// the body of a pull-request comment, 65,536 characters (GitHub REST API,
// "Create an issue comment": a longer body is refused as too long). It is
// counted in bytes, which are never fewer than characters.
const MaxMarkdown = 65536

// mdCut is a place where the Markdown output may be cut: after the summary,
// after an item (an object, an AWS item or a file, with its fields) or after
// a region's section.
type mdCut struct {
	off    int  // bytes written before the cut
	region int  // index of the region the cut is in or after; -1 before the first
	shown  int  // items of that region written before the cut
	open   bool // inside the region's <details>, which the cut must close
}

// writeMarkdown writes the whole report and returns where it may be cut.
func (r *Report) writeMarkdown(b *bytes.Buffer) []mdCut {
	b.WriteString("### coderfleet diff\n\n")
	fmt.Fprintf(b, "**Summary:** %s\n", mdText(r.Summary().String()))
	cuts := []mdCut{{off: b.Len(), region: -1}}
	var region, shown int
	item := func() {
		shown++
		cuts = append(cuts, mdCut{off: b.Len(), region: region, shown: shown, open: true})
	}
	fields := func(fs []Field) {
		for _, f := range fs {
			v := viewField(f)
			fmt.Fprintf(b, "  - _%s_ %s\n", f.Change, v.line(code, "→"))
			if len(v.block) > 0 {
				codeBlock(b, "    ", v.lang, v.block)
			}
		}
	}
	for i, reg := range r.Regions {
		region, shown = i, 0
		rs := reg.summary()
		var counts []string
		for _, c := range []struct {
			label string
			n     Counts
		}{{"objects", rs.Objects}, {"AWS", rs.AWS}, {"files", rs.Files}} {
			if t := c.n.String(); t != "" {
				counts = append(counts, c.label+": "+t)
			}
		}
		fmt.Fprintf(b, "\n<details>\n<summary><b>%s</b> (%s): %s</summary>\n\n", htmlText(reg.Name), reg.Change, htmlText(strings.Join(counts, "; ")))
		for _, c := range reg.Components {
			fmt.Fprintf(b, "**%s** (%s)\n\n", mdText(c.Name), c.Change)
			for _, o := range c.Objects {
				fmt.Fprintf(b, "- _%s_ %s", o.Change, code(o.Display()))
				if o.Change == Changed && len(o.Fields) == 0 {
					b.WriteString(" (comments or formatting only)")
				}
				b.WriteString("\n")
				fields(o.Fields)
				item()
			}
			b.WriteString("\n")
		}
		if len(reg.AWS) > 0 {
			b.WriteString("**AWS desired state**\n\n")
			for _, a := range reg.AWS {
				fmt.Fprintf(b, "- _%s_ %s %s", a.Change, a.Type, code(a.Key))
				if a.Detail != "" {
					fmt.Fprintf(b, " (%s)", code(a.Detail))
				}
				b.WriteString("\n")
				fields(a.Fields)
				item()
			}
			b.WriteString("\n")
		}
		if len(reg.Files) > 0 {
			b.WriteString("**Files**\n\n")
			for _, f := range reg.Files {
				fmt.Fprintf(b, "- _%s_ %s\n", f.Change, code(f.Path))
				fields(f.Fields)
				if f.Text != "" {
					codeBlock(b, "  ", "diff", textLines(f.Text))
				}
				item()
			}
			b.WriteString("\n")
		}
		b.WriteString("</details>\n")
		cuts = append(cuts, mdCut{off: b.Len(), region: i, shown: shown})
	}
	return cuts
}

// items is the number of objects, AWS items and files of a region.
func (reg Region) items() int {
	n := len(reg.AWS) + len(reg.Files)
	for _, c := range reg.Components {
		n += len(c.Objects)
	}
	return n
}

// fitMarkdown cuts b, the Markdown of r, at the last of cuts where the kept
// part, the closing of an open region section and a note saying what was
// left out and how to see it fit in limit bytes. b is left alone when it fits.
func (r *Report) fitMarkdown(b *bytes.Buffer, cuts []mdCut, limit int) {
	if b.Len() <= limit {
		return
	}
	total := 0
	for _, reg := range r.Regions {
		total += reg.items()
	}
	for i := len(cuts) - 1; i >= 0; i-- {
		c := cuts[i]
		if c.off > limit {
			continue
		}
		tail := r.markdownCutNote(c, total)
		if c.open {
			tail = "\n</details>\n" + tail
		}
		if c.off+len(tail) <= limit || i == 0 {
			b.Truncate(c.off)
			b.WriteString(tail)
			return
		}
	}
}

// markdownCutNote says what a cut at c leaves out of r, which has total
// items, and how to see everything.
func (r *Report) markdownCutNote(c mdCut, total int) string {
	shown := c.shown
	var partly string
	var whole []string
	for i, reg := range r.Regions {
		switch {
		case i < c.region:
			shown += reg.items()
		case i == c.region && c.shown < reg.items():
			partly = code(reg.Name)
		case i > c.region:
			whole = append(whole, code(reg.Name))
		}
	}
	var where []string
	if partly != "" {
		where = append(where, "the rest of "+partly)
	}
	if len(whole) > 0 {
		where = append(where, fmt.Sprintf("%s (%s)", plural(len(whole), "whole region"), strings.Join(whole, ", ")))
	}
	return fmt.Sprintf("\n> [!NOTE]\n> **Cut to fit a pull-request comment** (GitHub allows %s characters): "+
		"%d of %d changed objects, AWS items and files are not shown: %s. "+
		"To see them all, run `coderfleet diff -o text` (with the same `--base`) or read the CI job's diff artifact.\n",
		"65,536", total-shown, total, strings.Join(where, " and "))
}

// mdText escapes the characters that Markdown would interpret in plain text.
func mdText(s string) string {
	var b strings.Builder
	for _, c := range s {
		if strings.ContainsRune("\\`*_[]<>|~", c) {
			b.WriteByte('\\')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// htmlText escapes text inside an HTML element (the <summary> line).
func htmlText(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;").Replace(s)
}

// ---- json

type jsonReport struct {
	SchemaVersion string      `json:"schemaVersion"`
	Summary       jsonSummary `json:"summary"`
	// SummaryText is the text report's summary line.
	SummaryText string       `json:"summaryText"`
	Regions     []jsonRegion `json:"regions"`
}

// jsonSummary is Summary's counts.
type jsonSummary struct {
	Regions Counts `json:"regions"`
	Objects Counts `json:"objects"`
	AWS     Counts `json:"aws"`
	Files   Counts `json:"files"`
}

// jsonRegion is a Region whose AWS items carry their resource address.
type jsonRegion struct {
	Region
	AWS []jsonAWSItem `json:"aws,omitempty"`
}

type jsonAWSItem struct {
	AWSItem
	// Resource addresses a certificate, health check or record as every
	// coderfleet document does; null for a file's own keys. Its ID is
	// null: the desired state holds no AWS identifiers.
	Resource *jsonout.Resource `json:"resource"`
}

// awsKinds maps AWS item types to resource kinds.
var awsKinds = map[string]string{TypeCertificate: jsonout.KindCertificate, TypeHealthCheck: jsonout.KindHealthCheck, TypeRecord: jsonout.KindRecord, TypeRole: jsonout.KindRole, TypeSecret: jsonout.KindSecret,
	TypeWorkspaceProxy: jsonout.KindWorkspaceProxy, TypeProvisionerKey: jsonout.KindProvisionerKey}

func (r *Report) writeJSON(b *bytes.Buffer) error {
	regions := make([]jsonRegion, 0, len(r.Regions))
	for _, reg := range r.Regions {
		jr := jsonRegion{Region: reg}
		for _, it := range reg.AWS {
			ji := jsonAWSItem{AWSItem: it}
			if kind, ok := awsKinds[it.Type]; ok {
				res := jsonout.NewResource(reg.Name, kind, it.Key, "")
				ji.Resource = &res
			}
			jr.AWS = append(jr.AWS, ji)
		}
		regions = append(regions, jr)
	}
	s := r.Summary()
	return jsonout.Encode(b, jsonReport{SchemaVersion: SchemaVersion, SummaryText: s.String(), Regions: regions,
		Summary: jsonSummary{Regions: s.Regions, Objects: s.Objects, AWS: s.AWS, Files: s.Files}})
}

// MarshalJSON writes old and new only where they exist: a changed field
// always has both (null is a value), an added one only new, a removed one
// only old.
func (f Field) MarshalJSON() ([]byte, error) {
	enc := func(v any) (json.RawMessage, error) {
		var b bytes.Buffer
		e := json.NewEncoder(&b)
		e.SetEscapeHTML(false)
		if err := e.Encode(v); err != nil {
			return nil, err
		}
		return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
	}
	out := struct {
		Path   string          `json:"path"`
		Change Change          `json:"change"`
		Old    json.RawMessage `json:"old,omitempty"`
		New    json.RawMessage `json:"new,omitempty"`
	}{Path: f.Path, Change: f.Change}
	var err error
	if f.Change != Added {
		if out.Old, err = enc(f.Old); err != nil {
			return nil, err
		}
	}
	if f.Change != Removed {
		if out.New, err = enc(f.New); err != nil {
			return nil, err
		}
	}
	raw, err := enc(out)
	return raw, err
}
