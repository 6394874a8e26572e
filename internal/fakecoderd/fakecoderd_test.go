package fakecoderd_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/coderfleet/coderfleet/internal/coderapi"
	"github.com/coderfleet/coderfleet/internal/fakecoderd"
)

// TestConcurrentCreates: many clients create proxies and keys at once; each
// name is created exactly once, the rest get 409, and the recorded requests
// hold no token.
func TestConcurrentCreates(t *testing.T) {
	fake := fakecoderd.New(fakecoderd.Options{OwnerToken: "owner-tok", Premium: true})
	url, stop := fake.Start()
	defer stop()
	c, err := coderapi.New(url, "owner-tok", nil)
	if err != nil {
		t.Fatal(err)
	}
	org, err := c.Organization(context.Background(), "coder")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	created, conflicts := 0, 0
	var tokens []string
	for i := 0; i < 40; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			name := fmt.Sprintf("p%d", i%10)
			res, err := c.CreateWorkspaceProxy(context.Background(), coderapi.CreateWorkspaceProxyRequest{Name: name, DisplayName: name})
			key, kerr := c.CreateProvisionerKey(context.Background(), org.ID, coderapi.CreateProvisionerKeyRequest{Name: name})
			mu.Lock()
			defer mu.Unlock()
			for _, e := range []error{err, kerr} {
				switch {
				case e == nil:
					created++
				case coderapi.IsConflict(e):
					conflicts++
				default:
					t.Error(e)
				}
			}
			tokens = append(tokens, res.ProxyToken, key.Key)
		}(i)
	}
	wg.Wait()
	if created != 20 || conflicts != 60 || len(fake.Proxies()) != 10 || len(fake.ProvisionerKeys(org.ID)) != 10 {
		t.Fatalf("created %d, conflicts %d, proxies %d, keys %d; want 20, 60, 10, 10", created, conflicts, len(fake.Proxies()), len(fake.ProvisionerKeys("coder")))
	}
	if n := len(fake.MutatingRequests()); n != 80 {
		t.Errorf("%d mutating requests, want 80", n)
	}
	for _, r := range fake.Requests() {
		for _, tok := range append(tokens, "owner-tok") {
			if tok != "" && strings.Contains(r.Path, tok) {
				t.Errorf("request %v holds a token", r)
			}
		}
	}
}

// TestStateAPI: the test-side methods change what the API answers, and a
// member may read organizations but not manage keys.
func TestStateAPI(t *testing.T) {
	fake := fakecoderd.New(fakecoderd.Options{OwnerToken: "o", MemberToken: "m", Premium: true, Organizations: []string{"coder", "data"}})
	url, stop := fake.Start()
	defer stop()
	owner, _ := coderapi.New(url, "o", nil)
	member, _ := coderapi.New(url, "m", nil)
	ctx := context.Background()
	if _, err := owner.CreateWorkspaceProxy(ctx, coderapi.CreateWorkspaceProxyRequest{Name: "eu", DisplayName: "EU"}); err != nil {
		t.Fatal(err)
	}
	if err := fake.SetProxyStatus("eu", "unreachable", "v2.1.0"); err != nil {
		t.Fatal(err)
	}
	if err := fake.SetProxyStatus("nope", "ok", ""); err == nil {
		t.Error("SetProxyStatus of an unknown proxy: no error")
	}
	list, err := owner.WorkspaceProxies(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[1].Status.Status != coderapi.ProxyUnreachable || list[1].Version != "v2.1.0" || list[1].Healthy || !list[1].Registered() {
		t.Fatalf("list after SetProxyStatus: %+v", list)
	}
	data, err := member.Organization(ctx, "data")
	if err != nil {
		t.Fatal(err)
	}
	if data.IsDefault {
		t.Error("the second organization is the default")
	}
	if _, err := member.CreateProvisionerKey(ctx, data.ID, coderapi.CreateProvisionerKeyRequest{Name: "k"}); !coderapi.IsForbidden(err) {
		t.Errorf("member creating a key: %v, want 403", err)
	}
	if err := fake.AddProvisionerDaemon("nope", nil, "v"); err == nil {
		t.Error("AddProvisionerDaemon to an unknown organization: no error")
	}
	if err := fake.AddProvisionerDaemon("data", map[string]string{"a": "1"}, "v2.2.0"); err != nil {
		t.Fatal(err)
	}
	ds, err := owner.ProvisionerDaemons(ctx, data.ID, map[string]string{"a": "1"})
	if err != nil || len(ds) != 1 || ds[0].Version != "v2.2.0" || ds[0].OrganizationID != data.ID {
		t.Fatalf("daemons %+v, %v", ds, err)
	}
	if ds, _ := owner.ProvisionerDaemons(ctx, data.ID, map[string]string{"a": "2"}); len(ds) != 0 {
		t.Errorf("tag filter a=2 listed %+v", ds)
	}
	if _, err := owner.PatchWorkspaceProxy(ctx, coderapi.PatchWorkspaceProxy{ID: fake.DeploymentID(), Name: "renamed", DisplayName: "D", Icon: "i"}); err == nil {
		t.Error("renaming the primary: no error")
	}
	if err := owner.DeleteWorkspaceProxy(ctx, "primary"); err == nil {
		t.Error("deleting the primary: no error")
	}
}
