package sync

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/coderfleet/coderfleet/awsstate"
)

// Resource kinds of the Coder target.
const (
	// ResourceWorkspaceProxy is a Coder workspace proxy (workspaceproxies.yaml).
	ResourceWorkspaceProxy = "workspace-proxy"
	// ResourceProvisionerKey is a Coder provisioner key (provisionerkeys.yaml).
	ResourceProvisionerKey = "provisioner-key"
)

// Tags of a Coder token secret besides the item's tokenSecret.tags.
const (
	// TagCoderObject names the Coder object whose token the secret holds:
	// "workspace-proxy/<name>" or "provisioner-key/<org>/<name>". It is
	// the intent record of a create: sync puts it on the secret before it
	// creates the object.
	TagCoderObject = "coderfleet.io/coder-object"
	// TagCoderID is the Coder object's ID, set once its token is stored.
	TagCoderID = "coderfleet.io/coder-id"
)

// CoderState is what sync read from the primary's coderd.
type CoderState struct {
	// URL is coderd's base URL, for messages.
	URL string
	// Proxies are the workspace proxies coderd lists, the primary region
	// and deleted proxies left out, sorted by name.
	Proxies []CoderProxy
	// OrgIDs maps the names of the organizations sync looked up (those of
	// the desired keys and of owned key secrets) to their IDs; a missing
	// organization has no entry.
	OrgIDs map[string]string
	// Keys are the provisioner keys of those organizations, sorted by
	// organization and name.
	Keys []CoderKey
}

// CoderProxy is a workspace proxy as coderd lists it.
type CoderProxy struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	DisplayName string `json:"displayName"`
	Icon        string `json:"icon"`
	// Status is coderd's status of the proxy: ok, unreachable, unhealthy
	// or unregistered (the proxy has not connected yet).
	Status string `json:"-"`
}

// CoderKey is a provisioner key of an organization.
type CoderKey struct {
	ID   string            `json:"id"`
	Org  string            `json:"org"`
	Name string            `json:"name"`
	Tags map[string]string `json:"tags"`
}

// CoderPlan is the Coder part of a plan.
type CoderPlan struct {
	// Skipped is true when the run had no coderd (no CODER_URL): nothing
	// of Coder was read or planned.
	Skipped bool `json:"skipped"`
	// DesiredProxies and DesiredKeys count what the desired state lists.
	DesiredProxies int `json:"desiredProxies"`
	DesiredKeys    int `json:"desiredKeys"`
	// Proxies tell, for each desired proxy, whether coderd has it and
	// what coderd reports; empty when Skipped.
	Proxies []ProxyState `json:"proxies"`
}

// ProxyState is a desired workspace proxy as coderd sees it.
type ProxyState struct {
	Region string `json:"region"`
	Name   string `json:"name"`
	// Registered is true when coderd has a proxy of this name.
	Registered bool `json:"registered"`
	// Status is coderd's status of it ("" when not registered): ok,
	// unreachable, unhealthy, or unregistered until the proxy connects.
	Status string `json:"status"`
}

// coderOp is what applying a Coder change needs. The token it makes never
// lives in it: apply hands it from coderd's answer to PutSecretValue.
type coderOp struct {
	region string
	proxy  *awsstate.WorkspaceProxy
	key    *awsstate.ProvisionerKey
	// orgID is the key's organization ID.
	orgID string
	// secret is the desired token secret, its tags with TagCoderObject
	// (zero for a delete).
	secret awsstate.Secret
	// curSecret, curProxy and curKey are the objects as read (nil: absent).
	curSecret *Secret
	curProxy  *CoderProxy
	curKey    *CoderKey
	// newToken: the object is created or its token (re)issued, and the
	// token stored. create: the object does not exist.
	newToken, create bool
	// replace: a key is deleted first (its tags changed, or its key is
	// re-issued).
	replace bool
	// patch: a proxy's display name or icon changes.
	patch bool
	// delete: the object (when ours) and its secret go.
	delete bool
}

// object is the TagCoderObject value of op's object.
func (op *coderOp) object() string {
	if op.proxy != nil {
		return coderProxyObject(op.proxy.Name)
	}
	return coderKeyObject(op.key.Organization, op.key.Name)
}

func coderProxyObject(name string) string { return ResourceWorkspaceProxy + "/" + name }

func coderKeyObject(org, name string) string { return ResourceProvisionerKey + "/" + org + "/" + name }

// tokenSecretTags are the tags a token secret carries (TagCoderID aside).
func tokenSecretTags(s awsstate.Secret, object string) map[string]string {
	t := maps.Clone(s.Tags)
	if t == nil {
		t = map[string]string{}
	}
	t[TagCoderObject] = object
	return t
}

// secretTagsWithoutID are a token secret's user tags without TagCoderID.
func secretTagsWithoutID(s *Secret) map[string]string {
	t := userTags(s.Tags)
	delete(t, TagCoderID)
	return t
}

// desiredCoder counts the desired proxies and keys of d.
func desiredCoder(d *Desired) (proxies, keys int) {
	for _, r := range d.Regions {
		proxies += len(r.WorkspaceProxies)
		keys += len(r.ProvisionerKeys)
	}
	return proxies, keys
}

// coderTarget is one desired Coder object with its token secret.
type coderTarget struct {
	region string
	proxy  *awsstate.WorkspaceProxy
	key    *awsstate.ProvisionerKey
}

func (t coderTarget) resource() string {
	if t.proxy != nil {
		return ResourceWorkspaceProxy
	}
	return ResourceProvisionerKey
}

func (t coderTarget) address() string {
	if t.proxy != nil {
		return t.region + "/" + t.proxy.Name
	}
	return t.region + "/" + t.key.Organization + "/" + t.key.Name
}

func (t coderTarget) tokenSecret() awsstate.Secret {
	if t.proxy != nil {
		return t.proxy.TokenSecret
	}
	return t.key.TokenSecret
}

// planCoder plans the desired workspace proxies and provisioner keys
// against coderd and their token secrets (see docs/sync.md, "Coder").
// Ownership is recorded by the token secrets: a secret of the fleet
// carrying TagCoderObject names its object, TagCoderID the object's ID
// once the token is stored. It returns the creates and updates, and the
// deletions (only with pol.Prune).
func planCoder(p *Plan, d *Desired, a *Actual, pol Policy) (changes, deletes []Change) {
	np, nk := desiredCoder(d)
	p.Coder = &CoderPlan{Skipped: a.Coder == nil, DesiredProxies: np, DesiredKeys: nk, Proxies: []ProxyState{}}
	if a.Coder == nil {
		return nil, nil
	}
	c := a.Coder
	wanted := map[string]bool{}
	for _, r := range d.Regions {
		var targets []coderTarget
		for i := range r.WorkspaceProxies {
			targets = append(targets, coderTarget{region: r.Region, proxy: &r.WorkspaceProxies[i]})
		}
		for i := range r.ProvisionerKeys {
			targets = append(targets, coderTarget{region: r.Region, key: &r.ProvisionerKeys[i]})
		}
		for _, t := range targets {
			ts := t.tokenSecret()
			wanted[ts.AWSRegion+" "+ts.Name] = true
			if t.proxy != nil {
				st := ProxyState{Region: r.Region, Name: t.proxy.Name}
				if cp := c.proxy(t.proxy.Name); cp != nil {
					st.Registered, st.Status = true, cp.Status
				}
				p.Coder.Proxies = append(p.Coder.Proxies, st)
			}
			if ch := planCoderTarget(p, d, a, pol, t); ch != nil {
				changes = append(changes, *ch)
			}
		}
	}
	for i := range a.Secrets {
		cur := &a.Secrets[i]
		if !cur.Owned || cur.CoderObject == "" || wanted[cur.AWSRegion+" "+cur.Name] {
			continue
		}
		op := &coderOp{region: cur.Region, curSecret: cur, delete: true}
		kind, rest, _ := strings.Cut(cur.CoderObject, "/")
		addr := cur.Region + "/" + rest
		var fields []Field
		switch kind {
		case ResourceWorkspaceProxy:
			op.proxy = &awsstate.WorkspaceProxy{Name: rest}
			if cp := c.proxy(rest); cp != nil && cp.ID == cur.CoderID {
				op.curProxy = cp
				fields = append(fields, Field{Name: "id", Old: cp.ID})
			}
		case ResourceProvisionerKey:
			org, name, _ := strings.Cut(rest, "/")
			op.key = &awsstate.ProvisionerKey{Name: name, Organization: org}
			op.orgID = c.OrgIDs[org]
			if ck := c.key(org, name); ck != nil && ck.ID == cur.CoderID {
				op.curKey = ck
				fields = append(fields, Field{Name: "id", Old: ck.ID})
			}
		default:
			continue
		}
		if cur.Deleted && op.curProxy == nil && op.curKey == nil {
			continue // nothing of it is left but a secret on its way out
		}
		if !pol.Prune {
			p.Kept++
			p.Notes = append(p.Notes, fmt.Sprintf("%s %s and its token secret %s (%s) are %s; kept (use --prune to delete them)", kind, addr, cur.Name, cur.AWSRegion, goneReason(d, cur.Region)))
			continue
		}
		fields = append(fields, Field{Name: "token-secret", Old: cur.Name + " (" + cur.AWSRegion + ")"})
		deletes = append(deletes, Change{Action: Delete, Resource: kind, Region: cur.Region, Address: addr,
			Reason: goneReason(d, cur.Region) + "; its token secret is recoverable for 30 days", Fields: fields, coder: op})
	}
	return changes, deletes
}

// planCoderTarget plans one desired proxy or key: the change to make, or
// nil with a conflict (or nothing) added to p.
func planCoderTarget(p *Plan, d *Desired, a *Actual, pol Policy, t coderTarget) *Change {
	c := a.Coder
	ts := t.tokenSecret()
	op := &coderOp{region: t.region, proxy: t.proxy, key: t.key}
	op.secret = ts
	op.secret.Tags = tokenSecretTags(ts, op.object())
	addr, kind := t.address(), t.resource()
	conflict := func(why string) *Change {
		p.Conflicts = append(p.Conflicts, Conflict{Resource: kind, Record: addr, Reason: why})
		return nil
	}
	var objID string
	if t.proxy != nil {
		if op.curProxy = c.proxy(t.proxy.Name); op.curProxy != nil {
			objID = op.curProxy.ID
		}
	} else {
		id, ok := c.OrgIDs[t.key.Organization]
		if !ok {
			// readCoder refuses a desired key of a missing organization
			// before planning; a plan made from hand-built state says so.
			return conflict(fmt.Sprintf("organization %q does not exist in coderd", t.key.Organization))
		}
		op.orgID = id
		if op.curKey = c.key(t.key.Organization, t.key.Name); op.curKey != nil {
			objID = op.curKey.ID
		}
	}
	for i := range a.Secrets {
		if s := &a.Secrets[i]; s.AWSRegion == ts.AWSRegion && s.Name == ts.Name {
			op.curSecret = s
		}
	}
	sec := op.curSecret
	exists := objID != ""
	what := "a workspace proxy"
	if t.key != nil {
		what = "a provisioner key"
	}
	reissue := "coderfleet sync apply --reissue-tokens"
	var reason string
	switch {
	case sec != nil && (!sec.Owned || sec.CoderObject != op.object() || sec.Region != t.region):
		why := fmt.Sprintf("its token secret %s exists in %s but is not this object's (tags %s=%s, %s=%s, %s=%s wanted); coderfleet never modifies it (hint: delete or rename the secret, or fix tokenSecret.name)",
			ts.Name, ts.AWSRegion, awsstate.TagFleet, d.Fleet, awsstate.TagRegion, t.region, TagCoderObject, op.object())
		return conflict(why)
	case sec == nil && !exists, sec != nil && sec.CoderID == "" && !exists:
		op.newToken, op.create = true, true
	case sec != nil && sec.CoderID != "" && !exists:
		op.newToken, op.create = true, true
		reason = fmt.Sprintf("its token secret names %s %s that coderd no longer has: created again, the new token stored", strings.TrimPrefix(what, "a "), sec.CoderID)
	case sec != nil && sec.CoderID == "":
		// The intent record of an interrupted create: the object is ours
		// and its token was never stored.
		op.newToken, op.replace = true, t.key != nil
		reason = "an earlier apply created it but was interrupted before storing its token: the token is re-issued and stored"
	case sec == nil || sec.CoderID != objID:
		why := fmt.Sprintf("%s of this name exists in coderd (ID %s) and no token secret of coderfleet names it; coderfleet never touches it (hint: delete it in Coder, or adopt it with %s, which re-issues its token into %s in %s)",
			what, objID, reissue, ts.Name, ts.AWSRegion)
		if !pol.ReissueTokens {
			return conflict(why)
		}
		op.newToken, op.replace = true, t.key != nil
		reason = "adopted (--reissue-tokens): its token is re-issued and stored"
	case !sec.HasValue || sec.Deleted:
		lost := "has no current value"
		if sec.Deleted {
			lost = "is scheduled for deletion"
		}
		if !pol.ReissueTokens {
			return conflict(fmt.Sprintf("blocked: its token secret %s (%s) %s, so the token is lost; coderd keeps no copy (hint: run %s to re-issue it, which disconnects whatever uses the old token)",
				ts.Name, ts.AWSRegion, lost, reissue))
		}
		op.newToken, op.replace = true, t.key != nil
		reason = fmt.Sprintf("its token secret %s (--reissue-tokens): the token is re-issued and stored", lost)
	}
	var fields []Field
	if t.key != nil && op.curKey != nil && !maps.Equal(op.curKey.Tags, t.key.Tags) && !op.create {
		op.newToken, op.replace = true, true
		fields = append(fields, Field{Name: "tags", Old: tagString(op.curKey.Tags), New: tagString(t.key.Tags)})
		if reason == "" {
			reason = "Coder cannot change a key's tags: replaced (deleted and created), the new key stored"
		}
	}
	if t.proxy != nil && op.curProxy != nil && !op.create {
		if op.curProxy.DisplayName != t.proxy.DisplayName {
			op.patch = true
			fields = append(fields, Field{Name: "display-name", Old: op.curProxy.DisplayName, New: t.proxy.DisplayName})
		}
		if op.curProxy.Icon != t.proxy.Icon {
			op.patch = true
			fields = append(fields, Field{Name: "icon", Old: op.curProxy.Icon, New: t.proxy.Icon})
		}
	}
	secretFields := tokenSecretFields(sec, op.secret)
	if op.create {
		fields = createFields(t, op.secret)
		if sec != nil {
			fields = append(fields, secretFields...)
		}
		fields = append(fields, Field{Name: "token", New: "(issued by coderd, stored only in the token secret)"})
		return &Change{Action: Create, Resource: kind, Region: t.region, Address: addr, Reason: reason, Fields: fields, coder: op}
	}
	fields = append(fields, secretFields...)
	if op.newToken {
		fields = append(fields, Field{Name: "token", Old: "(current)", New: "(re-issued by coderd, stored only in the token secret)"})
	}
	if len(fields) == 0 {
		return nil
	}
	return &Change{Action: Update, Resource: kind, Region: t.region, Address: addr, Reason: reason, Fields: fields, coder: op}
}

// createFields are the fields of a new object and of its new token secret.
func createFields(t coderTarget, sec awsstate.Secret) []Field {
	var f []Field
	if t.proxy != nil {
		f = append(f, Field{Name: "display-name", New: t.proxy.DisplayName}, Field{Name: "icon", New: t.proxy.Icon})
	} else {
		f = append(f, Field{Name: "organization", New: t.key.Organization}, Field{Name: "tags", New: tagString(t.key.Tags)})
	}
	return append(f, Field{Name: "token-secret", New: sec.Name + " (" + sec.AWSRegion + ")"})
}

// tokenSecretFields are the differences of a token secret's metadata;
// cur nil means it is created.
func tokenSecretFields(cur *Secret, want awsstate.Secret) []Field {
	if cur == nil {
		return []Field{{Name: "token-secret", New: want.Name + " (" + want.AWSRegion + ")"}}
	}
	return secretFields("token-secret-", cur, secretTagsWithoutID(cur), want)
}

func (c *CoderState) proxy(name string) *CoderProxy {
	for i := range c.Proxies {
		if c.Proxies[i].Name == name {
			return &c.Proxies[i]
		}
	}
	return nil
}

func (c *CoderState) key(org, name string) *CoderKey {
	for i := range c.Keys {
		if c.Keys[i].Org == org && c.Keys[i].Name == name {
			return &c.Keys[i]
		}
	}
	return nil
}

// coderOrgs lists the organizations whose keys a run reads: those of the
// desired keys and of the owned key secrets in scope, sorted.
func coderOrgs(d *Desired, a *Actual) []string {
	set := map[string]bool{}
	for _, r := range d.Regions {
		for _, k := range r.ProvisionerKeys {
			set[k.Organization] = true
		}
	}
	for _, s := range a.Secrets {
		if rest, ok := strings.CutPrefix(s.CoderObject, ResourceProvisionerKey+"/"); ok && s.Owned {
			org, _, _ := strings.Cut(rest, "/")
			set[org] = true
		}
	}
	return slices.Sorted(maps.Keys(set))
}
