package sync

import (
	"errors"
	"strings"
	"testing"

	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"
	"github.com/coderfleet/coderfleet/awsstate"
)

// TestEachRoute53RuleHasOneOwner checks that a pair of desired records
// breaking a rule is refused on the desired state alone, before the read,
// and not again by the check after it; and that a rule broken beside a
// record only the zone holds is worded as the same rule.
func TestEachRoute53RuleHasOneOwner(t *testing.T) {
	d := desiredFleet(t)
	// us-west-2 routes coderdemo.io to us-east-2 too.
	for i, r := range d.Regions {
		if r.Region == "us-west-2" {
			d.Regions[i].Records = append(d.Regions[i].Records, awsstate.Record{Name: "coderdemo.io", Type: "A", SetIdentifier: "us-west-2",
				Routing: awsstate.Routing{Policy: awsstate.RoutingLatency, AWSRegion: "us-east-2"}, Line: 25,
				Alias: awsstate.Alias{Service: "coder-proxy/coder-proxy", Cluster: "coder-us-west-2", AWSRegion: "us-west-2", EvaluateTargetHealth: true}})
		}
	}
	errs := desiredRuleErrors(d)
	if len(errs) == 0 {
		t.Fatal("two folders' latency records for one AWS region passed the check on the desired state")
	}
	for _, w := range []string{"regions/us-west-2/aws/records.yaml:25: records[2]: ", "latency record coderdemo.io A for AWS region us-east-2 would be a second one in hosted zone coderdemo.io",
		"desired by region us-east-2 at regions/us-east-2/aws/records.yaml:", "Route53 allows one latency record set per name, type and latency region", "(hint: two region folders route this name"} {
		if !strings.Contains(errs[0].Error(), w) {
			t.Errorf("error lacks %q:\n%v", w, errs[0])
		}
	}
	a := &Actual{Zones: map[string]*Zone{"coderdemo.io": {ID: "Z1", Name: "coderdemo.io"}}, LoadBalancers: allLBs(d)}
	p := Compute(d, a, Policy{})
	if len(p.Changes) == 0 {
		t.Fatal("the plan has no record to create")
	}
	if err := checkRoute53Rules(p, a, d, Policy{}); err != nil {
		t.Errorf("the check after the read reported a pair of desired records again:\n%v", err)
	}

	// A routed record beside a simple one only the zone holds: the same
	// rule, worded as before the read.
	z := &Zone{ID: "Z1", Name: "coderdemo.io", Records: []Record{{Name: "y.coderdemo.io", Type: "A", TTL: 60, Values: []string{"192.0.2.1"}}}}
	routed := Record{Name: "y.coderdemo.io", Type: "A", SetIdentifier: "r", Region: "us-east-2", Alias: &AliasTarget{DNSName: "nlb.elb.amazonaws.com", HostedZoneID: "Z"}}
	hand := &Plan{Changes: []Change{{Action: Create, Resource: ResourceRecord, rec: &recOp{zoneID: "Z1", src: "regions/r/aws/records.yaml:7: records[1]",
		changes: []r53types.Change{{Action: r53types.ChangeActionCreate, ResourceRecordSet: routed.toRoute53()}}}}}}
	err := checkRoute53Rules(hand, &Actual{Zones: map[string]*Zone{"coderdemo.io": z}}, desiredFleet(t), Policy{})
	var in *InputError
	if !errors.As(err, &in) {
		t.Fatalf("err = %v, want an input error", err)
	}
	for _, w := range []string{"regions/r/aws/records.yaml:7: records[1]: record y.coderdemo.io A [r] is a routed record (set identifier r), but y.coderdemo.io A (not owned by coderfleet) is a simple record",
		"Route53 holds either one simple record or only routed records per name and type", "(hint: delete the records of the other kind"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q:\n%v", w, err)
		}
	}
}
