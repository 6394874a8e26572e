package sync

import (
	"context"
	"fmt"
	"strings"
	gosync "sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"
)

// pendingCertificates returns every desired certificate of d as just
// requested (PENDING_VALIDATION), each with the validation CNAMEs extra
// gives its region/name, for Compute.
func pendingCertificates(d *Desired, extra map[string][]ValidationRecord) []Certificate {
	var certs []Certificate
	for _, r := range d.Regions {
		for _, c := range r.Certificates {
			var sans []string
			for _, s := range c.SubjectAlternativeNames {
				if s != c.DomainName {
					sans = append(sans, s)
				}
			}
			certs = append(certs, Certificate{
				ARN: "arn:aws:acm:" + c.AWSRegion + ":123456789012:certificate/" + r.Region + "-" + c.Name, AWSRegion: c.AWSRegion,
				Region: r.Region, Name: c.Name, DomainName: c.DomainName, SANs: sans, Status: "PENDING_VALIDATION",
				Validation: extra[r.Region+"/"+c.Name],
			})
		}
	}
	return certs
}

// recordGroups returns the Route53 changes of p's records other than the
// registry's, one group per record, as applyRecords batches them.
func recordGroups(p *Plan) (groups [][]r53types.Change, validation []Change) {
	for _, c := range p.Changes {
		if c.Resource != ResourceRecord || c.rec.registry {
			continue
		}
		groups = append(groups, c.rec.changes)
		if c.rec.validation {
			validation = append(validation, c)
		}
	}
	return groups, validation
}

// TestPlanCreatesSharedValidationCNAMEOnce: two certificates of one plan
// that ACM gives the same validation CNAME (they share a name) want it once:
// one change, a CREATE of the CNAME and of its ownership TXT record.
func TestPlanCreatesSharedValidationCNAMEOnce(t *testing.T) {
	d := desiredFleet(t)
	shared := ValidationRecord{Name: "_0a1b2c.shared.coderdemo.io", Value: "_3d4e5f.acm-validations.aws"}
	a := &Actual{Zones: map[string]*Zone{"coderdemo.io": {ID: "Z1", Name: "coderdemo.io"}}, LoadBalancers: allLBs(d),
		Certificates: pendingCertificates(d, map[string][]ValidationRecord{"us-east-2/coder": {shared}, "us-east-2/litellm": {shared}})}
	p := Compute(d, a, Policy{})
	_, validation := recordGroups(p)
	if len(validation) != 1 {
		t.Fatalf("%d validation record changes, want 1 for the CNAME both certificates share: %+v", len(validation), validation)
	}
	c := validation[0]
	if c.Action != Create || !strings.HasSuffix(c.Address, ": "+shared.Name+" CNAME") || len(c.rec.changes) != 2 {
		t.Fatalf("change %s %s with %d Route53 changes, want create of %s CNAME and its TXT", c.Action, c.Address, len(c.rec.changes), shared.Name)
	}
	for _, rc := range c.rec.changes {
		if rc.Action != r53types.ChangeActionCreate {
			t.Errorf("%s %s %s, want CREATE (an UPSERT counts twice against the batch limits)", rc.Action, aws.ToString(rc.ResourceRecordSet.Name), rc.ResourceRecordSet.Type)
		}
	}
}

// TestBatchCountNearTheElementLimit plans a zone whose new records, with
// their ownership TXT records, come to about 1,000 ResourceRecord elements,
// most of them validation CNAMEs, and checks that apply's batches are the
// fewest the limits allow: the elements and characters of the records
// counted once each, as the zone holds them afterwards (what the
// benchmark's minBatches counts), divided by the limits and rounded up.
func TestBatchCountNearTheElementLimit(t *testing.T) {
	d := desiredFleet(t)
	// Records before the extra CNAMEs: the example fleet's alias records
	// (none has a value) and, per certificate, no validation CNAME yet.
	aliases := 0
	for _, r := range d.Regions {
		aliases += len(r.Records)
	}
	for _, total := range []int{998, 1000, 1002} {
		// Each record is one element and its ownership TXT one more.
		n := total/2 - aliases
		var vals []ValidationRecord
		for i := range n {
			vals = append(vals, ValidationRecord{Name: fmt.Sprintf("_v%04d.coder.coderdemo.io", i), Value: fmt.Sprintf("_%04d.acm-validations.aws", i)})
		}
		a := &Actual{Zones: map[string]*Zone{"coderdemo.io": {ID: "Z1", Name: "coderdemo.io"}}, LoadBalancers: allLBs(d),
			Certificates: pendingCertificates(d, map[string][]ValidationRecord{"us-east-2/coder": vals})}
		p := Compute(d, a, Policy{})
		groups, validation := recordGroups(p)
		if len(validation) != n || len(groups) != aliases+n {
			t.Fatalf("%d records (%d validation), want %d (%d)", len(groups), len(validation), aliases+n, n)
		}
		elements, chars := 0, 0
		for _, g := range groups {
			for _, c := range g {
				rr := c.ResourceRecordSet
				elements += max(1, len(rr.ResourceRecords))
				for _, v := range rr.ResourceRecords {
					chars += len(aws.ToString(v.Value))
				}
			}
		}
		if elements != total {
			t.Fatalf("%d elements, want %d", elements, total)
		}
		for _, lim := range []BatchLimits{
			DefaultBatchLimits,
			// Elements alone: the ownership TXT values make the
			// characters bind first at Route53's limits.
			{MaxElements: DefaultBatchLimits.MaxElements, MaxChars: chars},
		} {
			fewest := max((elements+lim.MaxElements-1)/lim.MaxElements, (chars+lim.MaxChars-1)/lim.MaxChars)
			if got := len(batches(groups, lim)); got != fewest {
				t.Errorf("%d elements, %d characters, limits %+v: %d batches, want the fewest, %d", elements, chars, lim, got, fewest)
			}
		}
	}
}

// racingRoute53 makes a validation CNAME just before apply's first record
// batch that creates one, as another run would between apply's read and
// its write: the CNAME alone (someone else's) or with the ownership TXT
// record the batch writes next to it (another run of the same fleet).
type racingRoute53 struct {
	Route53API
	withOwner bool

	mu    gosync.Mutex
	raced string
}

func (r *racingRoute53) ChangeResourceRecordSets(ctx context.Context, in *route53.ChangeResourceRecordSetsInput, optFns ...func(*route53.Options)) (*route53.ChangeResourceRecordSetsOutput, error) {
	r.mu.Lock()
	if r.raced == "" {
		for i, c := range in.ChangeBatch.Changes {
			if c.Action != r53types.ChangeActionCreate || c.ResourceRecordSet.Type != r53types.RRTypeCname || !strings.HasPrefix(aws.ToString(c.ResourceRecordSet.Name), "_") {
				continue
			}
			// The same change the batch holds: moto refuses a CREATE of
			// an existing record only when it is the same change.
			other := []r53types.Change{c}
			if r.withOwner {
				other = append(other, in.ChangeBatch.Changes[i+1])
			}
			if _, err := r.Route53API.ChangeResourceRecordSets(ctx, &route53.ChangeResourceRecordSetsInput{HostedZoneId: in.HostedZoneId,
				ChangeBatch: &r53types.ChangeBatch{Changes: other}}); err != nil {
				r.mu.Unlock()
				return nil, fmt.Errorf("the racing run's change: %w", err)
			}
			r.raced = strings.TrimSuffix(aws.ToString(c.ResourceRecordSet.Name), ".")
			break
		}
	}
	r.mu.Unlock()
	return r.Route53API.ChangeResourceRecordSets(ctx, in, optFns...)
}

// TestApplyReplansWhenAValidationCNAMEAppears: a validation CNAME made by
// another run between apply's read of the zone and its batch makes the
// batch's CREATE fail ("already exists"); apply reads the zone again, plans
// again and ends without error. Made by another run of the fleet (with its
// ownership TXT record), the record is then in place and owned; made by
// someone else (the CNAME alone, equal to the desired one), it is left
// alone as a foreign record equal to the desired one always is.
func TestApplyReplansWhenAValidationCNAMEAppears(t *testing.T) {
	for _, mk := range envs {
		for _, withOwner := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/owner=%t", mk.name, withOwner), func(t *testing.T) {
				e := mk.make(t, nil)
				createExampleNLBs(t, e.url)
				race := &racingRoute53{Route53API: e.clients.Route53, withOwner: withOwner}
				e.clients.Route53 = race
				r := newRepo(t, exampleFleet()...)
				opts := e.options(r, &realShortClock{*newFakeClock()})
				var progress strings.Builder
				opts.Progress = &progress
				res, err := Apply(context.Background(), opts)
				if err != nil {
					t.Fatalf("apply: %v\nprogress:\n%s", err, progress.String())
				}
				if race.raced == "" {
					t.Fatalf("no batch created a validation CNAME\nprogress:\n%s", progress.String())
				}
				if !strings.Contains(progress.String(), "re-reading the hosted zone: ") || !strings.Contains(progress.String(), "already exists") {
					t.Errorf("no re-plan after the CREATE met the record\nprogress:\n%s", progress.String())
				}
				if len(res.Final.Changes) > 0 || len(res.Final.Conflicts) > 0 {
					t.Errorf("after apply: changes %+v, conflicts %+v", res.Final.Changes, res.Final.Conflicts)
				}
				p, err := PlanChanges(context.Background(), opts)
				if err != nil || !p.Converged() {
					t.Fatalf("not converged: %v %+v", err, p)
				}
				var cname, owner *r53types.ResourceRecordSet
				recs := e.zoneRecords(t)
				for i, rr := range recs {
					switch strings.TrimSuffix(aws.ToString(rr.Name), ".") {
					case race.raced:
						cname = &recs[i]
					case ownerName(race.raced, "CNAME"):
						owner = &recs[i]
					}
				}
				if cname == nil {
					t.Fatalf("validation CNAME %s missing", race.raced)
				}
				switch {
				case withOwner && (owner == nil || len(owner.ResourceRecords) != 1 || !strings.Contains(aws.ToString(owner.ResourceRecords[0].Value), "coderfleet/fleet=demo,")):
					t.Errorf("validation CNAME %s is not owned by the fleet: ownership record %+v", race.raced, owner)
				case !withOwner && owner != nil:
					t.Errorf("validation CNAME %s made by someone else was taken over: ownership record %+v", race.raced, owner)
				}
			})
		}
	}
}
