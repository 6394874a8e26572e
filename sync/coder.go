package sync

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"path"
	"sort"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/coderfleet/coderfleet/awsstate"
	"github.com/coderfleet/coderfleet/internal/coderapi"
)

// coderCall runs fn with sync's retries (429, 5xx and broken connections
// are retried: *coderapi.Error has HTTPStatusCode) and adds coderd's hint
// for the status to a final error.
func (s *syncer) coderCall(ctx context.Context, what string, fn func(ctx context.Context) error) (callResult, error) {
	cr, err := s.call(ctx, what+" on coderd "+s.opts.Coder.URL(), fn)
	var ce *coderapi.Error
	if errors.As(err, &ce) && ce.Hint() != "" {
		err = fmt.Errorf("%w (hint: %s)", err, ce.Hint())
	}
	return cr, err
}

// readCoder reads what coderd holds for the run: the workspace proxies,
// and the provisioner keys of the organizations of the desired keys and
// of the fleet's key secrets. It reads nothing when Options.Coder is nil
// (a.Coder stays nil), and makes no call when neither the desired state
// nor the fleet's secrets name a Coder object. A desired key's
// organization that coderd does not have is an *InputError naming the
// file, its key and how to fix it.
func (s *syncer) readCoder(ctx context.Context, d *Desired, a *Actual) error {
	cl := s.opts.Coder
	if cl == nil {
		return nil
	}
	c := &CoderState{URL: cl.URL(), OrgIDs: map[string]string{}, Proxies: []CoderProxy{}, Keys: []CoderKey{}}
	a.Coder = c
	proxies, keys := desiredCoder(d)
	owned := false
	for _, sec := range a.Secrets {
		owned = owned || sec.Owned && sec.CoderObject != ""
	}
	if proxies+keys == 0 && !owned {
		return nil
	}
	var list []coderapi.WorkspaceProxy
	if _, err := s.coderCall(ctx, "listing workspace proxies", func(ctx context.Context) (err error) {
		list, err = cl.WorkspaceProxies(ctx)
		return err
	}); err != nil {
		return err
	}
	for _, p := range list {
		if p.Deleted || p.Name == coderapi.PrimaryProxyName {
			continue
		}
		c.Proxies = append(c.Proxies, CoderProxy{ID: p.ID, Name: p.Name, DisplayName: p.DisplayName, Icon: p.IconURL, Status: string(p.Status.Status)})
	}
	sort.Slice(c.Proxies, func(i, j int) bool { return c.Proxies[i].Name < c.Proxies[j].Name })
	wantedBy := map[string]*InputError{}
	for _, r := range d.Regions {
		for i, k := range r.ProvisionerKeys {
			if wantedBy[k.Organization] == nil {
				wantedBy[k.Organization] = &InputError{File: path.Join("regions", r.Region, "aws", awsstate.ProvisionerKeysFile),
					Key: fmt.Sprintf("provisionerKeys[%d].organization", i),
					Msg: fmt.Sprintf("organization %q does not exist on coderd %s", k.Organization, cl.URL()),
					Hint: fmt.Sprintf("it comes from workspaceNamespaces[].organization in overlays/fleet.yaml: correct it there and run coderfleet render, or create the organization with `coder organizations create %s`",
						k.Organization)}
			}
		}
	}
	for _, org := range coderOrgs(d, a) {
		var o coderapi.Organization
		_, err := s.coderCall(ctx, "looking up organization "+org, func(ctx context.Context) (err error) {
			o, err = cl.Organization(ctx, org)
			return err
		})
		if coderapi.IsNotFound(err) {
			if e := wantedBy[org]; e != nil {
				return e
			}
			continue // the keys of a gone organization are gone with it
		}
		if err != nil {
			return err
		}
		c.OrgIDs[org] = o.ID
		var ks []coderapi.ProvisionerKey
		if _, err := s.coderCall(ctx, "listing the provisioner keys of organization "+org, func(ctx context.Context) (err error) {
			ks, err = cl.ProvisionerKeys(ctx, o.ID)
			return err
		}); err != nil {
			return err
		}
		for _, k := range ks {
			c.Keys = append(c.Keys, CoderKey{ID: k.ID, Org: org, Name: k.Name, Tags: k.Tags})
		}
	}
	sort.Slice(c.Keys, func(i, j int) bool {
		x, y := c.Keys[i], c.Keys[j]
		return x.Org+"/"+x.Name < y.Org+"/"+y.Name
	})
	return nil
}

// applyCoder makes a Coder change in its crash-safe order: the token
// secret first, carrying TagCoderObject and no TagCoderID (the intent
// record: a run interrupted after it finds the object pending and
// re-issues its token), then the object, then PutSecretValue with its
// token, then TagCoderID. The token passes from coderd's answer to
// PutSecretValue and nowhere else. A deletion removes the object, when
// it is the one the secret names, then the secret (30-day recovery window).
func (s *syncer) applyCoder(ctx context.Context, op *coderOp) error {
	if op.delete {
		return s.deleteCoder(ctx, op)
	}
	want := op.secret
	sm := s.opts.Clients.SecretsManager(want.AWSRegion)
	what := "token secret " + want.Name + " in " + want.AWSRegion
	id := ptr(want.Name)
	// The intent record (a new secret) or the secret's metadata.
	var have *Secret
	if cur := op.curSecret; cur != nil {
		id = ptr(cur.ARN)
		h := *cur
		h.Tags = secretTagsWithoutID(cur)
		have = &h
	}
	if err := s.applySecret(ctx, Change{secret: &secretOp{desired: want, actual: have}}); err != nil {
		return err
	}
	if cur := op.curSecret; cur != nil && op.newToken && cur.CoderID != "" {
		// Back to pending before the token changes: a run interrupted
		// now re-issues it automatically.
		if _, err := s.call(ctx, "untagging "+what, func(ctx context.Context) error {
			_, err := sm.UntagResource(ctx, &secretsmanager.UntagResourceInput{SecretId: id, TagKeys: []string{TagCoderID}})
			return err
		}); err != nil {
			return err
		}
	}
	if !op.newToken {
		if op.patch {
			_, err := s.patchProxy(ctx, op, false)
			return err
		}
		return nil
	}
	var token, objID string
	var err error
	if op.proxy != nil {
		token, objID, err = s.issueProxyToken(ctx, op)
	} else {
		token, objID, err = s.issueKey(ctx, op)
	}
	if err != nil {
		return err
	}
	// One request token for every attempt: a retried PutSecretValue that
	// had in fact succeeded makes no second version.
	reqToken, err := requestToken()
	if err != nil {
		return err
	}
	if _, err := s.call(ctx, "storing the token in "+what, func(ctx context.Context) error {
		_, err := sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: id, SecretString: ptr(token), ClientRequestToken: ptr(reqToken)})
		return err
	}); err != nil {
		return err
	}
	_, err = s.call(ctx, "tagging "+what, func(ctx context.Context) error {
		_, err := sm.TagResource(ctx, &secretsmanager.TagResourceInput{SecretId: id, Tags: smTags(map[string]string{TagCoderID: objID})})
		return err
	})
	return err
}

// requestToken is a random ClientRequestToken for PutSecretValue (32 to 64
// characters, Secrets Manager API Reference).
func requestToken() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("making a request token: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// issueProxyToken creates the proxy, or regenerates the token of the one
// that exists, and returns its token and ID. A create that coderd answers
// 409 after an attempt that may have reached it regenerates instead.
func (s *syncer) issueProxyToken(ctx context.Context, op *coderOp) (token, id string, err error) {
	cl := s.opts.Coder
	p := op.proxy
	if op.create {
		var out coderapi.UpdateWorkspaceProxyResponse
		cr, err := s.coderCall(ctx, "creating workspace proxy "+p.Name, func(ctx context.Context) (err error) {
			out, err = cl.CreateWorkspaceProxy(ctx, coderapi.CreateWorkspaceProxyRequest{Name: p.Name, DisplayName: p.DisplayName, Icon: p.Icon})
			return err
		})
		if err == nil {
			return out.ProxyToken, out.Proxy.ID, nil
		}
		if !cr.ambiguous || !coderapi.IsConflict(err) {
			return "", "", err
		}
		// The failed-looking first attempt made it: find it, regenerate.
		var list []coderapi.WorkspaceProxy
		if _, err := s.coderCall(ctx, "listing workspace proxies", func(ctx context.Context) (err error) {
			list, err = cl.WorkspaceProxies(ctx)
			return err
		}); err != nil {
			return "", "", err
		}
		for _, wp := range list {
			if wp.Name == p.Name && !wp.Deleted {
				op.curProxy = &CoderProxy{ID: wp.ID, Name: wp.Name, DisplayName: wp.DisplayName, Icon: wp.IconURL}
			}
		}
		if op.curProxy == nil {
			return "", "", err
		}
	}
	out, err := s.patchProxy(ctx, op, true)
	return out.ProxyToken, out.Proxy.ID, err
}

// patchProxy sets the proxy's display name and icon, and regenerates its
// token when regenerate is set (the old token stops working).
func (s *syncer) patchProxy(ctx context.Context, op *coderOp, regenerate bool) (coderapi.UpdateWorkspaceProxyResponse, error) {
	cur, p := op.curProxy, op.proxy
	// Coder's PATCH needs every field; awsstate.Parse refuses an empty icon.
	req := coderapi.PatchWorkspaceProxy{ID: cur.ID, Name: p.Name, DisplayName: p.DisplayName, Icon: p.Icon, RegenerateToken: regenerate}
	what := "updating workspace proxy " + p.Name
	if regenerate {
		what = "re-issuing the token of workspace proxy " + p.Name
	}
	var out coderapi.UpdateWorkspaceProxyResponse
	_, err := s.coderCall(ctx, what, func(ctx context.Context) (err error) {
		out, err = s.opts.Coder.PatchWorkspaceProxy(ctx, req)
		return err
	})
	return out, err
}

// issueKey creates the provisioner key, deleting the one of that name
// first when op.replace (Coder cannot re-issue a key or change its tags),
// and returns its key and ID.
func (s *syncer) issueKey(ctx context.Context, op *coderOp) (token, id string, err error) {
	k := op.key
	if op.replace || op.curKey != nil {
		if err := s.deleteKey(ctx, op); err != nil {
			return "", "", err
		}
	}
	for attempt := 0; ; attempt++ {
		var out coderapi.CreateProvisionerKeyResponse
		cr, err := s.coderCall(ctx, "creating provisioner key "+k.Organization+"/"+k.Name, func(ctx context.Context) (err error) {
			out, err = s.opts.Coder.CreateProvisionerKey(ctx, op.orgID, coderapi.CreateProvisionerKeyRequest{Name: k.Name, Tags: k.Tags})
			return err
		})
		if err != nil && attempt == 0 && cr.ambiguous && coderapi.IsConflict(err) {
			// The failed-looking first attempt made it, and its key is lost.
			if err := s.deleteKey(ctx, op); err != nil {
				return "", "", err
			}
			continue
		}
		if err != nil {
			return "", "", err
		}
		token = out.Key
		break
	}
	var ks []coderapi.ProvisionerKey
	if _, err := s.coderCall(ctx, "listing the provisioner keys of organization "+k.Organization, func(ctx context.Context) (err error) {
		ks, err = s.opts.Coder.ProvisionerKeys(ctx, op.orgID)
		return err
	}); err != nil {
		return "", "", err
	}
	for _, ck := range ks {
		if ck.Name == k.Name {
			return token, ck.ID, nil
		}
	}
	return "", "", fmt.Errorf("provisioner key %s/%s is not listed by coderd %s right after it was created (hint: run coderfleet sync apply again)", k.Organization, k.Name, s.opts.Coder.URL())
}

func (s *syncer) deleteKey(ctx context.Context, op *coderOp) error {
	k := op.key
	_, err := s.coderCall(ctx, "deleting provisioner key "+k.Organization+"/"+k.Name, func(ctx context.Context) error {
		return s.opts.Coder.DeleteProvisionerKey(ctx, op.orgID, k.Name)
	})
	if coderapi.IsNotFound(err) {
		return nil
	}
	return err
}

// deleteCoder deletes a pruned object, when it is the one its secret
// names, then the secret.
func (s *syncer) deleteCoder(ctx context.Context, op *coderOp) error {
	switch {
	case op.curProxy != nil:
		_, err := s.coderCall(ctx, "deleting workspace proxy "+op.curProxy.Name, func(ctx context.Context) error {
			return s.opts.Coder.DeleteWorkspaceProxy(ctx, op.curProxy.ID)
		})
		if err != nil && !coderapi.IsNotFound(err) {
			return err
		}
	case op.curKey != nil:
		if err := s.deleteKey(ctx, op); err != nil {
			return err
		}
	}
	if op.curSecret.Deleted {
		return nil
	}
	return s.applySecret(ctx, Change{Action: Delete, secret: &secretOp{actual: op.curSecret}})
}
