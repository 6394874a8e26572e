package config

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/coderfleet/coderfleet/internal/awsrules"
)

// iamActionRE matches an IAM action as a policy names it: service:Action,
// where the action may hold the wildcards * and ? (IAM policy grammar), or
// "*" alone.
var iamActionRE = regexp.MustCompile(`^(\*|[a-z0-9-]+:[A-Za-z0-9*?]+)$`)

// iam checks the iam settings: the mode and the wildcard allowances.
func (c *checker) iam(s *Settings, at awsPlace) {
	c.oneOf("iam.mode", s.IAM.Mode, IAMManaged, IAMExternal)
	for i, a := range s.IAM.AllowWildcards {
		key := fmt.Sprintf("iam.allowWildcards[%d]", i)
		if strings.TrimSpace(a.Role) == "" {
			c.fail(key+".role", "the role's name as roles.yaml writes it, such as {cluster}-provisioner-coder-ws", "role is empty")
		} else {
			c.aws(key+".role", awsrules.RoleName(a.Role, "the role's name as roles.yaml writes it, such as {cluster}-provisioner-coder-ws (placeholders count once expanded)"))
		}
		if !iamActionRE.MatchString(a.Action) {
			c.fail(key+".action", "write the action as the statement does, such as s3:* or ec2:RunInstances", "%q is not an IAM action", a.Action)
		}
		if strings.TrimSpace(a.Reason) == "" {
			c.fail(key+".reason", "say why the role needs it; a reviewer reads it", "reason is empty")
		}
	}
}

// managedOnly refuses a written key that only iam.mode managed uses.
func (c *checker) managedOnly(key string) {
	if _, written := c.pos[join(c.prefix, key)]; written && !c.managed {
		c.fail(key, "remove it, or set iam.mode: managed so that coderfleet makes the roles", "%s is set, but iam.mode is external: coderfleet makes no roles, so it would be ignored", key)
	}
}

// workspaceIAM checks a workspace namespace's provisioner permissions.
func (c *checker) workspaceIAM(key string, w WorkspaceIAM) {
	c.managedOnly(key)
	for i, p := range w.ManagedPolicies {
		c.aws(fmt.Sprintf("%s.managedPolicies[%d]", key, i), awsrules.ManagedPolicyARN(p))
	}
	for i, st := range w.Statements {
		sk := fmt.Sprintf("%s.statements[%d]", key, i)
		if st.Sid != "" && !sidRE.MatchString(st.Sid) {
			c.fail(sk+".sid", "letters and digits only", "%q is not a statement id", st.Sid)
		}
		if len(st.Actions) == 0 {
			c.fail(sk+".actions", "list the actions, such as s3:GetObject", "a statement needs at least one action")
		}
		for j, a := range st.Actions {
			if !iamActionRE.MatchString(a) {
				c.fail(fmt.Sprintf("%s.actions[%d]", sk, j), "write service:Action, such as s3:GetObject", "%q is not an IAM action", a)
			}
		}
		if len(st.Resources) == 0 {
			c.fail(sk+".resources", "list the resource ARNs, or \"*\" for actions that take no resource", "a statement needs at least one resource")
		}
		for j, r := range st.Resources {
			if r != "*" && !strings.HasPrefix(r, "arn:") {
				c.fail(fmt.Sprintf("%s.resources[%d]", sk, j), "write an ARN (wildcards allowed), or \"*\"", "%q is not a resource ARN", r)
			}
		}
	}
}

// sidRE is IAM's statement id: letters and digits.
var sidRE = regexp.MustCompile(`^[A-Za-z0-9]+$`)

// clearRoleARNs empties the role ARN settings, which only iam.mode
// external uses: in managed mode their defaults must not reach the
// templates.
func clearRoleARNs(s *Settings) {
	s.Coder.ServiceAccountRoleARN, s.LiteLLM.RoleARN, s.KeySync.RoleARN, s.KeySync.RotateRoleARN, s.Secrets.RoleARN = "", "", "", "", ""
	for i := range s.WorkspaceNamespaces {
		s.WorkspaceNamespaces[i].RoleARN = ""
	}
	for _, a := range s.Addons {
		a.RoleARN = ""
	}
}
