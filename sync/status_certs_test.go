package sync

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"

	acmtypes "github.com/aws/aws-sdk-go-v2/service/acm/types"
	"github.com/coderfleet/coderfleet/awsstate"
)

// TestCertFromSummary: status takes a certificate from its ListCertificates
// summary only when that tells all a description would: issued, named as
// desired (TagCertificateNames) and each name validated by a fleet CNAME.
func TestCertFromSummary(t *testing.T) {
	d := &Desired{Fleet: "demo", Regions: []RegionState{{Region: "r1", Certificates: []awsstate.Certificate{
		{Name: "coder", DomainName: "coder.example.com", SubjectAlternativeNames: []string{"*.coder.example.com", "r1.coder.example.com"}},
	}}}}
	names := certificateNames("coder.example.com", []string{"r1.coder.example.com", "*.coder.example.com"})
	notAfter := time.Date(2027, 1, 2, 3, 4, 5, 0, time.UTC)
	issued := acmtypes.CertificateSummary{CertificateArn: aws.String("arn:1"), DomainName: aws.String("coder.example.com"),
		Status: acmtypes.CertificateStatusIssued, InUse: aws.Bool(true), NotAfter: &notAfter}
	owned := ownedCert{arn: "arn:1", region: "r1", name: "coder", names: names}
	v1 := ValidationRecord{Name: "_a.coder.example.com", Value: "_x.acm-validations.aws"}
	v2 := ValidationRecord{Name: "_b.r1.coder.example.com", Value: "_y.acm-validations.aws"}
	validated := map[string]ValidationRecord{"coder.example.com": v1, "r1.coder.example.com": v2}

	got := certFromSummary(issued, owned, d, validated)
	want := &Certificate{ARN: "arn:1", Region: "r1", Name: "coder", DomainName: "coder.example.com", Status: "ISSUED", InUse: true, NotAfter: notAfter,
		SANs: []string{"*.coder.example.com", "r1.coder.example.com"}, Validation: []ValidationRecord{v1, v2}}
	if got == nil || !slices.Equal(got.SANs, want.SANs) || !slices.Equal(got.Validation, want.Validation) ||
		got.ARN != want.ARN || got.DomainName != want.DomainName || got.Status != want.Status || !got.InUse || !got.NotAfter.Equal(notAfter) || got.Region != "r1" || got.Name != "coder" {
		t.Fatalf("certFromSummary = %+v, want %+v", got, want)
	}
	if !sameNames(got, d.Regions[0].Certificates[0]) {
		t.Errorf("the certificate from its summary does not have the desired names: %+v", got)
	}

	pending := issued
	pending.Status = acmtypes.CertificateStatusPendingValidation
	renamed := owned
	renamed.names = certificateNames("coder.example.com", []string{"*.coder.example.com"})
	untagged := owned
	untagged.names = ""
	other := issued
	other.DomainName = aws.String("other.example.com")
	unknown := owned
	unknown.name = "litellm"
	for name, c := range map[string]struct {
		sum       acmtypes.CertificateSummary
		o         ownedCert
		validated map[string]ValidationRecord
	}{
		"pending: its validation records are needed": {pending, owned, validated},
		"names changed since the request":            {issued, renamed, validated},
		"requested before the names tag":             {issued, untagged, validated},
		"another domain name":                        {other, owned, validated},
		"not desired":                                {issued, unknown, validated},
		"a name without a fleet validation CNAME":    {issued, owned, map[string]ValidationRecord{"coder.example.com": v1}},
	} {
		if got := certFromSummary(c.sum, c.o, d, c.validated); got != nil {
			t.Errorf("%s: certFromSummary = %+v, want nil (describe it)", name, got)
		}
	}
}

// TestStatusReadsCertificatesFromSummaries: after apply, the certificates
// status reads from ListCertificates summaries equal those sync describes,
// with no DescribeCertificate; a validation CNAME deleted by hand makes
// status describe that certificate and want the record back.
func TestStatusReadsCertificatesFromSummaries(t *testing.T) {
	ctx := context.Background()
	e := motoEnv(t, nil)
	r := newRepo(t, exampleFleet()...)
	opts := e.options(r, newFakeClock())
	opts.Clock = RealClock{} // moto issues the certificates after a second of wall-clock time
	if _, err := Apply(ctx, opts); err != nil {
		t.Fatal(err)
	}
	d, err := LoadDesired(opts.Repo, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	read := func(summaries bool) []Certificate {
		t.Helper()
		s, err := newSyncer(opts)
		if err != nil {
			t.Fatal(err)
		}
		s.certSummaries = summaries
		a, err := s.read(ctx, d)
		if err != nil {
			t.Fatal(err)
		}
		for i := range a.Certificates {
			slices.Sort(a.Certificates[i].SANs)
			slices.SortFunc(a.Certificates[i].Validation, func(x, y ValidationRecord) int { return strings.Compare(x.Name, y.Name) })
		}
		return a.Certificates
	}
	described := read(false)
	before := e.counter.Count("DescribeCertificate")
	fromSummaries := read(true)
	if n := e.counter.Count("DescribeCertificate") - before; n != 0 {
		t.Errorf("status' read described %d certificate(s), want 0", n)
	}
	if len(described) == 0 || !slices.EqualFunc(described, fromSummaries, sameCertificate) {
		t.Errorf("certificates from summaries:\n%+v\nwant, as described:\n%+v", fromSummaries, described)
	}

	// A validation CNAME deleted by hand: that certificate is described,
	// and status wants the record back (sync apply, not the wait for the
	// load balancers that this fleet without NLBs is in).
	region := ""
	reason := func() string {
		t.Helper()
		st, err := ReadStatus(ctx, opts)
		if err != nil {
			t.Fatal(err)
		}
		i := slices.IndexFunc(st.Regions, func(r RegionStatus) bool { return r.Region == region })
		if i < 0 {
			t.Fatalf("no status of %s", region)
		}
		return st.Regions[i].Reason
	}
	var gone r53types.ResourceRecordSet
	for _, rr := range e.zoneRecords(t) {
		for _, c := range described {
			if rr.Type == r53types.RRTypeCname && slices.ContainsFunc(c.Validation, func(v ValidationRecord) bool { return v.Name == normName(aws.ToString(rr.Name)) }) {
				gone, region = rr, c.Region
			}
		}
	}
	if gone.Name == nil {
		t.Fatal("no validation CNAME in the zone")
	}
	if got := reason(); got == NextSyncApply {
		t.Fatalf("status of %s after apply: %q", region, got)
	}
	if _, err := e.direct.ChangeResourceRecordSets(ctx, &route53.ChangeResourceRecordSetsInput{HostedZoneId: aws.String(e.zoneID),
		ChangeBatch: &r53types.ChangeBatch{Changes: []r53types.Change{{Action: r53types.ChangeActionDelete, ResourceRecordSet: &gone}}}}); err != nil {
		t.Fatal(err)
	}
	before = e.counter.Count("DescribeCertificate")
	if got := read(true); !slices.EqualFunc(got, described, sameCertificate) {
		t.Errorf("certificates after deleting %s:\n%+v\nwant:\n%+v", aws.ToString(gone.Name), got, described)
	}
	if e.counter.Count("DescribeCertificate") == before {
		t.Errorf("status did not describe the certificate whose validation CNAME %s is gone", aws.ToString(gone.Name))
	}
	if got := reason(); got != NextSyncApply {
		t.Errorf("status of %s after deleting the validation CNAME %s: %q, want %q", region, aws.ToString(gone.Name), got, NextSyncApply)
	}
}

// sameCertificate compares two certificates field by field.
func sameCertificate(x, y Certificate) bool {
	return x.ARN == y.ARN && x.AWSRegion == y.AWSRegion && x.Region == y.Region && x.Name == y.Name && x.DomainName == y.DomainName &&
		slices.Equal(x.SANs, y.SANs) && x.Status == y.Status && x.InUse == y.InUse && x.NotAfter.Equal(y.NotAfter) && slices.Equal(x.Validation, y.Validation)
}
