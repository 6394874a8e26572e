package validate

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode"

	"github.com/coderfleet/coderfleet/config"
	yaml "go.yaml.in/yaml/v3"
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

// suspect is what the guard found in a value: what it looks like (for the
// message), the suspected text (redacted before it is shown), and the hint
// of the fix.
type suspect struct {
	what, frag, hint string
}

// Hints of the fixes; guardHint adds how to accept a false positive.
const (
	hintSecretRef = "take the value from a Secret (valueFrom.secretKeyRef) instead; settings such as coder.env hold literals only, so remove the variable there and add it with valueFrom in an overlay patch (see overlays/README.md)"
	hintAWS       = "the AWS desired state is written by coderfleet render: remove the value from the file (or from what rendered it) and re-render; values in AWS tags, records and health checks are readable by everyone with read access to the account"
	hintTextRef   = "write a reference the program expands at run time (LiteLLM: os.environ/VAR; elsewhere ${VAR}) and set VAR from a Secret with valueFrom.secretKeyRef"
)

// credential returns what s looks like when it looks like a credential, or
// the zero suspect. name is the env var or map key the value belongs to (""
// when none); env tells that it is the value of a container env var.
func credential(name string, env bool, s string) suspect {
	// Each regular expression runs only when the literal text it needs is
	// there: most values are short and plain, and this runs on every one.
	if (strings.Contains(s, "AKIA") || strings.Contains(s, "ASIA")) && len(s) >= 20 {
		if m := accessKeyRE.FindStringSubmatch(s); m != nil {
			return suspect{"an AWS access key id", m[1], hintSecretRef}
		}
	}
	if len(s) == 40 && name != "" && secretNameRE.MatchString(name) && secretValueRE.MatchString(s) && looksRandom(s) {
		return suspect{"an AWS secret access key", s, hintSecretRef}
	}
	if len(s) >= 40 && strings.Contains(strings.ToLower(s), "aws_secret_access_key") {
		if m := secretInTextRE.FindStringSubmatch(s); m != nil && looksRandom(m[1]) {
			return suspect{"an AWS secret access key", m[1], hintSecretRef}
		}
	}
	if strings.Contains(s, "PRIVATE KEY") {
		if m := privateKeyRE.FindString(s); m != "" {
			return suspect{"a PEM private key", m, hintSecretRef}
		}
	}
	if strings.Contains(s, "eyJ") {
		if m := jwtRE.FindStringSubmatch(s); m != nil {
			return suspect{"a JSON Web Token", m[1], hintSecretRef}
		}
	}
	if strings.Contains(s, "://") && strings.Contains(s, "@") {
		for _, m := range urlPasswordRE.FindAllStringSubmatch(s, -1) {
			if m[1] != "" && !referenceRE.MatchString(m[1]) {
				return suspect{"a URL with a password", m[0], hintSecretRef}
			}
		}
	}
	if l := leaks().find(s); l.rule != "" {
		return suspect{fmt.Sprintf("a credential of the form gitleaks' rule %q describes", l.rule), l.secret, hintSecretRef}
	}
	if env {
		if suffix := envSecretSuffix(name); suffix != "" && literal(s) {
			return suspect{fmt.Sprintf("a credential written as a literal (the env var name ends in %s)", suffix), s, hintSecretRef}
		}
	} else if name != "" && secretKeyName(name) && literal(s) {
		return suspect{fmt.Sprintf("a credential written as a literal (key %q)", name), s, hintSecretRef}
	}
	if strings.Contains(s, "\n") {
		if key, v := literalInText(s); key != "" {
			return suspect{fmt.Sprintf("a credential written as a literal (key %q in the text)", key), v, hintTextRef}
		}
	}
	if !strings.Contains(s, "=") {
		return suspect{}
	}
	for _, m := range assignmentRE.FindAllStringSubmatch(s, -1) {
		v := strings.Trim(m[1], `"'`)
		if v != "" && !referenceRE.MatchString(v) {
			return suspect{"a password or token assignment", m[0], hintTextRef}
		}
	}
	return suspect{}
}

// envSecretSuffixes end the names of env vars that hold secrets by
// convention (OPENAI_API_KEY, GITHUB_TOKEN, CLIENT_SECRET, DB_PASSWORD).
var envSecretSuffixes = []string{"KEY", "TOKEN", "SECRET", "PASSWORD", "PASSWD"}

// envSecretSuffix returns the suffix of envSecretSuffixes that ends the env
// var name (any case), or "".
func envSecretSuffix(name string) string {
	up := strings.ToUpper(name)
	for _, s := range envSecretSuffixes {
		if strings.HasSuffix(up, s) {
			return s
		}
	}
	return ""
}

// secretKeySuffixes end the keys of configuration entries that hold
// secrets (api_key, apiKey, api-key, master_key, access_key, password,
// client_secret, auth_token), compared without case, '_', '-' and '.'.
// A bare "key" is too common (secretKeyRef.key, remoteRef.key) to count.
var secretKeySuffixes = []string{"apikey", "accesskey", "masterkey", "password", "passwd", "secret", "token"}

// secretKeyName reports whether a map or config key names a secret.
func secretKeyName(key string) bool {
	// Every suffix ends in y, d, t or n: most keys are out at their last byte.
	switch key[len(key)-1] | 0x20 {
	case 'y', 'd', 't', 'n':
	default:
		return false
	}
	norm := strings.Map(func(r rune) rune {
		switch r {
		case '_', '-', '.':
			return -1
		}
		return unicode.ToLower(r)
	}, key)
	for _, s := range secretKeySuffixes {
		if strings.HasSuffix(norm, s) {
			return true
		}
	}
	return false
}

// literal reports whether a value of a secret-named key is a literal: not
// empty, not a reference expanded later ($(VAR), ${VAR}, {{ ... }},
// os.environ/VAR), not a YAML null, and not an absolute file path (the
// secret lives in a mounted file).
func literal(v string) bool {
	v = strings.TrimSpace(v)
	switch {
	case v == "", v == "null", v == "~", referenceRE.MatchString(v):
		return false
	case strings.HasPrefix(v, "/") && !strings.ContainsAny(v, " \t"):
		return false
	}
	return true
}

// textEntryRE matches one "key: value" line of a YAML or JSON text (a list
// item's dash and JSON quotes allowed).
var textEntryRE = regexp.MustCompile(`(?m)^[ \t]*(?:-[ \t]+)?["']?([A-Za-z0-9_.-]+)["']?[ \t]*:[ \t]+(.*?)[ \t]*,?[ \t]*$`)

// literalInText returns the first entry of a YAML or JSON text (a
// ConfigMap's config.yaml, for example) whose key names a secret and whose
// value is a literal, with that value; or "" when there is none.
func literalInText(s string) (key, value string) {
	for _, m := range textEntryRE.FindAllStringSubmatch(s, -1) {
		if !secretKeyName(m[1]) {
			continue
		}
		v := strings.TrimSpace(m[2])
		if i := strings.Index(" "+v, " #"); i >= 0 {
			v = strings.TrimSpace(v[:i])
		}
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
			v = v[1 : len(v)-1]
		}
		if strings.HasPrefix(v, "|") || strings.HasPrefix(v, ">") || strings.HasPrefix(v, "{") || strings.HasPrefix(v, "[") {
			continue // a block or flow value: its lines are entries of their own
		}
		if literal(v) {
			return m[1], v
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
	isSecret := str(c.obj, "apiVersion") == "v1" && str(c.obj, "kind") == "Secret"
	walkValues(c.obj, "", "", func(field, name, s string) {
		if isSecret && (strings.HasPrefix(field, "data") || strings.HasPrefix(field, "stringData")) {
			return // secretData refuses every value there
		}
		sus := credential(name, isEnvValue(field), s)
		if sus.what == "" || allowed(allow, id, field) {
			return
		}
		c.add(CheckCredential, field, guardHint(sus.hint, id, field),
			"value looks like %s (%s): rendered output must not contain credentials", sus.what, redact(sus.frag))
		c.problems[len(c.problems)-1].Locate = sus.frag
	})
}

// isEnvValue reports whether a field path is that of a container env var's
// value (...env[NAME].value). It runs on every value, so no regexp.
func isEnvValue(field string) bool {
	item, ok := strings.CutSuffix(field, "].value")
	if !ok {
		return false
	}
	i := strings.LastIndex(item, ".env[")
	return i >= 0 && !strings.ContainsAny(item[i+len(".env["):], "[]")
}

func guardHint(fix, object, field string) string {
	return fmt.Sprintf("%s; if it is not a credential, add to overlays/fleet.yaml secretGuard.allow: {object: %q, field: %q, reason: ...}", fix, object, field)
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
// bytes under regions/<region>/aws/); render runs it on what it writes and
// coderfleet sync, through AWSTree, on what it reads. file is the name
// reported in problems (repository-relative); allowances name it as
// aws/<base name>. A file that is not YAML is reported as a problem, since
// sync would reject it too.
func AWSFile(region, file string, data []byte, opts Options) []*Problem {
	var out []*Problem
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for doc := 0; ; doc++ {
		var root yaml.Node
		err := dec.Decode(&root)
		if err != nil {
			if !errors.Is(err, io.EOF) {
				out = append(out, &Problem{Check: CheckSchema, Region: region, File: file, Component: "aws",
					Msg: "parsing YAML", Err: err, Hint: "re-render to regenerate the file"})
			}
			break
		}
		out = append(out, AWSTree(region, file, &root, opts)...)
	}
	return out
}

// AWSTree is AWSFile's guard over one document already parsed (its
// document or root node, as awsstate.ParseRoot returns it), so a reader
// that has parsed the file does not parse it again. Problems carry the
// nodes' lines.
func AWSTree(region, file string, root *yaml.Node, opts Options) []*Problem {
	id := "aws/" + path.Base(file)
	var out []*Problem
	walkNodes(root, "", "", func(n *yaml.Node, field, name string) {
		sus := credential(name, false, n.Value)
		if sus.what == "" || allowed(opts.Allow, id, field) {
			return
		}
		out = append(out, &Problem{Check: CheckCredential, Region: region, File: file, Line: n.Line, Component: "aws", Field: field,
			Msg:  fmt.Sprintf("value looks like %s (%s): the AWS desired state must not contain credentials", sus.what, redact(sus.frag)),
			Hint: guardHint(hintAWS, id, field)})
	})
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
