package sync

import (
	"context"
	"encoding/json"
	"io/fs"
	"net/http"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/route53"

	"github.com/coderfleet/coderfleet/awsstate"
)

// TestRenderedExampleFleetAgainstMoto applies the repository's own committed
// regions/*/aws/ (the example fleet) to moto: NLBs exist with the
// controller's tags, the hosted zone holds foreign records; apply creates
// everything, the next plan is empty and the foreign records are unchanged.
func TestRenderedExampleFleetAgainstMoto(t *testing.T) {
	repoFS := os.DirFS("..")
	d, err := LoadDesired(repoFS, nil, nil)
	if err != nil {
		t.Fatalf("loading the committed regions/*/aws: %v", err)
	}
	if len(d.Regions) != 3 {
		t.Fatalf("want the 3 regions of the example fleet, got %d", len(d.Regions))
	}
	zone := d.Regions[0].HostedZone
	srv := moto(t)
	setup := route53.NewFromConfig(awsConfig(srv.URL, http.DefaultTransport))
	out, err := setup.CreateHostedZone(context.Background(), &route53.CreateHostedZoneInput{Name: aws.String(zone), CallerReference: aws.String("zone")})
	if err != nil {
		t.Fatal(err)
	}
	zoneID := strings.TrimPrefix(*out.HostedZone.Id, "/hostedzone/")
	createForeign(t, setup, zoneID, foreignRecordsIn(zone))
	seen := map[string]bool{}
	for _, r := range d.Regions {
		for _, rec := range r.Records {
			ref := LBRef{AWSRegion: rec.Alias.AWSRegion, Cluster: rec.Alias.Cluster, Service: rec.Alias.Service}
			if !seen[ref.String()] {
				seen[ref.String()] = true
				createNLB(t, srv.URL, ref.AWSRegion, ref.Cluster, ref.Service)
			}
		}
	}
	// The clusters exist (with their IAM OIDC providers), as they do when
	// the roles' ServiceAccounts are applied.
	clusters := map[string]bool{}
	for _, r := range d.Regions {
		for _, role := range r.Roles {
			if c := role.Cluster; !clusters[c.AWSRegion+"/"+c.Name] {
				clusters[c.AWSRegion+"/"+c.Name] = true
				createEKSCluster(t, srv.URL, c.AWSRegion, c.Name, true)
			}
		}
	}
	if len(clusters) != len(d.Regions) {
		t.Fatalf("want the roles of the example fleet in each region's cluster, got clusters %v", clusters)
	}
	snapshot := func() string {
		want := map[string]bool{}
		for _, rr := range foreignRecordsIn(zone) {
			want[fromRoute53(rr).Key()] = true
		}
		lo, err := setup.ListResourceRecordSets(context.Background(), &route53.ListResourceRecordSetsInput{HostedZoneId: &zoneID})
		if err != nil {
			t.Fatal(err)
		}
		var parts []string
		for _, rr := range lo.ResourceRecordSets {
			if want[fromRoute53(rr).Key()] {
				b, _ := json.Marshal(rr)
				parts = append(parts, string(b))
			}
		}
		sort.Strings(parts)
		return strings.Join(parts, "\n")
	}
	before := snapshot()

	written := map[string][]byte{}
	cnt := newCounter(http.DefaultTransport)
	opts := Options{Repo: repoFS, Clients: NewClients(awsConfig(srv.URL, cnt)), Clock: &realShortClock{*newFakeClock()},
		WriteFile: func(p string, b []byte) error { written[p] = b; return nil }, PollInterval: 200e6, CertificateTimeout: 60e9}
	res, err := Apply(context.Background(), opts)
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	if !res.Final.Converged() {
		t.Errorf("not converged after apply: %+v", res.Final)
	}
	opts.Repo = overlayFS{repoFS, written}
	p, err := PlanChanges(context.Background(), opts)
	if err != nil || !p.Converged() {
		t.Errorf("plan after apply: %v %+v", err, p)
	}
	if snapshot() != before {
		t.Error("foreign records changed")
	}
	for _, r := range d.Regions {
		o, err := awsstate.ParseOutputs("outputs.yaml", written["overlays/"+r.Region+"/outputs.yaml"])
		if err != nil {
			t.Fatalf("outputs of %s: %v", r.Region, err)
		}
		if len(o.Certificates) != len(r.Certificates) {
			t.Errorf("%s outputs hold %d certificates, want %d", r.Region, len(o.Certificates), len(r.Certificates))
		}
	}
	mut := cnt.Mutating()
	opts.Repo = overlayFS{repoFS, written}
	if _, err := Apply(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	if n := cnt.Mutating() - mut; n != 0 {
		t.Errorf("second apply made %d mutating calls", n)
	}
}

// overlayFS serves files written by the test over the repository.
type overlayFS struct {
	base  fs.FS
	files map[string][]byte
}

func (o overlayFS) Open(name string) (fs.File, error) { return o.base.Open(name) }

func (o overlayFS) ReadFile(name string) ([]byte, error) {
	if b, ok := o.files[name]; ok {
		return b, nil
	}
	return fs.ReadFile(o.base, name)
}
