package validate

import (
	"fmt"
	"strings"
	"unicode"

	"go.yaml.in/yaml/v3"

	"github.com/coderfleet/coderfleet/awsstate"
	"github.com/coderfleet/coderfleet/config"
)

// CheckLeastPrivilege is a role policy statement that grants more than
// least privilege: a wildcard action, or a write action on every resource.
const CheckLeastPrivilege Check = "least-privilege"

// readPrefixes start the names of the actions AWS classifies as reads or
// lists (GetObject, ListBuckets, DescribeInstances, BatchGetItem).
var readPrefixes = []string{"Get", "List", "Describe", "BatchGet"}

// IsReadAction reports whether action (service:Name) only reads: its name
// starts with Get, List, Describe or BatchGet followed by an upper-case
// letter, and holds no wildcard. Any other action, and any action with * or
// ?, counts as a write.
func IsReadAction(action string) bool {
	_, name, ok := strings.Cut(action, ":")
	if !ok || strings.ContainsAny(name, "*?") {
		return false
	}
	for _, p := range readPrefixes {
		if rest, ok := strings.CutPrefix(name, p); ok && rest != "" && unicode.IsUpper([]rune(rest)[0]) {
			return true
		}
	}
	return false
}

// isServiceWildcard reports whether action is "*" or "<service>:*": every
// action, or every action of a service.
func isServiceWildcard(action string) bool {
	_, name, ok := strings.Cut(action, ":")
	return action == "*" || (ok && name == "*")
}

// RolePolicies runs the least-privilege check over a roles.yaml (data,
// reported as file) of region: every Allow statement of every inline
// policy is refused when an action is "*" or "<service>:*", or when it
// allows a write action (see IsReadAction) on resource "*". A refused
// action of a role passes when allow (iam.allowWildcards) names the role
// and the action. Each problem names the role, policy and statement, at
// the statement's line. A file that does not parse as a RoleList yields no
// problems (awsstate.Parse reports it).
func RolePolicies(region, file string, data []byte, allow []config.WildcardAllowance) []*Problem {
	f, err := awsstate.Parse(file, data)
	if err != nil || f.Kind != awsstate.KindRoleList {
		return nil
	}
	var root yaml.Node
	_ = yaml.Unmarshal(data, &root) // it parsed above
	allowed := map[[2]string]bool{}
	for _, a := range allow {
		allowed[[2]string{a.Role, a.Action}] = true
	}
	var out []*Problem
	for i, r := range f.Roles {
		for j, p := range r.InlinePolicies {
			for k, st := range p.Document.Statement {
				if st.Effect != "Allow" {
					continue
				}
				field := fmt.Sprintf("roles[%s].inlinePolicies[%s].document.Statement[%d]", r.Name, p.Name, k)
				where := fmt.Sprintf("role %s, inline policy %s, statement %d", r.Name, p.Name, k)
				if st.Sid != "" {
					where += " (Sid " + st.Sid + ")"
				}
				line := lineAt(&root, "roles", i, "inlinePolicies", j, "document", "Statement", k)
				everything := false
				for _, res := range st.Resource {
					everything = everything || res == "*"
				}
				for _, a := range st.Action {
					var why string
					switch {
					case isServiceWildcard(a):
						why = fmt.Sprintf("action %q grants every action of %s", a, map[bool]string{true: "every service", false: "the service"}[a == "*"])
					case everything && !IsReadAction(a):
						why = fmt.Sprintf("write action %q is allowed on resource \"*\" (every resource of the account)", a)
					default:
						continue
					}
					if allowed[[2]string{r.Name, a}] {
						continue
					}
					out = append(out, &Problem{Check: CheckLeastPrivilege, Region: region, File: file, Line: line, Component: "aws", Field: field,
						Msg: fmt.Sprintf("%s: %s; IAM roles get least privilege (only Get*, List*, Describe* and BatchGet* actions may name \"*\")", where, why),
						Hint: fmt.Sprintf("name the actions one by one and the resource ARNs they act on (for workspaceNamespaces[].iam.statements, in the overlay); if the role truly needs it, add {role: %s, action: %q, reason: <why>} to iam.allowWildcards",
							r.Name, a)})
				}
			}
		}
	}
	return out
}

// lineAt returns the line of the node at path (mapping keys and sequence
// indexes) under a YAML document, or 0.
func lineAt(doc *yaml.Node, path ...any) int {
	n := doc
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	for _, step := range path {
		var next *yaml.Node
		switch s := step.(type) {
		case string:
			for i := 0; n.Kind == yaml.MappingNode && i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == s {
					next = n.Content[i+1]
				}
			}
		case int:
			if n.Kind == yaml.SequenceNode && s < len(n.Content) {
				next = n.Content[s]
			}
		}
		if next == nil {
			return 0
		}
		n = next
	}
	return n.Line
}
