package coderapi_test

import (
	"testing"

	"github.com/coderfleet/coderfleet/internal/coderapi/contracttest"
	"github.com/coderfleet/coderfleet/internal/fakecoderd"
)

// TestContractFake runs the contract suite against the fake coderd, with
// and without a Premium licence.
func TestContractFake(t *testing.T) {
	for _, premium := range []bool{true, false} {
		name := "premium"
		if !premium {
			name = "unlicensed"
		}
		t.Run(name, func(t *testing.T) {
			fake := fakecoderd.New(fakecoderd.Options{OwnerToken: "owner-token-1", MemberToken: "member-token-1",
				Premium: premium, Organizations: []string{"coder", "other"}})
			url, stop := fake.Start()
			defer stop()
			contracttest.Run(t, contracttest.Target{
				URL: url, OwnerToken: "owner-token-1", MemberToken: "member-token-1", Unlicensed: !premium,
				Organization: "coder",
				AddDaemon: func(org string, tags map[string]string) error {
					return fake.AddProvisionerDaemon(org, tags, "v2.24.0")
				},
			})
			if premium && (len(fake.Proxies()) != 0 || len(fake.ProvisionerKeys("coder")) != 0) {
				t.Errorf("the suite left proxies %v or keys %v behind", fake.Proxies(), fake.ProvisionerKeys("coder"))
			}
		})
	}
}
