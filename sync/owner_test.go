package sync

import (
	"maps"
	"slices"
	"testing"
)

// TestOwnersAreReadOnce checks the one reading of ownership TXT records
// (readOwners) that the planner, the Route53 rules' owner descriptions and
// the AWS regions in scope all use: the fleet's own TXT records, a wildcard
// spelled _wildcard, and neither another fleet's TXT nor one of two values.
func TestOwnersAreReadOnce(t *testing.T) {
	lat := Record{Name: "coderdemo.io", Type: "A", SetIdentifier: "us-east-2", Region: "us-east-2", Alias: &AliasTarget{DNSName: "nlb.elb.amazonaws.com", HostedZoneID: "Z"}}
	wild := Record{Name: "*.coderdemo.io", Type: "A", Alias: &AliasTarget{DNSName: "nlb.elb.amazonaws.com", HostedZoneID: "Z"}}
	other := Record{Name: "x.coderdemo.io", Type: "A", TTL: 60, Values: []string{"192.0.2.1"}}
	twice := Record{Name: "y.coderdemo.io", Type: "A", TTL: 60, Values: []string{"192.0.2.2"}}
	twiceTXT := ownerRecord(twice, "demo", "us-east-2")
	twiceTXT.Values = append(twiceTXT.Values, `"x"`)
	recs := []Record{lat, ownerRecord(lat, "demo", "us-east-2"), wild, ownerRecord(wild, "demo", "old"),
		other, ownerRecord(other, "elsewhere", "us-east-2"), twice, twiceTXT}

	owned := readOwners(recs, "demo")
	if got, want := slices.Sorted(maps.Keys(owned)), []string{"*.coderdemo.io A", "coderdemo.io A [us-east-2]"}; !slices.Equal(got, want) {
		t.Fatalf("owned keys %q, want %q", got, want)
	}
	if o := owned[wild.Key()]; o.region != "old" || o.name != "*.coderdemo.io" || o.txt.Name != "_cf-a._wildcard.coderdemo.io" {
		t.Errorf("wildcard owner %+v", o)
	}
	d := &Desired{Fleet: "demo", Complete: true, Regions: []RegionState{{Region: "us-east-2"}}}
	for _, tc := range []struct {
		r    Record
		want string
	}{
		{lat, "owned by region us-east-2"},
		{wild, "owned by region old, whose folder regions/old no longer exists"},
		{other, "not owned by coderfleet"},
		{twice, "not owned by coderfleet"},
	} {
		if got := ownerOf(ruleRecord{Record: tc.r}, owned, d); got != tc.want {
			t.Errorf("owner of %s: %q, want %q", tc.r.Key(), got, tc.want)
		}
	}
	if got := usedAWSRegions(&Zone{Name: "coderdemo.io", Records: recs}, "demo"); !slices.Equal(got, []string{"us-east-2"}) {
		t.Errorf("usedAWSRegions = %q, want [us-east-2]", got)
	}
}
