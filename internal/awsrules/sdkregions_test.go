package awsrules

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestRegionsMatchTheSDK compares Regions with the regions of the aws and
// aws-us-gov partitions in the partition data of the aws-sdk-go-v2 version
// in go.mod. The SDK keeps that data in an internal package, so the test
// reads the file from the module cache instead of importing it.
func TestRegionsMatchTheSDK(t *testing.T) {
	const module = "github.com/aws/aws-sdk-go-v2"
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", module).Output()
	if err != nil {
		t.Fatalf("locating %s with go list -m (needs the go command and the module cache): %v", module, err)
	}
	file := filepath.Join(strings.TrimSpace(string(out)), "internal", "endpoints", "awsrulesfn", "partitions.json")
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("reading the SDK's partition data: %v", err)
	}
	var doc struct {
		Partitions []struct {
			ID      string                     `json:"id"`
			Regions map[string]json.RawMessage `json:"regions"`
		} `json:"partitions"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	var sdk []string
	for _, p := range doc.Partitions {
		if p.ID != "aws" && p.ID != "aws-us-gov" {
			continue
		}
		for code := range p.Regions {
			if !strings.HasPrefix(code, "aws-") { // aws-global, aws-us-gov-global: endpoints, not regions
				sdk = append(sdk, code)
			}
		}
	}
	slices.Sort(sdk)
	if len(sdk) == 0 {
		t.Fatalf("%s lists no region of the aws and aws-us-gov partitions", file)
	}
	for _, code := range sdk {
		if _, ok := slices.BinarySearch(Regions, code); !ok {
			t.Errorf("the SDK knows AWS region %s, Regions does not: add it (and its location to scaffold.AWSRegionNames)", code)
		}
	}
	for _, code := range Regions {
		if !slices.Contains(sdk, code) {
			t.Errorf("Regions has %s, which the SDK's partition data does not list", code)
		}
	}
	if !slices.IsSorted(Regions) {
		t.Error("Regions is not sorted (AWSRegion searches it)")
	}
}
