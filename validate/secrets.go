package validate

import (
	"bytes"
	"fmt"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/coderfleet/coderfleet/config"
	"gopkg.in/yaml.v3"
)

// The secret guard's heuristic; doc.go describes it for users.
var (
	accessKeyRE    = regexp.MustCompile(`(?:^|[^A-Za-z0-9])((?:AKIA|ASIA)[A-Z0-9]{16})(?:$|[^A-Za-z0-9])`)
	secretValueRE  = regexp.MustCompile(`^[A-Za-z0-9/+=]{40}$`)
	secretInTextRE = regexp.MustCompile(`(?i)aws_secret_access_key["']?\s*[=:]\s*["']?([A-Za-z0-9/+=]{40})(?:$|[^A-Za-z0-9/+=])`)
	secretNameRE   = regexp.MustCompile(`(?i)secret|key`)
	privateKeyRE   = regexp.MustCompile(`-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----`)
	jwtRE          = regexp.MustCompile(`(?:^|[^A-Za-z0-9_-])(eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,})`)
	urlPasswordRE  = regexp.MustCompile(`[A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]+:([^/\s@]*)@`)
	assignmentRE   = regexp.MustCompile(`(?i)(?:password|passwd|pwd|token|secret|api[_-]?key)\s*=\s*("[^"]*"|'[^']*'|\{\{.*?\}\}|[^\s&;,"']+)`)
	referenceRE    = regexp.MustCompile(`^(?:\$\([A-Za-z_][A-Za-z0-9_]*\)|\$\{[A-Za-z_][A-Za-z0-9_]*\}|\{\{.*\}\}|os\.environ/[A-Za-z_][A-Za-z0-9_]*)$`)
)

// credential returns what kind of credential s looks like and a short
// redacted prefix of it, or "" when it looks clean. name is the env var or
// map key the value belongs to ("" when none).
func credential(name, s string) (what, prefix string) {
	// Each regular expression runs only when the literal text it needs is
	// there: most values are short and plain, and this runs on every one.
	if (strings.Contains(s, "AKIA") || strings.Contains(s, "ASIA")) && len(s) >= 20 {
		if m := accessKeyRE.FindStringSubmatch(s); m != nil {
			return "an AWS access key id", m[1]
		}
	}
	if len(s) == 40 && name != "" && secretNameRE.MatchString(name) && secretValueRE.MatchString(s) && looksRandom(s) {
		return "an AWS secret access key", s
	}
	if len(s) >= 40 && strings.Contains(strings.ToLower(s), "aws_secret_access_key") {
		if m := secretInTextRE.FindStringSubmatch(s); m != nil && looksRandom(m[1]) {
			return "an AWS secret access key", m[1]
		}
	}
	if strings.Contains(s, "PRIVATE KEY") {
		if m := privateKeyRE.FindString(s); m != "" {
			return "a PEM private key", m
		}
	}
	if strings.Contains(s, "eyJ") {
		if m := jwtRE.FindStringSubmatch(s); m != nil {
			return "a JSON Web Token", m[1]
		}
	}
	if strings.Contains(s, "://") && strings.Contains(s, "@") {
		for _, m := range urlPasswordRE.FindAllStringSubmatch(s, -1) {
			if m[1] != "" && !referenceRE.MatchString(m[1]) {
				return "a URL with a password", m[0]
			}
		}
	}
	if !strings.Contains(s, "=") {
		return "", ""
	}
	for _, m := range assignmentRE.FindAllStringSubmatch(s, -1) {
		v := strings.Trim(m[1], `"'`)
		if v != "" && !referenceRE.MatchString(v) {
			return "a password or token assignment", m[0]
		}
	}
	return "", ""
}

// looksRandom requires the mixed alphabet of generated keys, so words, hex
// digests and paths of 40 characters are not flagged.
func looksRandom(s string) bool {
	var upper, lower, other bool
	for _, r := range s {
		switch {
		case r >= 'A' && r <= 'Z':
			upper = true
		case r >= 'a' && r <= 'z':
			lower = true
		case r >= '0' && r <= '9', r == '/', r == '+':
			other = true
		}
	}
	return upper && lower && other
}

// redact shows at most the first four characters of a suspected credential.
func redact(s string) string {
	r := []rune(s)
	if len(r) <= 4 {
		return strings.Repeat("*", len(r))
	}
	return string(r[:4]) + "…"
}

// allowed reports whether an allowance accepts a finding.
func allowed(allow []config.Allowance, object, field string) bool {
	for _, a := range allow {
		if a.Object == object && a.Field == field {
			return true
		}
	}
	return false
}

// credentials runs the secret guard over every string value of the object.
func (c *objectCheck) credentials(allow []config.Allowance) {
	// Allowances name objects as <component>/<Kind>/[<namespace>/]<name>.
	id := c.component + "/" + c.ref
	walkValues(c.obj, "", "", func(field, name, s string) {
		what, frag := credential(name, s)
		if what == "" || allowed(allow, id, field) {
			return
		}
		c.add(CheckCredential, field, guardHint(id, field),
			"value looks like %s (%s): rendered output must not contain credentials", what, redact(frag))
	})
}

func guardHint(object, field string) string {
	return fmt.Sprintf("take the value from a Secret (valueFrom.secretKeyRef) instead; if it is not a credential, add to overlays/fleet.yaml secretGuard.allow: {object: %q, field: %q, reason: ...}", object, field)
}

// walkValues calls fn for every string value under v with its field path and
// the name it is bound to: the map key, or the name of an env-style list
// item ({name, value}) for its value.
func walkValues(v any, p, name string, fn func(field, name, s string)) {
	switch t := v.(type) {
	case string:
		fn(p, name, t)
	case map[string]any:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		itemName, _ := t["name"].(string)
		for _, k := range keys {
			bound := k
			if k == "value" && itemName != "" {
				bound = itemName
			}
			walkValues(t[k], p+keySegment(k, p == ""), bound, fn)
		}
	case []any:
		for i, item := range t {
			walkValues(item, p+itemSegment(item, i), name, fn)
		}
	}
}

// AWSFile runs the secret guard over one AWS desired-state file (the YAML
// bytes under regions/<region>/aws/). file is the name reported in problems
// (repository-relative); allowances name it as aws/<base name>. A file that
// is not YAML is reported as a problem, since sync would reject it too.
func AWSFile(region, file string, data []byte, opts Options) []*Problem {
	id := "aws/" + path.Base(file)
	var out []*Problem
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for doc := 0; ; doc++ {
		var root yaml.Node
		err := dec.Decode(&root)
		if err != nil {
			if err.Error() != "EOF" {
				out = append(out, &Problem{Check: CheckSchema, Region: region, File: file, Component: "aws",
					Msg: "parsing YAML: " + err.Error(), Hint: "re-render to regenerate the file"})
			}
			break
		}
		walkNodes(&root, "", "", func(n *yaml.Node, field, name string) {
			what, frag := credential(name, n.Value)
			if what == "" || allowed(opts.Allow, id, field) {
				return
			}
			out = append(out, &Problem{Check: CheckCredential, Region: region, File: file, Line: n.Line, Component: "aws", Field: field,
				Msg:  fmt.Sprintf("value looks like %s (%s): the AWS desired state must not contain credentials", what, redact(frag)),
				Hint: guardHint(id, field)})
		})
	}
	return out
}

// walkNodes is walkValues for YAML nodes, keeping line numbers.
func walkNodes(n *yaml.Node, p, name string, fn func(n *yaml.Node, field, name string)) {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			walkNodes(c, p, name, fn)
		}
	case yaml.AliasNode:
		// Aliases repeat an anchored value already walked at its anchor.
	case yaml.ScalarNode:
		if n.Tag == "!!str" || n.Tag == "" {
			fn(n, p, name)
		}
	case yaml.MappingNode:
		itemName := ""
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == "name" && n.Content[i+1].Kind == yaml.ScalarNode {
				itemName = n.Content[i+1].Value
			}
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i].Value
			bound := k
			if k == "value" && itemName != "" {
				bound = itemName
			}
			walkNodes(n.Content[i+1], p+keySegment(k, p == ""), bound, fn)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			seg := "[" + strconv.Itoa(i) + "]"
			if c.Kind == yaml.MappingNode {
				for j := 0; j+1 < len(c.Content); j += 2 {
					if c.Content[j].Value == "name" && c.Content[j+1].Kind == yaml.ScalarNode && c.Content[j+1].Value != "" && !strings.ContainsAny(c.Content[j+1].Value, "[]") {
						seg = "[" + c.Content[j+1].Value + "]"
					}
				}
			}
			walkNodes(c, p+seg, name, fn)
		}
	}
}
