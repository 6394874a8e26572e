package sync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/acm"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"

	"github.com/coderfleet/coderfleet/sync/internal/r53fake"
)

// TestContractScope runs the desired-state scope scenarios against moto and
// the fake: what the fleet owns is read in every AWS region it has used, not
// only in the region folders that exist.
func TestContractScope(t *testing.T) {
	for _, ev := range envs {
		t.Run(ev.name, func(t *testing.T) {
			t.Run("DecommissionedRegionIsListedThenPruned", func(t *testing.T) { contractDecommission(t, ev.make(t, nil)) })
			t.Run("RenamedRegionIsRefusedWithoutPruneAndReplacedWithIt", func(t *testing.T) { contractRename(t, ev.make(t, nil)) })
		})
	}
}

// withoutRegion is the repository of fleet without region, carrying the
// outputs the first apply wrote for the others.
func withoutRegion(t *testing.T, from *repo, fleet []regionInput, region string) *repo {
	t.Helper()
	var keep []regionInput
	for _, in := range fleet {
		if in.Region != region {
			keep = append(keep, in)
		}
	}
	r := newRepo(t, keep...)
	for _, in := range keep {
		p := "overlays/" + in.Region + "/outputs.yaml"
		if f := from.fs[p]; f != nil {
			r.fs[p] = f
		}
	}
	return r
}

// ownedSnapshot serialises every record of the zone whose name does not
// mention region, exactly as the API returns it.
func (e *env) snapshotExcept(t *testing.T, region string) string {
	t.Helper()
	var parts []string
	for _, rr := range e.zoneRecords(t) {
		if strings.Contains(aws.ToString(rr.Name), region) {
			continue
		}
		b, err := json.Marshal(rr)
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, string(b))
	}
	sort.Strings(parts)
	return strings.Join(parts, "\n")
}

func planAddrs(p *Plan) []string {
	var out []string
	for _, c := range p.Changes {
		a := string(c.Action) + " " + c.Resource + " " + c.Address
		if i := strings.Index(a, " ("); i > 0 && c.Resource == ResourceHealthCheck {
			a = a[:i] // the health check's id
		}
		if c.Resource == ResourceRecord && strings.Contains(a, ": _") && strings.HasSuffix(a, " CNAME") {
			a = a[:strings.Index(a, ": _")+2] + "<validation>" + a[strings.Index(a[strings.Index(a, ": _")+2:], ".")+strings.Index(a, ": _")+2:]
		}
		out = append(out, a)
	}
	return out
}

func contractDecommission(t *testing.T, e *env) {
	ctx := context.Background()
	createExampleNLBs(t, e.url)
	foreign := e.foreignSnapshot(t)
	fleet := exampleFleet()
	r := newRepo(t, fleet...)
	opts := e.options(r, &realShortClock{*newFakeClock()})
	if _, err := Apply(ctx, opts); err != nil {
		t.Fatal(err)
	}
	others := e.snapshotExcept(t, "eu-west-2")

	// git rm -r overlays/eu-west-2 && coderfleet render: regions/eu-west-2 is gone.
	r2 := withoutRegion(t, r, fleet, "eu-west-2")
	opts.Repo, opts.WriteFile = r2.fs, r2.WriteFile
	p, err := PlanChanges(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	// Nothing to do without --prune, but every orphan is listed, the
	// certificate too although no folder names eu-west-2 any more.
	if len(p.Changes) != 0 || !p.Converged() || p.Kept != 5 || len(p.Notes) != 5 {
		t.Fatalf("without --prune want no changes and 5 orphans under Notes, got %q / kept %d / %q", planAddrs(p), p.Kept, p.Notes)
	}
	notes := strings.Join(p.Notes, "\n")
	for _, want := range []string{"certificate eu-west-2/proxy (arn:aws:acm:eu-west-2:", "health check eu-west-2/proxy", "record coderdemo.io: eu-west-2.coderdemo.io A is owned by region eu-west-2",
		"record coderdemo.io: *.eu-west-2.coderdemo.io A", ".eu-west-2.coderdemo.io CNAME", "its region folder regions/eu-west-2 no longer exists"} {
		if !strings.Contains(notes, want) {
			t.Errorf("notes lack %q:\n%s", want, notes)
		}
	}
	var text strings.Builder
	_ = WritePlan(&text, p, FormatText)
	if !strings.Contains(text.String(), "No changes. The desired state is in place; 0 waiting, 0 conflicts; 5 owned object(s) outside it kept (see Notes; --prune deletes them).") {
		t.Errorf("plan text:\n%s", text.String())
	}

	// --region us-west-2 with --prune: eu-west-2's objects are out of scope.
	scoped := opts
	scoped.Regions, scoped.Prune = []string{"us-west-2"}, true
	if p, err := PlanChanges(ctx, scoped); err != nil || len(p.Changes) != 0 || len(p.Notes) != 0 {
		t.Errorf("--region us-west-2 --prune touches other regions: %v %q %q", err, planAddrs(p), p.Notes)
	}

	opts.Prune = true
	p, err = PlanChanges(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"delete record coderdemo.io: *.eu-west-2.coderdemo.io A",
		"delete record coderdemo.io: <validation>.eu-west-2.coderdemo.io CNAME",
		"delete record coderdemo.io: eu-west-2.coderdemo.io A",
		"delete health-check eu-west-2/proxy",
		"delete certificate eu-west-2/proxy",
	}
	if got := planAddrs(p); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("prune plan = %q\nwant %q", got, want)
	}
	mut := e.mutating()
	if _, err := Apply(ctx, opts); err != nil {
		t.Fatal(err)
	}
	if e.mutating() == mut {
		t.Error("apply --prune made no call")
	}
	p, err = PlanChanges(ctx, opts)
	if err != nil || !p.Converged() || len(p.Notes) != 0 || p.Kept != 0 {
		t.Errorf("after prune: %v %q %q", err, planAddrs(p), p.Notes)
	}
	for _, rr := range e.zoneRecords(t) {
		if n := aws.ToString(rr.Name); strings.Contains(n, "eu-west-2") {
			t.Errorf("record %s %s left after prune", n, rr.Type)
		}
		if aws.ToString(rr.Name) == registryName("demo", "coderdemo.io")+"." && len(rr.ResourceRecords) != 3 {
			t.Errorf("the registry must keep every AWS region the fleet used: %+v", rr.ResourceRecords)
		}
	}
	hcs, err := e.direct.ListHealthChecks(ctx, &route53.ListHealthChecksInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hcs.HealthChecks {
		if strings.Contains(aws.ToString(h.HealthCheckConfig.FullyQualifiedDomainName), "eu-west-2") {
			t.Errorf("health check %s of eu-west-2 left after prune", aws.ToString(h.Id))
		}
	}
	certs, err := acm.NewFromConfig(awsConfig(e.url, http.DefaultTransport), func(o *acm.Options) { o.Region = "eu-west-2" }).ListCertificates(ctx, &acm.ListCertificatesInput{})
	if err != nil || len(certs.CertificateSummaryList) != 0 {
		t.Errorf("certificates left in eu-west-2 after prune: %v %+v", err, certs)
	}
	if got := e.snapshotExcept(t, "eu-west-2"); got != others {
		t.Errorf("the other regions' records changed:\nbefore:\n%s\nafter:\n%s", others, got)
	}
	if got := e.foreignSnapshot(t); got != foreign {
		t.Errorf("foreign records changed")
	}
	mut = e.mutating()
	if _, err := Apply(ctx, opts); err != nil {
		t.Fatal(err)
	}
	if n := e.mutating() - mut; n != 0 {
		t.Errorf("second apply --prune made %d mutating calls", n)
	}
}

func contractRename(t *testing.T, e *env) {
	ctx := context.Background()
	createExampleNLBs(t, e.url)
	fleet := exampleFleet()
	r := newRepo(t, fleet...)
	opts := e.options(r, &realShortClock{*newFakeClock()})
	if _, err := Apply(ctx, opts); err != nil {
		t.Fatal(err)
	}
	// The primary's folder us-east-2 is renamed ohio: same AWS region, same cluster.
	renamed := exampleFleet()
	renamed[0].Region = "ohio"
	r2 := newRepo(t, renamed...)
	for _, reg := range []string{"us-west-2", "eu-west-2"} {
		r2.fs["overlays/"+reg+"/outputs.yaml"] = r.fs["overlays/"+reg+"/outputs.yaml"]
	}
	opts.Repo, opts.WriteFile = r2.fs, r2.WriteFile

	// Without --prune the old latency records stay, and a second latency
	// record for coderdemo.io A in us-east-2 is what Route53 rejects: refused
	// before any call, by plan and by apply.
	_, err := PlanChanges(ctx, opts)
	var in *InputError
	if !errors.As(err, &in) {
		t.Fatalf("plan of a renamed region without --prune: %v, want an input error", err)
	}
	for _, want := range []string{"regions/ohio/aws/records.yaml:", ": records[", "latency record coderdemo.io A for AWS region us-east-2",
		`set identifier "us-east-2" (owned by region us-east-2, whose folder regions/us-east-2 no longer exists)`,
		"one latency record set per name, type and latency region", "(hint: the folder regions/us-east-2 no longer exists (renamed?): run coderfleet sync apply --prune"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	mut := e.mutating()
	if _, err := Apply(ctx, opts); !errors.As(err, &in) {
		t.Fatalf("apply of a renamed region without --prune: %v, want an input error", err)
	}
	if n := e.mutating() - mut; n != 0 {
		t.Errorf("the refused apply made %d mutating calls", n)
	}

	// With --prune the old records go in the same batch as the new ones.
	opts.Prune = true
	if _, err := Apply(ctx, opts); err != nil {
		t.Fatalf("apply --prune of the renamed region: %v", err)
	}
	p, err := PlanChanges(ctx, opts)
	if err != nil || !p.Converged() || len(p.Notes) != 0 {
		t.Errorf("after the renaming apply: %v %q %q", err, planAddrs(p), p.Notes)
	}
	latency := map[string][]string{}
	for _, rr := range e.zoneRecords(t) {
		rec := fromRoute53(rr)
		if rec.Region != "" && !strings.HasPrefix(rec.Name, "status.") { // status. is foreign
			k := rec.Name + " " + rec.Type + " " + rec.Region
			latency[k] = append(latency[k], rec.SetIdentifier)
		}
	}
	for k, ids := range latency {
		if len(ids) != 1 || ids[0] != "ohio" {
			t.Errorf("latency %s has set identifiers %q, want [ohio]", k, ids)
		}
	}
	if len(latency) != 4 { // apex, wildcard and their ownership TXTs
		t.Errorf("latency record sets = %v", latency)
	}
}

// TestRoute53RulesAreCheckedBeforeAnyCall checks the plan validation on
// plans Compute makes and on hand-made ones: each rule gives an input error
// naming the desired record's file, line and key, the rule and a hint.
func TestRoute53RulesAreCheckedBeforeAnyCall(t *testing.T) {
	d := desiredFleet(t)
	lbs := allLBs(d)
	latencyRec := func(setID, region string) []Record {
		r := Record{Name: "coderdemo.io", Type: "A", SetIdentifier: setID, Region: "us-east-2",
			Alias: &AliasTarget{DNSName: "old.elb.amazonaws.com", HostedZoneID: "ZNLB"}}
		r.Raw = r.toRoute53()
		if region == "" {
			return []Record{r}
		}
		txt := ownerRecord(r, "demo", region)
		txt.Raw = txt.toRoute53()
		return []Record{r, txt}
	}
	for _, tc := range []struct {
		name     string
		existing []Record
		complete bool
		prune    bool
		want     []string
	}{
		{"foreign latency record of the same region", latencyRec("blue", ""), true, true,
			[]string{"regions/us-east-2/aws/records.yaml:", "records[0]: latency record coderdemo.io A for AWS region us-east-2", `beside set identifier "blue" (not owned by coderfleet)`, `(hint: the record with set identifier "blue" is not coderfleet's`}},
		{"renamed region, no --prune", latencyRec("old", "old"), true, false,
			[]string{`set identifier "old" (owned by region old, whose folder regions/old no longer exists)`, "run coderfleet sync apply --prune"}},
		{"renamed region, --region", latencyRec("old", "old"), false, true,
			[]string{"region old is outside this run (--region)"}},
		{"renamed region, --prune", latencyRec("old", "old"), true, true, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dd := *d
			dd.Complete = tc.complete
			a := &Actual{Zones: map[string]*Zone{"coderdemo.io": {ID: "Z1", Name: "coderdemo.io", Records: tc.existing}}, LoadBalancers: lbs}
			pol := Policy{Prune: tc.prune}
			err := checkRoute53Rules(Compute(&dd, a, pol), a, &dd, pol)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("unexpected refusal: %v", err)
				}
				return
			}
			var in *InputError
			if !errors.As(err, &in) {
				t.Fatalf("err = %v, want an input error", err)
			}
			for _, w := range append(tc.want, "Route53 allows one latency record set per name, type and latency region") {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}

	// Hand-made plans: a CNAME beside another record, an alias with a TTL.
	z := &Zone{ID: "Z1", Name: "coderdemo.io", Records: []Record{{Name: "x.coderdemo.io", Type: "A", TTL: 60, Values: []string{"192.0.2.1"}}}}
	a := &Actual{Zones: map[string]*Zone{"coderdemo.io": z}}
	cname := Record{Name: "x.coderdemo.io", Type: "CNAME", TTL: 60, Values: []string{"y.coderdemo.io"}}
	alias := Record{Name: "z.coderdemo.io", Type: "A", Alias: &AliasTarget{DNSName: "nlb.elb.amazonaws.com", HostedZoneID: "Z"}}
	bad := alias.toRoute53()
	bad.TTL = aws.Int64(60)
	p := &Plan{Changes: []Change{
		{Action: Create, Resource: ResourceRecord, rec: &recOp{zoneID: "Z1", src: "regions/r/aws/records.yaml:7: records[1]",
			changes: []r53types.Change{{Action: r53types.ChangeActionCreate, ResourceRecordSet: cname.toRoute53()}}}},
		{Action: Create, Resource: ResourceRecord, rec: &recOp{zoneID: "Z1", src: "regions/r/aws/records.yaml:12: records[2]",
			changes: []r53types.Change{{Action: r53types.ChangeActionCreate, ResourceRecordSet: bad}}}},
	}}
	err := checkRoute53Rules(p, a, d, Policy{})
	for _, w := range []string{
		"regions/r/aws/records.yaml:7: records[1]: record x.coderdemo.io CNAME would share its name with x.coderdemo.io A", "RFC 1034",
		"x.coderdemo.io A is not coderfleet's",
		"regions/r/aws/records.yaml:12: records[2]: alias record z.coderdemo.io A has a TTL or values",
	} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q:\n%v", w, err)
		}
	}
}

// TestFakeEnforcesLatencyUniqueness is the fake's contract for the rule moto
// does not enforce: one latency record set per name, type and latency
// region, checked on the state a whole batch leaves.
func TestFakeEnforcesLatencyUniqueness(t *testing.T) {
	ctx := context.Background()
	f := r53fake.New()
	z := f.AddZone("coderdemo.io")
	lat := func(setID string) *r53types.ResourceRecordSet {
		return &r53types.ResourceRecordSet{Name: aws.String("coderdemo.io"), Type: "A", SetIdentifier: aws.String(setID), Region: "us-east-2",
			TTL: aws.Int64(60), ResourceRecords: []r53types.ResourceRecord{{Value: aws.String("192.0.2.1")}}}
	}
	change := func(cs ...r53types.Change) error {
		_, err := f.ChangeResourceRecordSets(ctx, &route53.ChangeResourceRecordSetsInput{HostedZoneId: &z, ChangeBatch: &r53types.ChangeBatch{Changes: cs}})
		return err
	}
	if err := change(r53types.Change{Action: "CREATE", ResourceRecordSet: lat("us-east-2")}); err != nil {
		t.Fatal(err)
	}
	err := change(r53types.Change{Action: "CREATE", ResourceRecordSet: lat("ohio")})
	if errorCode(err) != "InvalidChangeBatch" || !strings.Contains(err.Error(), "Duplicate Resource Record") {
		t.Errorf("a second latency record of one name, type and region: %v, want InvalidChangeBatch", err)
	}
	if len(f.Records(z)) != 3 {
		t.Errorf("the refused batch changed the zone: %d records", len(f.Records(z)))
	}
	// Replacing it in one batch is what a renamed region needs, and Route53 accepts it.
	if err := change(r53types.Change{Action: "DELETE", ResourceRecordSet: lat("us-east-2")}, r53types.Change{Action: "CREATE", ResourceRecordSet: lat("ohio")}); err != nil {
		t.Errorf("delete and create in one batch: %v", err)
	}
	// Another latency region for the same name and type is fine.
	other := lat("oregon")
	other.Region = "us-west-2"
	if err := change(r53types.Change{Action: "CREATE", ResourceRecordSet: other}); err != nil {
		t.Errorf("a latency record of another region: %v", err)
	}
}

// TestRegistryOnlyGrows checks the registry of AWS regions: it names the
// desired certificates' regions, keeps every region it named before and
// adds those where owned certificates were found; a foreign record at its
// name is a conflict, never overwritten.
func TestRegistryOnlyGrows(t *testing.T) {
	d := desiredFleet(t)
	reg := func(regions ...string) Record {
		r := Record{Name: registryName("demo", "coderdemo.io"), Type: "TXT", TTL: ownerTTL}
		for _, ar := range regions {
			r.Values = append(r.Values, registryValue("demo", ar))
		}
		return r
	}
	for _, tc := range []struct {
		name     string
		existing []Record
		certs    []Certificate
		want     string // "" for no change
		conflict bool
	}{
		{"absent", nil, nil, "create aws-regions: -> eu-west-2 us-east-2 us-west-2", false},
		{"current", []Record{reg("eu-west-2", "us-east-2", "us-west-2")}, nil, "", false},
		{"keeps a region no folder uses", []Record{reg("ap-south-1", "eu-west-2", "us-east-2", "us-west-2")}, nil, "", false},
		{"adds a region an owned certificate was found in", []Record{reg("eu-west-2", "us-east-2", "us-west-2")},
			[]Certificate{{AWSRegion: "ca-central-1", Region: "old", Name: "proxy"}}, "update aws-regions: eu-west-2 us-east-2 us-west-2 -> ca-central-1 eu-west-2 us-east-2 us-west-2", false},
		{"foreign record at its name", []Record{{Name: registryName("demo", "coderdemo.io"), Type: "TXT", TTL: 60, Values: []string{`"hello"`}}}, nil, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			z := &Zone{ID: "Z1", Name: "coderdemo.io", Records: tc.existing}
			p := &Plan{}
			c := planRegistry(p, d, z, &Actual{Certificates: tc.certs})
			got := ""
			if c != nil {
				got = fmt.Sprintf("%s %s: %s -> %s", c.Action, c.Fields[0].Name, c.Fields[0].Old, c.Fields[0].New)
				got = strings.Replace(got, ":  ->", ": ->", 1)
				if c.rec.changes[0].Action != r53types.ChangeActionUpsert || !c.rec.registry {
					t.Errorf("registry change = %+v", c.rec.changes[0])
				}
			}
			if got != tc.want {
				t.Errorf("change = %q, want %q", got, tc.want)
			}
			if (len(p.Conflicts) > 0) != tc.conflict {
				t.Errorf("conflicts = %+v", p.Conflicts)
			}
			if regs := usedAWSRegions(z, "demo"); !tc.conflict && len(tc.existing) > 0 && len(regs) < 3 {
				t.Errorf("usedAWSRegions = %q", regs)
			}
		})
	}
}
