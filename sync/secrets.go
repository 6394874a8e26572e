package sync

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/coderfleet/coderfleet/awsstate"
)

// Secret is a Secrets Manager secret as sync read it (never its value):
// the secrets of the fleet and those named like desired ones.
type Secret struct {
	Name        string            `json:"name"`
	ARN         string            `json:"arn"`
	AWSRegion   string            `json:"awsRegion"`
	Description string            `json:"description,omitempty"`
	KMSKeyID    string            `json:"kmsKeyId,omitempty"`
	Tags        map[string]string `json:"tags,omitempty"`
	// Owned is true when the secret carries coderfleet.io/fleet=<fleet> and
	// a coderfleet.io/name tag.
	Owned bool `json:"owned"`
	// Region is the coderfleet.io/region tag.
	Region string `json:"region,omitempty"`
	// Deleted is true when the secret is scheduled for deletion (in its
	// recovery window).
	Deleted bool `json:"deleted,omitempty"`
	// CoderObject is the coderfleet.io/coder-object tag of a Coder token
	// secret ("workspace-proxy/<name>", "provisioner-key/<org>/<name>");
	// the Coder planner owns such secrets, the secrets.yaml planner
	// ignores them.
	CoderObject string `json:"coderObject,omitempty"`
	// CoderID is the coderfleet.io/coder-id tag: the ID of the Coder
	// object whose token the secret holds; empty while it is pending.
	CoderID string `json:"coderId,omitempty"`
	// HasValue is true when the secret has a version labelled AWSCURRENT
	// (ListSecrets SecretVersionsToStages); its value is never read.
	HasValue bool `json:"hasValue,omitempty"`
}

// secretRegions are the AWS regions whose secrets a run reads: those of
// the desired secrets, and every AWS region the fleet has used (the
// registry and the records' latency regions, see usedAWSRegions), so the
// secrets of a removed region folder are found for --prune.
func secretRegions(d *Desired, a *Actual) []string {
	set := map[string]bool{}
	for _, r := range d.Regions {
		for _, sec := range desiredSecrets(r) {
			set[sec.AWSRegion] = true
		}
		for _, c := range r.Certificates {
			set[c.AWSRegion] = true
		}
	}
	for _, z := range a.Zones {
		for _, ar := range usedAWSRegions(z, d.Fleet) {
			set[ar] = true
		}
	}
	return slices.Sorted(maps.Keys(set))
}

// readSecrets lists the secrets of each AWS region of secretRegions,
// those scheduled for deletion included, and keeps the fleet's (in scope)
// and those named like a desired secret. It never reads a value.
func (s *syncer) readSecrets(ctx context.Context, d *Desired, a *Actual) error {
	desired := map[string]bool{}
	for _, r := range d.Regions {
		for _, sec := range desiredSecrets(r) {
			desired[sec.AWSRegion+" "+sec.Name] = true
		}
	}
	if s.opts.Clients.SecretsManager == nil {
		if len(desired) > 0 {
			return fmt.Errorf("sync: Options.Clients.SecretsManager is not set but secrets.yaml, workspaceproxies.yaml or provisionerkeys.yaml lists secrets")
		}
		return nil
	}
	ars := secretRegions(d, a)
	found := make([][]Secret, len(ars))
	if err := s.each(ctx, len(ars), func(ctx context.Context, i int) (err error) {
		found[i], err = s.listSecrets(ctx, d, ars[i], desired)
		return err
	}); err != nil {
		return err
	}
	a.Secrets = slices.Concat(found...)
	sort.Slice(a.Secrets, func(i, j int) bool {
		x, y := a.Secrets[i], a.Secrets[j]
		return x.AWSRegion+" "+x.Name < y.AWSRegion+" "+y.Name
	})
	return nil
}

// listSecrets lists the secrets of AWS region ar, those scheduled for
// deletion included, and keeps the fleet's (in scope) and those desired
// (desired holds "awsRegion name").
func (s *syncer) listSecrets(ctx context.Context, d *Desired, ar string, desired map[string]bool) ([]Secret, error) {
	var secs []Secret
	c := s.opts.Clients.SecretsManager(ar)
	var token *string
	for {
		var out *secretsmanager.ListSecretsOutput
		_, err := s.call(ctx, "listing Secrets Manager secrets in "+ar, func(ctx context.Context) (err error) {
			out, err = c.ListSecrets(ctx, &secretsmanager.ListSecretsInput{NextToken: token, IncludePlannedDeletion: ptr(true)})
			return err
		})
		if err != nil {
			return nil, err
		}
		for _, e := range out.SecretList {
			sec := Secret{Name: deref(e.Name), ARN: deref(e.ARN), AWSRegion: ar, Description: deref(e.Description),
				KMSKeyID: deref(e.KmsKeyId), Tags: map[string]string{}, Deleted: e.DeletedDate != nil}
			for _, t := range e.Tags {
				sec.Tags[deref(t.Key)] = deref(t.Value)
			}
			sec.Region = sec.Tags[awsstate.TagRegion]
			sec.Owned = sec.Tags[awsstate.TagFleet] == d.Fleet && sec.Tags[awsstate.TagName] != ""
			sec.CoderObject, sec.CoderID = sec.Tags[TagCoderObject], sec.Tags[TagCoderID]
			for _, stages := range e.SecretVersionsToStages {
				if slices.Contains(stages, "AWSCURRENT") {
					sec.HasValue = true
				}
			}
			if !desired[ar+" "+sec.Name] && (!sec.Owned || !d.inScope(sec.Region)) {
				continue
			}
			secs = append(secs, sec)
		}
		if deref(out.NextToken) == "" {
			break
		}
		token = out.NextToken
	}
	return secs, nil
}

// desiredSecrets lists the secrets region r wants: those of secrets.yaml
// and the token secrets of its workspace proxies and provisioner keys.
func desiredSecrets(r RegionState) []awsstate.Secret {
	out := slices.Clone(r.Secrets)
	for _, p := range r.WorkspaceProxies {
		out = append(out, p.TokenSecret)
	}
	for _, k := range r.ProvisionerKeys {
		out = append(out, k.TokenSecret)
	}
	return out
}

// secretOp is what applying a secret change needs.
type secretOp struct {
	desired awsstate.Secret
	actual  *Secret
}

// planSecrets plans the desired secrets against those read: a missing one
// is created (without a value), an owned one gets its description, KMS key
// and tags updated (and is restored when scheduled for deletion), one of
// that name the fleet does not own is a conflict. Owned secrets outside the
// desired state are deleted (with the default recovery window) only with
// --prune.
func planSecrets(p *Plan, d *Desired, a *Actual, pol Policy) (changes, deletes []Change) {
	wanted := map[string]bool{}
	for _, r := range d.Regions {
		for _, want := range r.Secrets {
			k := want.AWSRegion + " " + want.Name
			wanted[k] = true
			addr := r.Region + "/" + want.Name
			var cur *Secret
			for i := range a.Secrets {
				if a.Secrets[i].AWSRegion+" "+a.Secrets[i].Name == k {
					cur = &a.Secrets[i]
				}
			}
			switch {
			case cur == nil:
				f := []Field{{Name: "aws-region", New: want.AWSRegion}}
				if want.Description != "" {
					f = append(f, Field{Name: "description", New: want.Description})
				}
				if want.KMSKeyID != "" {
					f = append(f, Field{Name: "kms-key", New: want.KMSKeyID})
				}
				f = append(f, Field{Name: "tags", New: tagString(want.Tags)}, Field{Name: "value", New: "(none: sync never writes a value)"})
				changes = append(changes, Change{Action: Create, Resource: ResourceSecret, Region: r.Region, Address: addr, Fields: f,
					secret: &secretOp{desired: want}})
			case !cur.Owned || cur.Region != r.Region:
				why := fmt.Sprintf("a secret of this name exists in %s without the tag %s=%s; coderfleet never modifies it (hint: delete or rename it, or tag it if it is the fleet's)", want.AWSRegion, awsstate.TagFleet, d.Fleet)
				if cur.Owned {
					why = fmt.Sprintf("the secret belongs to region %s of the fleet (tag %s)", cur.Region, awsstate.TagRegion)
				}
				p.Conflicts = append(p.Conflicts, Conflict{Resource: ResourceSecret, Zone: want.AWSRegion, Record: addr, Reason: why})
			default:
				f := secretFields("", cur, userTags(cur.Tags), want)
				if len(f) > 0 {
					changes = append(changes, Change{Action: Update, Resource: ResourceSecret, Region: r.Region, Address: addr, Fields: f,
						secret: &secretOp{desired: want, actual: cur}})
				}
			}
		}
	}
	for i := range a.Secrets {
		cur := &a.Secrets[i]
		// A Coder token secret belongs to the Coder planner (planCoder).
		if !cur.Owned || cur.Deleted || wanted[cur.AWSRegion+" "+cur.Name] || cur.CoderObject != "" {
			continue
		}
		addr := cur.Region + "/" + cur.Name
		if !pol.Prune {
			p.Kept++
			p.Notes = append(p.Notes, fmt.Sprintf("secret %s (%s) is %s; kept (use --prune to delete it)", addr, cur.AWSRegion, goneReason(d, cur.Region)))
			continue
		}
		deletes = append(deletes, Change{Action: Delete, Resource: ResourceSecret, Region: cur.Region, Address: addr,
			Reason: goneReason(d, cur.Region) + "; recoverable for 30 days", Fields: []Field{{Name: "arn", Old: cur.ARN}}, secret: &secretOp{actual: cur}})
	}
	return changes, deletes
}

// secretFields are the differences between an existing secret cur, whose
// tags to compare are have, and want: restore, description, KMS key and
// tags, each field's name after prefix.
func secretFields(prefix string, cur *Secret, have map[string]string, want awsstate.Secret) []Field {
	var f []Field
	if cur.Deleted {
		f = append(f, Field{Name: prefix + "scheduled-deletion", Old: "true", New: "false (restored)"})
	}
	if cur.Description != want.Description {
		f = append(f, Field{Name: prefix + "description", Old: cur.Description, New: want.Description})
	}
	if want.KMSKeyID != "" && cur.KMSKeyID != want.KMSKeyID {
		f = append(f, Field{Name: prefix + "kms-key", Old: cur.KMSKeyID, New: want.KMSKeyID})
	}
	if !maps.Equal(have, userTags(want.Tags)) {
		f = append(f, Field{Name: prefix + "tags", Old: tagString(have), New: tagString(want.Tags)})
	}
	return f
}

// userTags leaves out the tags AWS reserves (aws:*), which nobody can set or remove.
func userTags(m map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		if !strings.HasPrefix(k, "aws:") {
			out[k] = v
		}
	}
	return out
}

// equalTags reports whether have holds exactly the tags of want, AWS's
// reserved tags aside.
func equalTags(have, want map[string]string) bool {
	return maps.Equal(userTags(have), userTags(want))
}

// tagDiff returns the tags to set and the keys to remove to turn have into want.
func tagDiff(have, want map[string]string) (set map[string]string, remove []string) {
	set = map[string]string{}
	for k, v := range want {
		if have[k] != v || !hasKey(have, k) {
			set[k] = v
		}
	}
	for k := range userTags(have) {
		if !hasKey(want, k) {
			remove = append(remove, k)
		}
	}
	sort.Strings(remove)
	return set, remove
}

func hasKey(m map[string]string, k string) bool {
	_, ok := m[k]
	return ok
}

// applySecret makes a secret change. A secret is created with its name,
// description, KMS key and tags and no SecretString or SecretBinary, so
// it has no version until its writer puts one; a deletion keeps the default
// 30-day recovery window (Secrets Manager API Reference, DeleteSecret) so
// a mistaken --prune can be undone with RestoreSecret.
func (s *syncer) applySecret(ctx context.Context, c Change) error {
	op := c.secret
	if c.Action == Delete {
		cl := s.opts.Clients.SecretsManager(op.actual.AWSRegion)
		_, err := s.call(ctx, "deleting secret "+op.actual.Name+" in "+op.actual.AWSRegion, func(ctx context.Context) error {
			_, err := cl.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: ptr(op.actual.ARN)})
			return err
		})
		if errorCode(err) == "ResourceNotFoundException" {
			return nil
		}
		return err
	}
	want := op.desired
	cl := s.opts.Clients.SecretsManager(want.AWSRegion)
	what := "secret " + want.Name + " in " + want.AWSRegion
	if op.actual == nil {
		in := &secretsmanager.CreateSecretInput{Name: ptr(want.Name), Tags: smTags(want.Tags)}
		if want.Description != "" {
			in.Description = ptr(want.Description)
		}
		if want.KMSKeyID != "" {
			in.KmsKeyId = ptr(want.KMSKeyID)
		}
		cr, err := s.call(ctx, "creating "+what, func(ctx context.Context) error {
			_, err := cl.CreateSecret(ctx, in)
			return err
		})
		if cr.ambiguous && errorCode(err) == "ResourceExistsException" {
			return nil // the first, failed-looking attempt made it
		}
		return err
	}
	id := ptr(op.actual.ARN)
	if op.actual.Deleted {
		if _, err := s.call(ctx, "restoring "+what, func(ctx context.Context) error {
			_, err := cl.RestoreSecret(ctx, &secretsmanager.RestoreSecretInput{SecretId: id})
			return err
		}); err != nil {
			return err
		}
	}
	if op.actual.Description != want.Description || want.KMSKeyID != "" && op.actual.KMSKeyID != want.KMSKeyID {
		in := &secretsmanager.UpdateSecretInput{SecretId: id, Description: ptr(want.Description)}
		if want.KMSKeyID != "" {
			in.KmsKeyId = ptr(want.KMSKeyID)
		}
		if _, err := s.call(ctx, "updating "+what, func(ctx context.Context) error {
			_, err := cl.UpdateSecret(ctx, in)
			return err
		}); err != nil {
			return err
		}
	}
	set, remove := tagDiff(op.actual.Tags, want.Tags)
	if len(set) > 0 {
		if _, err := s.call(ctx, "tagging "+what, func(ctx context.Context) error {
			_, err := cl.TagResource(ctx, &secretsmanager.TagResourceInput{SecretId: id, Tags: smTags(set)})
			return err
		}); err != nil {
			return err
		}
	}
	if len(remove) > 0 {
		if _, err := s.call(ctx, "untagging "+what, func(ctx context.Context) error {
			_, err := cl.UntagResource(ctx, &secretsmanager.UntagResourceInput{SecretId: id, TagKeys: remove})
			return err
		}); err != nil {
			return err
		}
	}
	return nil
}

func smTags(m map[string]string) []smtypes.Tag {
	var out []smtypes.Tag
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, smtypes.Tag{Key: ptr(k), Value: ptr(m[k])})
	}
	return out
}
