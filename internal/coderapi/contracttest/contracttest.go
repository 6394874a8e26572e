// Package contracttest is the contract suite for coderd: everything
// coderfleet's sync and status rely on, exercised through the real
// coderapi.Client. It runs against the fake (internal/fakecoderd) in every
// `go test`, and against a real coderd with `make contract-coder` (see
// docs/coder-api.md), so the fake and Coder cannot drift apart unnoticed.
//
// Against a real coderd the suite creates objects named
// "cfct-<random>-..." and deletes them when it ends.
package contracttest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"strings"
	"testing"

	"github.com/coderfleet/coderfleet/internal/coderapi"
)

// Target is a coderd to check.
type Target struct {
	// URL is the coderd base URL.
	URL string
	// OwnerToken is a session token of a user with the Owner role.
	OwnerToken string
	// MemberToken is a session token of a user without Owner; "" skips the
	// member checks with a logged reason.
	MemberToken string
	// Unlicensed says the deployment has no Premium licence: the suite then
	// checks the 403 answers instead of the proxy and key life cycles.
	Unlicensed bool
	// Organization is the name of an organization that exists ("coder" on
	// a fresh deployment).
	Organization string
	// AddDaemon connects a provisioner daemon with these tags to the
	// organization (the fake's AddProvisionerDaemon). nil for a real
	// coderd: the suite then checks only that the listing filters by tags.
	AddDaemon func(org string, tags map[string]string) error
	// HTTPClient is used for every call; nil means a default client.
	HTTPClient *http.Client
}

// Run runs the suite against t as subtests.
func Run(t *testing.T, target Target) {
	t.Helper()
	owner := client(t, target, target.OwnerToken)
	prefix := "cfct-" + randomHex(t, 3)

	t.Run("buildinfo", func(t *testing.T) {
		bi, err := owner.BuildInfo(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if bi.Version == "" || bi.DeploymentID == "" {
			t.Fatalf("buildinfo has no version or deployment ID: %+v", bi)
		}
	})

	t.Run("auth", func(t *testing.T) {
		ctx := context.Background()
		bad := client(t, target, "not-a-valid-token-"+randomHex(t, 8))
		_, err := bad.Organization(ctx, target.Organization)
		wantStatus(t, err, http.StatusUnauthorized)
		if !strings.Contains((asError(t, err)).Hint(), "CODER_SESSION_TOKEN") {
			t.Errorf("401 hint does not name CODER_SESSION_TOKEN: %q", asError(t, err).Hint())
		}
		if !target.Unlicensed {
			_, err = bad.WorkspaceProxies(ctx)
			wantStatus(t, err, http.StatusUnauthorized)
		}
		if target.MemberToken == "" {
			t.Log("no member token: the 403 for a non-Owner is not checked")
			return
		}
		member := client(t, target, target.MemberToken)
		if _, err := member.Organization(ctx, target.Organization); err != nil {
			t.Fatalf("a member reads its organization: %v", err)
		}
		_, err = member.WorkspaceProxies(ctx)
		wantStatus(t, err, http.StatusForbidden)
		if !target.Unlicensed && !strings.Contains(asError(t, err).Hint(), "Owner") {
			t.Errorf("member's 403 hint does not name the Owner role: %q", asError(t, err).Hint())
		}
	})

	t.Run("organization", func(t *testing.T) {
		ctx := context.Background()
		byName, err := owner.Organization(ctx, target.Organization)
		if err != nil {
			t.Fatal(err)
		}
		if byName.Name != target.Organization || byName.ID == "" {
			t.Fatalf("organization %q answered as %+v", target.Organization, byName)
		}
		byID, err := owner.Organization(ctx, byName.ID)
		if err != nil {
			t.Fatal(err)
		}
		if byID.ID != byName.ID || byID.Name != byName.Name {
			t.Fatalf("by ID %+v, by name %+v", byID, byName)
		}
		_, err = owner.Organization(ctx, prefix+"-no-such-org")
		wantStatus(t, err, http.StatusNotFound)
		if !coderapi.IsNotFound(err) {
			t.Errorf("IsNotFound(%v) = false", err)
		}
	})

	if target.Unlicensed {
		t.Run("premium", func(t *testing.T) { unlicensed(t, owner, target) })
		return
	}
	t.Run("workspace proxies", func(t *testing.T) { proxies(t, owner, prefix) })
	t.Run("provisioner keys", func(t *testing.T) { keys(t, owner, target, prefix) })
	t.Run("provisioner daemons", func(t *testing.T) { daemons(t, owner, target, prefix) })
}

func unlicensed(t *testing.T, owner *coderapi.Client, target Target) {
	ctx := context.Background()
	_, err := owner.WorkspaceProxies(ctx)
	wantStatus(t, err, http.StatusForbidden)
	if e := asError(t, err); !strings.Contains(e.Message, "Premium") || !strings.Contains(e.Hint(), "Premium") {
		t.Errorf("403 without a licence: message %q, hint %q; want both to name Premium", e.Message, e.Hint())
	}
	_, err = owner.CreateWorkspaceProxy(ctx, coderapi.CreateWorkspaceProxyRequest{Name: "cfct-unlicensed", DisplayName: "x"})
	wantStatus(t, err, http.StatusForbidden)
	org, err := owner.Organization(ctx, target.Organization)
	if err != nil {
		t.Fatal(err)
	}
	_, err = owner.ProvisionerKeys(ctx, org.ID)
	wantStatus(t, err, http.StatusForbidden)
}

func proxies(t *testing.T, owner *coderapi.Client, prefix string) {
	ctx := context.Background()
	name := prefix + "-proxy"
	list, err := owner.WorkspaceProxies(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) == 0 || !list[0].IsPrimary() || list[0].Status.Status != coderapi.ProxyHealthy {
		t.Fatalf("the list does not start with the healthy primary region: %+v", list)
	}

	created, err := owner.CreateWorkspaceProxy(ctx, coderapi.CreateWorkspaceProxyRequest{Name: name, DisplayName: "Contract", Icon: "/emojis/1f3c1.png"})
	if err != nil {
		t.Fatal(err)
	}
	id := created.Proxy.ID
	t.Cleanup(func() { _ = owner.DeleteWorkspaceProxy(context.Background(), id) })
	if created.ProxyToken == "" || !strings.HasPrefix(created.ProxyToken, id+":") {
		t.Fatalf("create answered no token of the form <id>:<secret> (%s)", created)
	}
	if strings.Contains(created.String(), created.ProxyToken) || strings.Contains(strings.ReplaceAll(created.GoString(), "%", ""), created.ProxyToken) {
		t.Fatal("the create answer's String prints the token")
	}
	if created.Proxy.Status.Status != coderapi.ProxyUnregistered || created.Proxy.Registered() {
		t.Errorf("a new proxy's status is %q, want unregistered", created.Proxy.Status.Status)
	}

	list, err = owner.WorkspaceProxies(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := find(list, name)
	if got == nil || got.ID != id || got.DisplayName != "Contract" || got.IconURL != "/emojis/1f3c1.png" {
		t.Fatalf("the list has %+v for %q, want ID %s, display name and icon as created", got, name, id)
	}

	_, err = owner.CreateWorkspaceProxy(ctx, coderapi.CreateWorkspaceProxyRequest{Name: name, DisplayName: "Again"})
	wantStatus(t, err, http.StatusConflict)
	if !coderapi.IsConflict(err) {
		t.Errorf("IsConflict(%v) = false", err)
	}
	_, err = owner.CreateWorkspaceProxy(ctx, coderapi.CreateWorkspaceProxyRequest{Name: "primary", DisplayName: "P"})
	wantStatus(t, err, http.StatusBadRequest)
	if e := asError(t, err); len(e.Validations) == 0 || e.Validations[0].Field != "name" {
		t.Errorf("the reserved name's 400 has validations %+v, want one for name", e.Validations)
	}

	patched, err := owner.PatchWorkspaceProxy(ctx, coderapi.PatchWorkspaceProxy{ID: id, Name: name, DisplayName: "Contract 2", Icon: "/emojis/1f3c3.png"})
	if err != nil {
		t.Fatal(err)
	}
	if patched.ProxyToken != "" || patched.Proxy.DisplayName != "Contract 2" || patched.Proxy.IconURL != "/emojis/1f3c3.png" {
		t.Fatalf("patch answered %+v (token set: %v)", patched.Proxy.Region, patched.ProxyToken != "")
	}

	register := coderapi.RegisterWorkspaceProxyRequest{AccessURL: "https://" + name + ".example.com", DerpEnabled: true,
		ReplicaID: "5f2f7a35-8f4c-4a55-9d3e-" + randomHex(t, 6), ReplicaHostname: name, Version: "v2.0.0"}
	if err := owner.RegisterWorkspaceProxy(ctx, created.ProxyToken, register); err != nil {
		t.Fatalf("registering with the created token: %v", err)
	}
	regen, err := owner.PatchWorkspaceProxy(ctx, coderapi.PatchWorkspaceProxy{ID: id, Name: name, DisplayName: "Contract 2", Icon: "/emojis/1f3c3.png", RegenerateToken: true})
	if err != nil {
		t.Fatal(err)
	}
	if regen.ProxyToken == "" || regen.ProxyToken == created.ProxyToken {
		t.Fatal("regenerate_token answered no new token")
	}
	err = owner.RegisterWorkspaceProxy(ctx, created.ProxyToken, register)
	wantStatus(t, err, http.StatusUnauthorized)
	if strings.Contains(err.Error(), created.ProxyToken) {
		t.Fatal("the register error prints the token")
	}
	if err := owner.RegisterWorkspaceProxy(ctx, regen.ProxyToken, register); err != nil {
		t.Fatalf("registering with the regenerated token: %v", err)
	}
	list, err = owner.WorkspaceProxies(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := find(list, name); got == nil || !got.Registered() {
		t.Fatalf("after registering, the list has %+v, want a registered proxy", got)
	}

	if err := owner.DeleteWorkspaceProxy(ctx, id); err != nil {
		t.Fatal(err)
	}
	list, err = owner.WorkspaceProxies(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := find(list, name); got != nil {
		t.Fatalf("a deleted proxy is still listed: %+v", got)
	}
	err = owner.DeleteWorkspaceProxy(ctx, id)
	wantStatus(t, err, http.StatusNotFound)
	_, err = owner.PatchWorkspaceProxy(ctx, coderapi.PatchWorkspaceProxy{ID: id, Name: name, DisplayName: "x", Icon: "y"})
	wantStatus(t, err, http.StatusNotFound)
	err = owner.RegisterWorkspaceProxy(ctx, regen.ProxyToken, register)
	wantStatus(t, err, http.StatusUnauthorized)
}

func keys(t *testing.T, owner *coderapi.Client, target Target, prefix string) {
	ctx := context.Background()
	org, err := owner.Organization(ctx, target.Organization)
	if err != nil {
		t.Fatal(err)
	}
	name := prefix + "-key"
	tags := map[string]string{"region": "contract-1", "namespace": prefix}
	created, err := owner.CreateProvisionerKey(ctx, org.ID, coderapi.CreateProvisionerKeyRequest{Name: name, Tags: tags})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = owner.DeleteProvisionerKey(context.Background(), org.ID, name) })
	if created.Key == "" || strings.Contains(created.String(), created.Key) {
		t.Fatalf("create answered no key, or String prints it (%s)", created)
	}

	list, err := owner.ProvisionerKeys(ctx, org.ID)
	if err != nil {
		t.Fatal(err)
	}
	var got *coderapi.ProvisionerKey
	for i := range list {
		if list[i].Name == name {
			got = &list[i]
		}
		for _, r := range coderapi.ReservedProvisionerKeyNames {
			if strings.EqualFold(list[i].Name, r) {
				t.Errorf("the list shows coderd's reserved key %q", list[i].Name)
			}
		}
	}
	if got == nil || got.OrganizationID != org.ID || len(got.Tags) != 2 || got.Tags["region"] != "contract-1" || got.Tags["namespace"] != prefix {
		t.Fatalf("the list has %+v for %q, want org %s and tags %v", got, name, org.ID, tags)
	}

	byToken, err := owner.ProvisionerKeyByToken(ctx, created.Key)
	if err != nil {
		t.Fatalf("the new key is not accepted by the daemon key endpoint: %v", err)
	}
	if byToken.ID != got.ID || byToken.Name != name {
		t.Fatalf("the daemon key endpoint answered %+v, want key %s", byToken, got.ID)
	}

	_, err = owner.CreateProvisionerKey(ctx, org.ID, coderapi.CreateProvisionerKeyRequest{Name: strings.ToUpper(name)})
	wantStatus(t, err, http.StatusConflict)
	for _, reserved := range []string{"built-in", "User-Auth", "PSK"} {
		_, err = owner.CreateProvisionerKey(ctx, org.ID, coderapi.CreateProvisionerKeyRequest{Name: reserved})
		wantStatus(t, err, http.StatusBadRequest)
	}
	_, err = owner.CreateProvisionerKey(ctx, org.ID, coderapi.CreateProvisionerKeyRequest{Name: strings.Repeat("k", coderapi.MaxProvisionerKeyNameLen+1)})
	wantStatus(t, err, http.StatusBadRequest)

	if err := owner.DeleteProvisionerKey(ctx, org.ID, name); err != nil {
		t.Fatal(err)
	}
	_, err = owner.ProvisionerKeyByToken(ctx, created.Key)
	wantStatus(t, err, http.StatusUnauthorized)
	if strings.Contains(err.Error(), created.Key) {
		t.Fatal("the daemon key error prints the key")
	}
	err = owner.DeleteProvisionerKey(ctx, org.ID, name)
	wantStatus(t, err, http.StatusNotFound)
	_, err = owner.ProvisionerKeys(ctx, "00000000-0000-4000-8000-"+randomHex(t, 6))
	wantStatus(t, err, http.StatusNotFound)
}

func daemons(t *testing.T, owner *coderapi.Client, target Target, prefix string) {
	ctx := context.Background()
	org, err := owner.Organization(ctx, target.Organization)
	if err != nil {
		t.Fatal(err)
	}
	mine := map[string]string{"region": "contract-1", "namespace": prefix}
	if target.AddDaemon != nil {
		for _, tags := range []map[string]string{mine, {"region": "contract-2", "namespace": prefix}, {"region": "contract-1"}} {
			if err := target.AddDaemon(org.Name, tags); err != nil {
				t.Fatal(err)
			}
		}
	}
	got, err := owner.ProvisionerDaemons(ctx, org.ID, mine)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range got {
		for k, v := range mine {
			if d.Tags[k] != v {
				t.Errorf("daemon %s with tags %v was listed for the filter %v", d.Name, d.Tags, mine)
			}
		}
	}
	if target.AddDaemon != nil && len(got) != 1 {
		t.Fatalf("the tag filter %v listed %d daemons, want 1: %+v", mine, len(got), got)
	}
	all, err := owner.ProvisionerDaemons(ctx, org.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	if target.AddDaemon != nil && len(all) != 3 {
		t.Fatalf("no filter listed %d daemons, want 3", len(all))
	}
}

func client(t *testing.T, target Target, token string) *coderapi.Client {
	t.Helper()
	c, err := coderapi.New(target.URL, token, target.HTTPClient)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func find(list []coderapi.WorkspaceProxy, name string) *coderapi.WorkspaceProxy {
	for i := range list {
		if list[i].Name == name {
			return &list[i]
		}
	}
	return nil
}

func asError(t *testing.T, err error) *coderapi.Error {
	t.Helper()
	e, ok := err.(*coderapi.Error)
	if !ok {
		t.Fatalf("error %v (%T) is not a *coderapi.Error", err, err)
	}
	return e
}

func wantStatus(t *testing.T, err error, code int) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want status %d", code)
	}
	if got := asError(t, err).HTTPStatusCode(); got != code {
		t.Fatalf("status %d (%v), want %d", got, err, code)
	}
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
