package sync

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/coderfleet/coderfleet/awsstate"
	"github.com/pmezard/go-difflib/difflib"
)

// roleOp is what applying a role change needs.
type roleOp struct {
	desired awsstate.Role
	// trust is the desired trust policy (TrustPolicy).
	trust  string
	actual *Role
}

// Field names of a role change whose values are policy documents: the text
// plan shows them as a diff of indented JSON.
const (
	fieldTrust        = "trust"
	fieldInlinePrefix = "inline-policy "
)

func isPolicyField(name string) bool {
	return name == fieldTrust || strings.HasPrefix(name, fieldInlinePrefix)
}

// planRoles plans the desired roles against those read. A role whose
// cluster EKS does not know yet waits (its trust policy is known only once
// the cluster's OIDC issuer is); a role of that name the fleet does not own
// (or owned by another region) is a conflict, never changed; an owned role
// gets its description, trust policy, inline and managed policies and tags
// made equal to the desired ones. Owned roles outside the desired state
// are deleted only with --prune.
func planRoles(p *Plan, d *Desired, a *Actual, pol Policy) (changes, deletes []Change) {
	wanted := map[string]bool{}
	for _, r := range d.Regions {
		for _, want := range r.Roles {
			wanted[want.Name] = true
			addr := r.Region + "/" + want.Name
			var cur *Role
			for i := range a.Roles {
				if a.Roles[i].Name == want.Name {
					cur = &a.Roles[i]
				}
			}
			if cur != nil && (!cur.Owned || cur.Region != r.Region || cur.Path != want.Path) {
				why := fmt.Sprintf("an IAM role of this name exists without the tag %s=%s; coderfleet never modifies it (hint: delete or rename it, or give the cluster another name)", awsstate.TagFleet, d.Fleet)
				switch {
				case cur.Owned && cur.Region != r.Region:
					why = fmt.Sprintf("the role belongs to region %s of the fleet (tag %s)", cur.Region, awsstate.TagRegion)
				case cur.Owned:
					why = fmt.Sprintf("the role's path is %s, not %s, and IAM cannot move a role (hint: delete it; the next apply creates it under %s)", cur.Path, want.Path, want.Path)
				}
				p.Conflicts = append(p.Conflicts, Conflict{Resource: ResourceRole, Record: addr, Reason: why})
				continue
			}
			c := a.Clusters[clusterKey(want.Cluster)]
			if c == nil || !c.Found {
				p.Waiting = append(p.Waiting, Waiting{Region: r.Region, Role: want.Name, ServiceAccount: want.ServiceAccount.Namespace + "/" + want.ServiceAccount.Name,
					Cluster: want.Cluster.Name, AWSRegion: want.Cluster.AWSRegion})
				continue
			}
			trust := TrustPolicy(c.ProviderARN, c.Issuer, want.ServiceAccount)
			op := &roleOp{desired: want, trust: trust, actual: cur}
			if cur == nil {
				changes = append(changes, Change{Action: Create, Resource: ResourceRole, Region: r.Region, Address: addr,
					Fields: roleFields(nil, want, trust), role: op})
				continue
			}
			if f := roleFields(cur, want, trust); len(f) > 0 {
				changes = append(changes, Change{Action: Update, Resource: ResourceRole, Region: r.Region, Address: addr, Fields: f, role: op})
			}
		}
	}
	for i := range a.Roles {
		cur := &a.Roles[i]
		if !cur.Owned || wanted[cur.Name] {
			continue
		}
		addr := cur.Region + "/" + cur.Name
		if !pol.Prune {
			p.Kept++
			p.Notes = append(p.Notes, fmt.Sprintf("IAM role %s is %s; kept (use --prune to delete it)", addr, goneReason(d, cur.Region)))
			continue
		}
		f := []Field{{Name: "arn", Old: cur.ARN}}
		for _, n := range slices.Sorted(maps.Keys(cur.Inline)) {
			f = append(f, Field{Name: fieldInlinePrefix + n, Old: cur.Inline[n]})
		}
		if len(cur.Managed) > 0 {
			f = append(f, Field{Name: "managed-policies", Old: strings.Join(cur.Managed, ", ")})
		}
		deletes = append(deletes, Change{Action: Delete, Resource: ResourceRole, Region: cur.Region, Address: addr,
			Reason: goneReason(d, cur.Region), Fields: f, role: &roleOp{actual: cur}})
	}
	return changes, deletes
}

// roleFields lists what differs between cur (nil: the role does not exist)
// and the desired role with trust policy trust.
func roleFields(cur *Role, want awsstate.Role, trust string) []Field {
	var f []Field
	if cur == nil {
		f = append(f, Field{Name: "path", New: want.Path})
		if want.Description != "" {
			f = append(f, Field{Name: "description", New: want.Description})
		}
		f = append(f, Field{Name: "service-account", New: want.ServiceAccount.Subject()},
			Field{Name: "cluster", New: want.Cluster.Name + " (" + want.Cluster.AWSRegion + ")"},
			Field{Name: fieldTrust, New: trust})
		for _, ip := range want.InlinePolicies {
			f = append(f, Field{Name: fieldInlinePrefix + ip.Name, New: policyJSON(ip.Document)})
		}
		if len(want.ManagedPolicies) > 0 {
			f = append(f, Field{Name: "managed-policies", New: strings.Join(want.ManagedPolicies, ", ")})
		}
		return append(f, Field{Name: "tags", New: tagString(want.Tags)})
	}
	if !cur.DescriptionUnread && cur.Description != want.Description {
		f = append(f, Field{Name: "description", Old: cur.Description, New: want.Description})
	}
	if !samePolicy(cur.Trust, trust) {
		f = append(f, Field{Name: fieldTrust, Old: cur.Trust, New: trust})
	}
	desired := map[string]string{}
	for _, ip := range want.InlinePolicies {
		desired[ip.Name] = policyJSON(ip.Document)
	}
	for _, n := range slices.Sorted(maps.Keys(mergeKeys(cur.Inline, desired))) {
		old, oldOK := cur.Inline[n]
		nw, newOK := desired[n]
		if oldOK && newOK && samePolicy(old, nw) {
			continue
		}
		f = append(f, Field{Name: fieldInlinePrefix + n, Old: old, New: nw})
	}
	managed := slices.Sorted(slices.Values(want.ManagedPolicies))
	if !slices.Equal(cur.Managed, managed) {
		f = append(f, Field{Name: "managed-policies", Old: strings.Join(cur.Managed, ", "), New: strings.Join(managed, ", ")})
	}
	if !equalTags(cur.Tags, want.Tags) {
		f = append(f, Field{Name: "tags", Old: tagString(userTags(cur.Tags)), New: tagString(want.Tags)})
	}
	return f
}

func mergeKeys(a, b map[string]string) map[string]bool {
	out := map[string]bool{}
	for k := range a {
		out[k] = true
	}
	for k := range b {
		out[k] = true
	}
	return out
}

// policyDiff shows the change from policy document old to new ("" for
// none) as terraform plan does: both indented with sorted keys, each line
// prefixed "+ " (added), "- " (removed) or "  " (kept).
func policyDiff(old, new string) []string {
	split := func(s string) []string {
		if s == "" {
			return nil
		}
		return strings.Split(prettyPolicy(s), "\n")
	}
	a, b := split(old), split(new)
	var out []string
	for _, op := range difflib.NewMatcher(a, b).GetOpCodes() {
		switch op.Tag {
		case 'e':
			for _, l := range a[op.I1:op.I2] {
				out = append(out, "  "+l)
			}
		default:
			for _, l := range a[op.I1:op.I2] {
				out = append(out, "- "+l)
			}
			for _, l := range b[op.J1:op.J2] {
				out = append(out, "+ "+l)
			}
		}
	}
	return out
}

// applyRole makes a role change. IAM is eventually consistent: calls on a
// role just created may fail with NoSuchEntity for a few seconds (IAM User
// Guide, "Changes that I make are not always immediately visible"), so they
// are retried as throttling is (callFresh).
func (s *syncer) applyRole(ctx context.Context, c Change) error {
	op := c.role
	client := s.opts.Clients.IAM
	if c.Action == Delete {
		return s.deleteRole(ctx, op.actual)
	}
	want := op.desired
	name := ptr(want.Name)
	fresh := false
	if op.actual == nil {
		in := &iam.CreateRoleInput{RoleName: name, Path: ptr(want.Path), AssumeRolePolicyDocument: ptr(op.trust), Tags: iamTags(want.Tags)}
		if want.Description != "" {
			in.Description = ptr(want.Description)
		}
		cr, err := s.call(ctx, "creating IAM role "+want.Name, func(ctx context.Context) error {
			_, err := client.CreateRole(ctx, in)
			return err
		})
		if err != nil && !(cr.ambiguous && errorCode(err) == "EntityAlreadyExists") {
			return err
		}
		fresh = true
	}
	cur := op.actual
	if cur == nil {
		cur = &Role{Description: want.Description, Trust: op.trust, Tags: want.Tags}
	}
	step := func(what string, fn func(ctx context.Context) error) error {
		return s.callFresh(ctx, fresh, what+" of IAM role "+want.Name, fn)
	}
	if cur.Description != want.Description {
		if err := step("updating the description", func(ctx context.Context) error {
			_, err := client.UpdateRole(ctx, &iam.UpdateRoleInput{RoleName: name, Description: ptr(want.Description)})
			return err
		}); err != nil {
			return err
		}
	}
	if !samePolicy(cur.Trust, op.trust) {
		if err := step("updating the trust policy", func(ctx context.Context) error {
			_, err := client.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{RoleName: name, PolicyDocument: ptr(op.trust)})
			return err
		}); err != nil {
			return err
		}
	}
	desired := map[string]bool{}
	for _, ip := range want.InlinePolicies {
		desired[ip.Name] = true
		doc := policyJSON(ip.Document)
		if old, ok := cur.Inline[ip.Name]; ok && samePolicy(old, doc) {
			continue
		}
		if err := step("putting inline policy "+ip.Name, func(ctx context.Context) error {
			_, err := client.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: name, PolicyName: ptr(ip.Name), PolicyDocument: ptr(doc)})
			return err
		}); err != nil {
			return err
		}
	}
	for _, n := range slices.Sorted(maps.Keys(cur.Inline)) {
		if desired[n] {
			continue
		}
		if err := step("deleting inline policy "+n, func(ctx context.Context) error {
			_, err := client.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: name, PolicyName: ptr(n)})
			return err
		}); err != nil && errorCode(err) != "NoSuchEntity" {
			return err
		}
	}
	for _, arn := range want.ManagedPolicies {
		if slices.Contains(cur.Managed, arn) {
			continue
		}
		if err := step("attaching managed policy "+arn, func(ctx context.Context) error {
			_, err := client.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: name, PolicyArn: ptr(arn)})
			return err
		}); err != nil {
			return err
		}
	}
	for _, arn := range cur.Managed {
		if slices.Contains(want.ManagedPolicies, arn) {
			continue
		}
		if err := step("detaching managed policy "+arn, func(ctx context.Context) error {
			_, err := client.DetachRolePolicy(ctx, &iam.DetachRolePolicyInput{RoleName: name, PolicyArn: ptr(arn)})
			return err
		}); err != nil && errorCode(err) != "NoSuchEntity" {
			return err
		}
	}
	set, remove := tagDiff(cur.Tags, want.Tags)
	if len(set) > 0 {
		if err := step("tagging", func(ctx context.Context) error {
			_, err := client.TagRole(ctx, &iam.TagRoleInput{RoleName: name, Tags: iamTags(set)})
			return err
		}); err != nil {
			return err
		}
	}
	if len(remove) > 0 {
		if err := step("untagging", func(ctx context.Context) error {
			_, err := client.UntagRole(ctx, &iam.UntagRoleInput{RoleName: name, TagKeys: remove})
			return err
		}); err != nil {
			return err
		}
	}
	return nil
}

// deleteRole deletes an owned role as IAM requires: managed policies
// detached and inline policies deleted first. A role or policy already
// gone is not an error (a killed run may have removed part of it).
func (s *syncer) deleteRole(ctx context.Context, r *Role) error {
	client := s.opts.Clients.IAM
	name := ptr(r.Name)
	gone := func(err error) error {
		if errorCode(err) == "NoSuchEntity" {
			return nil
		}
		return err
	}
	for _, arn := range r.Managed {
		if _, err := s.call(ctx, "detaching "+arn+" from IAM role "+r.Name, func(ctx context.Context) error {
			_, err := client.DetachRolePolicy(ctx, &iam.DetachRolePolicyInput{RoleName: name, PolicyArn: ptr(arn)})
			return err
		}); gone(err) != nil {
			return err
		}
	}
	for _, n := range slices.Sorted(maps.Keys(r.Inline)) {
		if _, err := s.call(ctx, "deleting inline policy "+n+" of IAM role "+r.Name, func(ctx context.Context) error {
			_, err := client.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: name, PolicyName: ptr(n)})
			return err
		}); gone(err) != nil {
			return err
		}
	}
	_, err := s.call(ctx, "deleting IAM role "+r.Name, func(ctx context.Context) error {
		_, err := client.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: name})
		return err
	})
	return gone(err)
}

// callFresh is call, and when fresh (the role was created by this apply)
// it also retries NoSuchEntity with the retry policy's backoff: IAM may
// not show a new role to every endpoint for a few seconds.
func (s *syncer) callFresh(ctx context.Context, fresh bool, what string, fn func(ctx context.Context) error) error {
	if !fresh {
		_, err := s.call(ctx, what, fn)
		return err
	}
	p := s.retryPolicy()
	backoff := p.backoff()
	for attempt := 1; ; attempt++ {
		_, err := s.call(ctx, what, fn)
		if errorCode(err) != "NoSuchEntity" || attempt >= p.MaxAttempts {
			return err
		}
		delay, derr := backoff.BackoffDelay(attempt, errNotReady)
		if derr != nil {
			return fmt.Errorf("%s: computing the retry delay: %w", what, derr)
		}
		s.retries.Add(1)
		s.progressf("  retrying %s in %s: NoSuchEntity (IAM has not propagated the new role yet)\n", what, delay.Round(1e6))
		if err := s.clock.Sleep(ctx, delay); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
	}
}
