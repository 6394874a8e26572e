package sync

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"

	"github.com/coderfleet/coderfleet/awsstate"
	"github.com/coderfleet/coderfleet/sync/internal/r53fake"
)

func desiredFleet(t *testing.T) *Desired {
	t.Helper()
	return mustDesired(t, newRepo(t, exampleFleet()...))
}

// allLBs resolves every Service of d to a made-up NLB.
func allLBs(d *Desired) map[string]LoadBalancer {
	m := map[string]LoadBalancer{}
	for _, r := range d.Regions {
		for _, rec := range r.Records {
			ref := LBRef{AWSRegion: rec.Alias.AWSRegion, Cluster: rec.Alias.Cluster, Service: rec.Alias.Service}
			m[ref.String()] = LoadBalancer{DNSName: "nlb-" + strings.ReplaceAll(rec.Alias.Service, "/", "-") + "." + rec.Alias.AWSRegion + ".elb.amazonaws.com", HostedZoneID: "ZNLB"}
		}
	}
	return m
}

func TestComputeOnEmptyAccountCreatesCertificatesHealthChecksAndPendingRecords(t *testing.T) {
	d := desiredFleet(t)
	a := &Actual{Zones: map[string]*Zone{"coderdemo.io": {ID: "Z1", Name: "coderdemo.io"}}, LoadBalancers: allLBs(d)}
	p := Compute(d, a, Policy{})
	goldenPlan(t, "empty-account", p)
	count := map[string]int{}
	for _, c := range p.Changes {
		count[string(c.Action)+" "+c.Resource]++
		if c.Resource == ResourceRecord && strings.Contains(c.Address, "[") && !c.rec.pending {
			t.Errorf("latency record %s should wait for its health check id", c.Address)
		}
	}
	// 9 alias records and the registry of AWS regions.
	if count["create certificate"] != 4 || count["create health-check"] != 3 || count["create record"] != 10 || len(p.Changes) != 17 {
		t.Errorf("changes = %v", count)
	}
	if len(p.Waiting) != 0 || len(p.Conflicts) != 0 {
		t.Errorf("waiting %v conflicts %v", p.Waiting, p.Conflicts)
	}
	// The plan is deterministic.
	if q := Compute(d, a, Policy{}); !samePlans(p, q) {
		t.Error("two computations differ")
	}
}

func samePlans(p, q *Plan) bool {
	var a, b strings.Builder
	_ = WritePlan(&a, p, FormatJSON)
	_ = WritePlan(&b, q, FormatJSON)
	return a.String() == b.String()
}

func TestComputeWaitsForMissingLoadBalancersAndKeepsTheirRecords(t *testing.T) {
	d := desiredFleet(t)
	lbs := allLBs(d)
	delete(lbs, LBRef{AWSRegion: "us-west-2", Cluster: "coder-us-west-2", Service: "coder-proxy/coder-proxy"}.String())
	owned := Record{Name: "us-west-2.coderdemo.io", Type: "A", Alias: &AliasTarget{DNSName: "old.elb.amazonaws.com", HostedZoneID: "Z"}}
	txt := ownerRecord(owned, "demo", "us-west-2")
	owned.Raw, txt.Raw = owned.toRoute53(), txt.toRoute53()
	a := &Actual{Zones: map[string]*Zone{"coderdemo.io": {ID: "Z1", Name: "coderdemo.io", Records: []Record{owned, txt}}}, LoadBalancers: lbs}
	p := Compute(d, a, Policy{Prune: true})
	goldenPlan(t, "waiting-load-balancer", p)
	if len(p.Waiting) != 2 || p.Waiting[0].Service != "coder-proxy/coder-proxy" || p.Waiting[0].Cluster != "coder-us-west-2" {
		t.Fatalf("waiting = %+v", p.Waiting)
	}
	for _, c := range p.Changes {
		if strings.Contains(c.Address, "us-west-2.coderdemo.io") {
			t.Errorf("a waiting record has a change: %+v", c)
		}
	}
	var b strings.Builder
	_ = WritePlan(&b, p, FormatText)
	if !strings.Contains(b.String(), "Next: commit the rendered regions/") || !strings.Contains(b.String(), "2 waiting") {
		t.Errorf("text plan lacks the waiting hint:\n%s", b.String())
	}
}

func TestComputeNeverTouchesForeignRecords(t *testing.T) {
	d := desiredFleet(t)
	rec := func(name, typ, setID, region string, vals ...string) Record {
		r := Record{Name: name, Type: typ, SetIdentifier: setID, Region: region, TTL: 300, Values: vals}
		r.Raw = r.toRoute53()
		return r
	}
	same := Record{Name: "eu-west-2.coderdemo.io", Type: "A", Alias: &AliasTarget{DNSName: "nlb-coder-proxy-coder-proxy.eu-west-2.elb.amazonaws.com", HostedZoneID: "ZNLB"}}
	z := &Zone{ID: "Z1", Name: "coderdemo.io", Records: []Record{
		rec("coderdemo.io", "A", "", "", "192.0.2.1"),                     // simple A blocks latency apex
		rec("*.us-west-2.coderdemo.io", "CNAME", "", "", "x.example.com"), // CNAME blocks the A
		rec("llm.coderdemo.io", "A", "", "", "192.0.2.2"),                 // same key, other value
		rec("docs.coderdemo.io", "A", "", "", "192.0.2.3"),                // unrelated
		same, // equal foreign record: left alone, no conflict
	}}
	a := &Actual{Zones: map[string]*Zone{"coderdemo.io": z}, LoadBalancers: allLBs(d)}
	p := Compute(d, a, Policy{Prune: true})
	goldenPlan(t, "foreign-records", p)
	var conflicts []string
	for _, c := range p.Conflicts {
		conflicts = append(conflicts, c.Record)
	}
	want := "*.us-west-2.coderdemo.io A|coderdemo.io A [us-east-2]|llm.coderdemo.io A"
	if strings.Join(conflicts, "|") != want {
		t.Errorf("conflicts = %q, want %q", conflicts, want)
	}
	for _, c := range p.Changes {
		for _, k := range []string{"docs.", "llm.", "eu-west-2.coderdemo.io A", ": coderdemo.io A", "*.us-west-2"} {
			if c.Resource == ResourceRecord && strings.Contains(c.Address, k) && !strings.Contains(c.Address, "*.eu-west-2") {
				t.Errorf("change on a foreign record: %s %s", c.Action, c.Address)
			}
		}
	}
}

func TestComputeUpdatesOwnedRecordWhenLoadBalancerMoves(t *testing.T) {
	d := desiredFleet(t)
	owned := Record{Name: "eu-west-2.coderdemo.io", Type: "A", Alias: &AliasTarget{DNSName: "old.elb.amazonaws.com", HostedZoneID: "ZNLB"}}
	txt := ownerRecord(owned, "demo", "eu-west-2")
	owned.Raw, txt.Raw = owned.toRoute53(), txt.toRoute53()
	a := &Actual{Zones: map[string]*Zone{"coderdemo.io": {ID: "Z1", Name: "coderdemo.io", Records: []Record{owned, txt}}}, LoadBalancers: allLBs(d)}
	p := Compute(d, a, Policy{})
	goldenPlan(t, "moved-load-balancer", p)
	for _, c := range p.Changes {
		if c.Address == "coderdemo.io: eu-west-2.coderdemo.io A" {
			if c.Action != Update || c.rec.changes[0].Action != r53types.ChangeActionUpsert || !strings.Contains(c.Fields[0].Old, "old.elb") {
				t.Errorf("change = %+v", c)
			}
			return
		}
	}
	t.Error("no update for the moved load balancer")
}

func TestComputeOtherFleetsRecordsAreForeign(t *testing.T) {
	d := desiredFleet(t)
	other := Record{Name: "llm.coderdemo.io", Type: "A", Alias: &AliasTarget{DNSName: "x.elb.amazonaws.com", HostedZoneID: "Z"}}
	txt := ownerRecord(other, "another-fleet", "us-east-2")
	other.Raw, txt.Raw = other.toRoute53(), txt.toRoute53()
	a := &Actual{Zones: map[string]*Zone{"coderdemo.io": {ID: "Z1", Name: "coderdemo.io", Records: []Record{other, txt}}}, LoadBalancers: allLBs(d)}
	p := Compute(d, a, Policy{Prune: true})
	goldenPlan(t, "other-fleet", p)
	if len(p.Conflicts) != 1 || p.Conflicts[0].Record != "llm.coderdemo.io A" {
		t.Errorf("conflicts = %+v", p.Conflicts)
	}
}

func TestOwnerNames(t *testing.T) {
	for _, c := range []struct{ name, typ, owner string }{
		{"coderdemo.io", "A", "_cf-a.coderdemo.io"},
		{"*.coderdemo.io", "A", "_cf-a._wildcard.coderdemo.io"},
		{"*.us-west-2.coderdemo.io", "A", "_cf-a._wildcard.us-west-2.coderdemo.io"},
		{"_abc.coderdemo.io", "CNAME", "_cf-cname._abc.coderdemo.io"},
	} {
		if got := ownerName(c.name, c.typ); got != c.owner {
			t.Errorf("ownerName(%s) = %s, want %s", c.name, got, c.owner)
		}
		n, typ, ok := ownedName(c.owner)
		if !ok || n != c.name || typ != c.typ {
			t.Errorf("ownedName(%s) = %s %s %t", c.owner, n, typ, ok)
		}
	}
	if f, r, ok := parseOwner(ownerValue("demo", "us-east-2")); !ok || f != "demo" || r != "us-east-2" {
		t.Errorf("parseOwner = %s %s %t", f, r, ok)
	}
	if _, _, ok := parseOwner(`"v=spf1 -all"`); ok {
		t.Error("an SPF record parsed as an owner")
	}
	// parseOwner reads what parseHeritage reads, without its map.
	for _, v := range []string{ownerValue("demo", "us-east-2"), `"heritage=coderfleet"`, `"heritage=coderfleet,"`, `"heritage=coderfleet,coderfleet/fleet="`,
		`"heritage=coderfleet,coderfleet/region=r,coderfleet/fleet=a,coderfleet/fleet=b"`, `"heritage=external-dns,coderfleet/fleet=a"`, `""`, `heritage=coderfleet,coderfleet/fleet=x`} {
		kv, hok := parseHeritage(v)
		f, r, ok := parseOwner(v)
		if f != kv["coderfleet/fleet"] || r != kv["coderfleet/region"] || ok != (hok && kv["coderfleet/fleet"] != "") {
			t.Errorf("parseOwner(%s) = %q %q %t; parseHeritage gives %v %t", v, f, r, ok, kv, hok)
		}
	}
	if normName(`\052.coderdemo.io.`) != "*.coderdemo.io" {
		t.Errorf("normName = %q", normName(`\052.coderdemo.io.`))
	}
}

func TestBatchesRespectLimitsCountUpsertTwiceAndKeepGroups(t *testing.T) {
	mk := func(action r53types.ChangeAction, vals int, size int) r53types.Change {
		rr := &r53types.ResourceRecordSet{Name: aws.String("x."), Type: "TXT", TTL: aws.Int64(1)}
		for i := 0; i < vals; i++ {
			rr.ResourceRecords = append(rr.ResourceRecords, r53types.ResourceRecord{Value: aws.String(strings.Repeat("v", size))})
		}
		return r53types.Change{Action: action, ResourceRecordSet: rr}
	}
	// 10 groups of (create 3 values + upsert 1 value): 3 + 2 = 5 elements each.
	var groups [][]r53types.Change
	for i := 0; i < 10; i++ {
		groups = append(groups, []r53types.Change{mk(r53types.ChangeActionCreate, 3, 10), mk(r53types.ChangeActionUpsert, 1, 10)})
	}
	bs := batches(groups, BatchLimits{MaxElements: 12, MaxChars: 1000})
	if len(bs) != 5 {
		t.Fatalf("%d batches, want 5 (two groups of 5 elements each)", len(bs))
	}
	for _, b := range bs {
		if len(b) != 4 || b[0].Action != r53types.ChangeActionCreate || b[1].Action != r53types.ChangeActionUpsert {
			t.Errorf("batch splits a group: %d changes", len(b))
		}
	}
	// Characters: each group is 30 + 2*10 = 50 characters.
	if bs := batches(groups, BatchLimits{MaxElements: 1000, MaxChars: 120}); len(bs) != 5 {
		t.Errorf("%d batches by characters, want 5", len(bs))
	}
	if bs := batches(groups, DefaultBatchLimits); len(bs) != 1 {
		t.Errorf("%d batches with default limits, want 1", len(bs))
	}
}

// TestApplyBatchesWithinLimitsOnFake makes the fake's zone receive many
// small batches when the limits are tiny, and checks each is accepted.
func TestApplyBatchesWithinLimitsOnFake(t *testing.T) {
	e := fakeEnv(t, nil)
	createExampleNLBs(t, e.url)
	r := newRepo(t, exampleFleet()...)
	opts := e.options(r, &realShortClock{*newFakeClock()})
	opts.Limits = BatchLimits{MaxElements: 4, MaxChars: 32000}
	if _, err := Apply(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	// 14 groups (9 alias + 5 validation records) of at least 2 elements.
	if n := e.fake.Calls["ChangeResourceRecordSets"]; n < 8 {
		t.Errorf("%d batches, want at least 8 with 4 elements a batch", n)
	}
	p, err := PlanChanges(context.Background(), opts)
	if err != nil || !p.Converged() {
		t.Errorf("not converged: %v", err)
	}
}

func TestLoadDesiredReportsFileErrors(t *testing.T) {
	r := newRepo(t, exampleFleet()...)
	r.fs["regions/us-west-2/aws/records.yaml"].Data = []byte(strings.Replace(string(r.fs["regions/us-west-2/aws/records.yaml"].Data), "policy: simple", "policy: weighted", 1))
	_, err := LoadDesired(r.fs, nil, nil)
	var in *InputError
	if err == nil || !asInput(err, &in) || !strings.Contains(err.Error(), `regions/us-west-2/aws/records.yaml:`) {
		t.Fatalf("err = %v", err)
	}
	if _, err := LoadDesired(r.fs, []string{"ap-south-1"}, nil); err == nil || !strings.Contains(err.Error(), "ap-south-1") {
		t.Errorf("unknown region: %v", err)
	}
}

func asInput(err error, target **InputError) bool {
	e, ok := err.(*InputError)
	*target = e
	return ok
}

// TestFakeEnforcesRoute53Rules checks the fake's own rules, which moto lacks.
func TestFakeEnforcesRoute53Rules(t *testing.T) {
	ctx := context.Background()
	f := r53fake.New()
	z := f.AddZone("coderdemo.io")
	a := func(name, setID string, ip string) *r53types.ResourceRecordSet {
		rr := &r53types.ResourceRecordSet{Name: aws.String(name), Type: "A", TTL: aws.Int64(60), ResourceRecords: []r53types.ResourceRecord{{Value: aws.String(ip)}}}
		if setID != "" {
			rr.SetIdentifier, rr.Region = aws.String(setID), r53types.ResourceRecordSetRegion(setID)
		}
		return rr
	}
	change := func(cs ...r53types.Change) error {
		_, err := f.ChangeResourceRecordSets(ctx, &route53.ChangeResourceRecordSetsInput{HostedZoneId: &z, ChangeBatch: &r53types.ChangeBatch{Changes: cs}})
		return err
	}
	c := func(act r53types.ChangeAction, rr *r53types.ResourceRecordSet) r53types.Change {
		return r53types.Change{Action: act, ResourceRecordSet: rr}
	}
	if err := change(c("CREATE", a("*.coderdemo.io", "", "192.0.2.1"))); err != nil {
		t.Fatal(err)
	}
	if err := change(c("CREATE", a("*.coderdemo.io", "", "192.0.2.2"))); err == nil || errorCode(err) != "InvalidChangeBatch" {
		t.Errorf("CREATE of an existing record: %v", err)
	}
	if err := change(c("DELETE", a("*.coderdemo.io", "", "192.0.2.9"))); err == nil {
		t.Error("DELETE with other values succeeded")
	}
	// Atomic: the second change fails, so the first must not apply.
	if err := change(c("CREATE", a("new.coderdemo.io", "", "192.0.2.3")), c("CREATE", a("*.coderdemo.io", "", "192.0.2.4"))); err == nil {
		t.Error("batch with a failing change succeeded")
	}
	for _, rr := range f.Records(z) {
		if *rr.Name == "new.coderdemo.io." {
			t.Error("batch was not atomic")
		}
		if strings.Contains(*rr.Name, "*") {
			t.Errorf("wildcard not returned as \\052: %s", *rr.Name)
		}
	}
	if err := change(c("CREATE", a("x.coderdemo.io", "", "192.0.2.5")), c("CREATE", a("x.coderdemo.io", "us-east-2", "192.0.2.6"))); err == nil {
		t.Error("simple and latency records of one name and type were accepted")
	}
	// Paging by name, type and set identifier returns each record once.
	for _, s := range []string{"us-east-2", "us-west-2", "eu-west-2", "ap-south-1"} {
		if err := change(c("CREATE", a("lat.coderdemo.io", s, "192.0.2.7"))); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]int{}
	in := &route53.ListResourceRecordSetsInput{HostedZoneId: &z, MaxItems: aws.Int32(1)}
	for pages := 0; ; pages++ {
		out, err := f.ListResourceRecordSets(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		for _, rr := range out.ResourceRecordSets {
			seen[fromRoute53(rr).Key()]++
		}
		if !out.IsTruncated {
			break
		}
		in = &route53.ListResourceRecordSetsInput{HostedZoneId: &z, MaxItems: aws.Int32(1), StartRecordName: out.NextRecordName, StartRecordType: out.NextRecordType, StartRecordIdentifier: out.NextRecordIdentifier}
	}
	for k, n := range seen {
		if n != 1 {
			t.Errorf("%s listed %d times", k, n)
		}
	}
	if len(seen) != 7 {
		t.Errorf("listed %d records, want 7 (SOA, NS, wildcard, 4 latency)", len(seen))
	}
}

// TestPlanStatusDrivesSummaryAndJSON checks that the summary line and the
// JSON "status" of a plan follow Plan.Status, whatever the plan holds.
func TestPlanStatusDrivesSummaryAndJSON(t *testing.T) {
	d := desiredFleet(t)
	changes := Compute(d, &Actual{Zones: map[string]*Zone{"coderdemo.io": {ID: "Z1", Name: "coderdemo.io"}}, LoadBalancers: allLBs(d)}, Policy{})
	waiting := []Waiting{{Region: "us-west-2", Record: "us-west-2.coderdemo.io A", Service: "coder-proxy/coder-proxy", Cluster: "c", AWSRegion: "us-west-2"}}
	conflicts := []Conflict{{Zone: "coderdemo.io", Record: "llm.coderdemo.io A", Reason: "taken"}}
	for _, tc := range []struct {
		name    string
		plan    *Plan
		status  Status
		summary string
	}{
		{"converged", &Plan{}, StatusConverged, "No changes. AWS matches the desired state; 0 waiting, 0 conflicts."},
		{"kept only", &Plan{Kept: 2}, StatusConverged, "No changes. The desired state is in place; 0 waiting, 0 conflicts; 2 owned object(s)"},
		{"changes", changes, StatusChangesPending, "Plan: 17 to add, 0 to change, 0 to destroy, 5 validation record(s) known after apply to add; 0 waiting, 0 conflicts."},
		{"outputs only", &Plan{Outputs: []string{"overlays/us-east-2/outputs.yaml"}}, StatusChangesPending, "Plan: 0 to add, 0 to change, 0 to destroy, 1 outputs file(s) to write; 0 waiting, 0 conflicts."},
		{"waiting only", &Plan{Waiting: waiting}, StatusWaiting, "Nothing to apply now; records wait for their load balancers; 1 waiting, 0 conflicts."},
		{"conflicts only", &Plan{Waiting: waiting, Conflicts: conflicts}, StatusConflicts, "Conflicts: 1 desired object(s) cannot be made (apply makes the rest, then fails); plan: 0 to add, 0 to change, 0 to destroy; 1 waiting, 1 conflicts."},
		{"conflicts and changes", &Plan{Changes: changes.Changes[:1], Conflicts: conflicts}, StatusConflicts, "Conflicts: 1 desired object(s) cannot be made (apply makes the rest, then fails); plan: 1 to add,"},
	} {
		if got := tc.plan.Status(); got != tc.status {
			t.Errorf("%s: status %q, want %q", tc.name, got, tc.status)
		}
		if tc.plan.Converged() != (tc.status == StatusConverged) {
			t.Errorf("%s: Converged() = %t disagrees with status %q", tc.name, tc.plan.Converged(), tc.status)
		}
		var text, js strings.Builder
		if err := WritePlan(&text, tc.plan, FormatText); err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(text.String()), "\n")
		if last := lines[len(lines)-1]; !strings.HasPrefix(last, tc.summary) {
			t.Errorf("%s: summary %q, want it to start with %q", tc.name, last, tc.summary)
		}
		if err := WritePlan(&js, tc.plan, FormatJSON); err != nil {
			t.Fatal(err)
		}
		if want := `"status": "` + string(tc.status) + `"`; !strings.Contains(js.String(), want) {
			t.Errorf("%s: JSON lacks %s:\n%s", tc.name, want, js.String())
		}
	}
}

// TestPlanListsAnOutputsFileApplyWouldWrite: an outputs.yaml that lacks the
// ARN of an issued certificate makes the plan pending, with a note, until
// apply writes it.
func TestPlanListsAnOutputsFileApplyWouldWrite(t *testing.T) {
	e := fakeEnv(t, nil)
	createExampleNLBs(t, e.url)
	r := newRepo(t, exampleFleet()...)
	opts := e.options(r, &realShortClock{*newFakeClock()})
	ctx := context.Background()
	if _, err := Apply(ctx, opts); err != nil {
		t.Fatal(err)
	}
	file := outputsPath("us-west-2")
	r.fs[file].Data = awsstate.MarshalOutputs(awsstate.Outputs{})
	p, err := PlanChanges(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if p.Status() != StatusChangesPending || len(p.Changes) != 0 || strings.Join(p.Outputs, " ") != file {
		t.Fatalf("status %q, changes %d, outputs %q; want changes-pending, 0 and %s", p.Status(), len(p.Changes), p.Outputs, file)
	}
	if len(p.Notes) != 1 || !strings.HasPrefix(p.Notes[0], file+" lacks the ARN of issued certificate(s) proxy (arn:aws:acm:us-west-2:") || !strings.HasSuffix(p.Notes[0], "; sync apply writes it (then run coderfleet render and commit)") {
		t.Errorf("notes = %q", p.Notes)
	}
	res, err := Apply(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(res.Outputs, " ") != file {
		t.Errorf("apply wrote %q, want %s", res.Outputs, file)
	}
	if p, err := PlanChanges(ctx, opts); err != nil || !p.Converged() || len(p.Notes) != 0 {
		t.Errorf("after apply: %v %+v", err, p)
	}
}
