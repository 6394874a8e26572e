//go:build contractcoder

package coderapi_test

import (
	"os"
	"testing"

	"github.com/coderfleet/coderfleet/internal/coderapi/contracttest"
)

// TestContractCoder runs the contract suite against a real coderd. It is
// built only with the contractcoder tag, which `make contract-coder` sets,
// so `make test` neither runs nor skips it. It fails unless
// CODERFLEET_CONTRACT_CODER_URL and CODERFLEET_CONTRACT_CODER_TOKEN are set
// (docs/coder-api.md).
func TestContractCoder(t *testing.T) {
	url, token := os.Getenv("CODERFLEET_CONTRACT_CODER_URL"), os.Getenv("CODERFLEET_CONTRACT_CODER_TOKEN")
	if url == "" || token == "" {
		t.Fatal("set CODERFLEET_CONTRACT_CODER_URL and CODERFLEET_CONTRACT_CODER_TOKEN (an Owner's token) to the coderd to check")
	}
	org := os.Getenv("CODERFLEET_CONTRACT_CODER_ORG")
	if org == "" {
		org = "coder"
	}
	contracttest.Run(t, contracttest.Target{
		URL: url, OwnerToken: token, MemberToken: os.Getenv("CODERFLEET_CONTRACT_CODER_MEMBER_TOKEN"),
		Unlicensed: os.Getenv("CODERFLEET_CONTRACT_CODER_PREMIUM") == "false", Organization: org,
	})
}
