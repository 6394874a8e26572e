package sync

import (
	"context"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	gosync "sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/coderfleet/coderfleet/awsstate"
	"github.com/coderfleet/coderfleet/internal/coderapi"
	"github.com/coderfleet/coderfleet/internal/fakecoderd"
)

// TestClassifyRegion checks the verdict of each state a region can be in,
// from its desired state, the actual state and the plan computed from them.
func TestClassifyRegion(t *testing.T) {
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	r := RegionState{Region: "us-east-2", HostedZone: "example.com",
		Certificates: []awsstate.Certificate{{Name: "coder", DomainName: "coder.example.com", AWSRegion: "us-east-2"}},
		Records: []awsstate.Record{{Name: "coder.example.com", Type: "A", SetIdentifier: "us-east-2", HealthCheck: "coder",
			Alias: awsstate.Alias{Service: "coder/coder", Cluster: "c1", AWSRegion: "us-east-2"}}},
		Roles: []awsstate.Role{{Name: "c1-ebs-csi", Cluster: awsstate.ClusterRef{Name: "c1", AWSRegion: "us-east-2"}}},
	}
	key := "coder.example.com A [us-east-2]"
	lbKey := LBRef{AWSRegion: "us-east-2", Cluster: "c1", Service: "coder/coder"}.String()
	actual := func(lbState string, notAfter time.Time) *Actual {
		return &Actual{
			Certificates:  []Certificate{{ARN: "arn:c1", AWSRegion: "us-east-2", Region: "us-east-2", Name: "coder", DomainName: "coder.example.com", Status: "ISSUED", NotAfter: notAfter}},
			LoadBalancers: map[string]LoadBalancer{lbKey: {DNSName: "nlb-1.elb", State: lbState}},
		}
	}
	healthy := map[string]*HealthCheckStatus{"coder": {Name: "coder", ID: "h1", Healthy: 3, Checkers: 3}}
	outputs := map[string]string{"coder": "arn:c1"}
	services := map[string]committedService{"coder/coder": {File: "regions/us-east-2/coder/service-coder-coder.yaml", CertARN: "arn:c1"}}
	empty := func() *Plan { return &Plan{} }
	tests := []struct {
		name    string
		a       *Actual
		p       *Plan
		hcs     map[string]*HealthCheckStatus
		verdict Verdict
		reason  string
	}{
		{"serving", actual("active", now.Add(90*24*time.Hour+time.Hour)), empty(), healthy, VerdictServing, ""},
		{"provisioning NLB", actual("provisioning", now.Add(90*24*time.Hour)), empty(), healthy, VerdictNotYetServing,
			"wait for the load balancer of coder/coder to become active"},
		{"failed NLB", actual("failed", now.Add(90*24*time.Hour)), empty(), healthy, VerdictDegraded, "load balancer of coder/coder failed"},
		{"expired certificate", actual("active", now.Add(-time.Hour)), empty(), healthy, VerdictDegraded, "certificate coder expired"},
		{"no healthy checker", actual("active", now.Add(90*24*time.Hour)), empty(),
			map[string]*HealthCheckStatus{"coder": {Name: "coder", ID: "h1", Healthy: 0, Checkers: 2, LastFailure: "Failure: timeout"}},
			VerdictDegraded, "health check coder: 0/2 checkers healthy: Failure: timeout"},
		{"record drift", actual("active", now.Add(90*24*time.Hour)),
			&Plan{Changes: []Change{{Action: Update, Resource: ResourceRecord, Region: "us-east-2", Address: "example.com: " + key,
				Fields: []Field{{Name: "alias", Old: "old.elb", New: "nlb-1.elb"}}}}},
			healthy, VerdictDegraded, "record " + key + " drifted"},
		{"changes pending", actual("active", now.Add(90*24*time.Hour)),
			&Plan{Changes: []Change{{Action: Create, Resource: ResourceRole, Region: "us-east-2", Address: "us-east-2/c1-ebs-csi"}}},
			healthy, VerdictNotYetServing, NextSyncApply},
		{"roles wait for the cluster", actual("active", now.Add(90*24*time.Hour)),
			&Plan{Waiting: []Waiting{{Region: "us-east-2", Role: "c1-ebs-csi"}}}, healthy, VerdictNotYetServing, NextClusters},
		{"certificate pending validation", func() *Actual {
			a := actual("active", time.Time{})
			a.Certificates[0].Status = "PENDING_VALIDATION"
			return a
		}(), empty(), healthy, VerdictNotYetServing, "wait for ACM to issue certificate coder (coderfleet sync apply waits for it)"},
		{"records wait for the NLB", &Actual{LoadBalancers: map[string]LoadBalancer{}},
			&Plan{Waiting: []Waiting{{Region: "us-east-2", Record: key}}}, healthy, VerdictNotYetServing, NextWaitNLBs},
		// Before the cluster exists both its roles and its NLBs wait: the
		// cluster comes first.
		{"roles and records wait for the cluster", &Actual{LoadBalancers: map[string]LoadBalancer{}},
			&Plan{Waiting: []Waiting{{Region: "us-east-2", Record: key}, {Region: "us-east-2", Role: "c1-ebs-csi"}}}, healthy, VerdictNotYetServing, NextClusters},
		{"cluster without IAM OIDC provider", func() *Actual {
			a := actual("active", now.Add(90*24*time.Hour))
			a.Clusters = map[string]*Cluster{"us-east-2/c1": {Name: "c1", AWSRegion: "us-east-2", Issuer: "oidc.eks/id/1", NoProvider: true}}
			return a
		}(), &Plan{Waiting: []Waiting{{Region: "us-east-2", Role: "c1-ebs-csi"}}}, healthy, VerdictNotYetServing,
			"create the cluster's IAM OIDC provider: eksctl utils associate-iam-oidc-provider --cluster c1 --region us-east-2 --approve"},
		{"role drift", actual("active", now.Add(90*24*time.Hour)),
			&Plan{Changes: []Change{{Action: Update, Resource: ResourceRole, Region: "us-east-2", Address: "us-east-2/c1-ebs-csi",
				Fields: []Field{{Name: "managed-policies", Old: "arn:aws:iam::aws:policy/AdministratorAccess, arn:ebs", New: "arn:ebs"}}}}},
			healthy, VerdictDegraded, ResourceRole + " c1-ebs-csi drifted"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := classifyRegion(r, tc.a, tc.p, tc.hcs, outputs, services, now)
			if st.Verdict != tc.verdict || st.Reason != tc.reason {
				t.Errorf("verdict %s (%s), want %s (%s)", st.Verdict, st.Reason, tc.verdict, tc.reason)
			}
		})
	}
	st := classifyRegion(r, actual("active", now.Add(90*24*time.Hour+time.Hour)), empty(), healthy, outputs, services, now)
	if c := st.Certificates[0]; c.DaysToExpiry == nil || *c.DaysToExpiry != 90 || !c.InOutputs {
		t.Errorf("certificate status %+v, want 90 days to expiry, in outputs.yaml", c)
	}
	if lb := st.LoadBalancers[0]; !lb.Aliased || lb.State != "active" || lb.DNSName != "nlb-1.elb" {
		t.Errorf("load balancer status %+v", lb)
	}
	if st := classifyRegion(r, actual("active", now.Add(time.Hour)), empty(), healthy, map[string]string{"coder": "arn:old"}, services, now); st.Certificates[0].InOutputs {
		t.Error("a certificate whose ARN outputs.yaml does not hold reads as in outputs.yaml")
	}
	drifted := &Plan{Changes: []Change{{Action: Update, Resource: ResourceRole, Region: "us-east-2", Address: "us-east-2/c1-ebs-csi",
		Fields: []Field{{Name: "managed-policies", Old: "admin, ebs", New: "ebs"}}}}}
	st = classifyRegion(r, actual("active", now.Add(90*24*time.Hour)), drifted, healthy, outputs, services, now)
	if ro := st.Roles[0]; ro.State != StateDrift || len(ro.Drift) != 1 || ro.Drift[0].Name != "managed-policies" || ro.Drift[0].Old != "admin, ebs" {
		t.Errorf("drifted role status %+v, want drift with its managed-policies field", ro)
	}
	// A role or record whose name a foreign object holds is in conflict, not
	// in-sync (the plan has no change for it, only the conflict).
	conflicts := &Plan{Conflicts: []Conflict{
		{Resource: ResourceRole, Record: "us-east-2/c1-ebs-csi", Reason: "foreign"},
		{Zone: "example.com", Record: key, Reason: "foreign"},
	}}
	st = classifyRegion(r, actual("active", now.Add(90*24*time.Hour)), conflicts, healthy, outputs, services, now)
	if st.Roles[0].State != StateConflict || st.Records[0].State != StateConflict || st.Verdict != VerdictDegraded {
		t.Errorf("with conflicts: role %s, record %s, verdict %s; want conflict, conflict, degraded", st.Roles[0].State, st.Records[0].State, st.Verdict)
	}

	// The committed Service names another certificate than the issued one
	// that outputs.yaml holds: with its NLB up, degraded (render + commit);
	// before any NLB, rendering is the next step.
	stale := map[string]committedService{"coder/coder": {CertARN: "arn:old"}}
	st = classifyRegion(r, actual("active", now.Add(90*24*time.Hour)), empty(), healthy, outputs, stale, now)
	if c := st.Certificates[0]; c.Service != "coder/coder" || c.ServiceARN != "arn:old" || c.InService == nil || *c.InService {
		t.Errorf("certificate with a stale Service annotation: %+v", c)
	}
	if want := "Service coder/coder is committed with another certificate, not certificate coder (" + NextRender + ")"; st.Verdict != VerdictDegraded || st.Reason != want {
		t.Errorf("stale annotation, NLB active: %s (%s), want degraded (%s)", st.Verdict, st.Reason, want)
	}
	st = classifyRegion(r, actual("active", now.Add(90*24*time.Hour)), empty(), healthy, outputs, map[string]committedService{"coder/coder": {}}, now)
	if want := "Service coder/coder is committed with no certificate, not certificate coder (" + NextRender + ")"; st.Reason != want {
		t.Errorf("Service without annotation: %s, want %s", st.Reason, want)
	}
	noNLB := actual("active", now.Add(90*24*time.Hour))
	noNLB.LoadBalancers = map[string]LoadBalancer{}
	st = classifyRegion(r, noNLB, &Plan{Waiting: []Waiting{{Region: "us-east-2", Record: key}}}, healthy, outputs, stale, now)
	if st.Verdict != VerdictNotYetServing || st.Reason != NextRenderNLBs {
		t.Errorf("stale annotation before the NLB: %s (%s), want not yet serving (%s)", st.Verdict, st.Reason, NextRenderNLBs)
	}
	// outputs.yaml without the issued ARN: sync apply comes first (it
	// writes outputs.yaml); the annotation is shown, not judged.
	st = classifyRegion(r, actual("active", now.Add(90*24*time.Hour)), &Plan{Outputs: []string{"overlays/us-east-2/outputs.yaml"}}, healthy, map[string]string{}, stale, now)
	if st.Verdict != VerdictNotYetServing || st.Reason != NextSyncApply {
		t.Errorf("outputs.yaml behind: %s (%s), want not yet serving (%s)", st.Verdict, st.Reason, NextSyncApply)
	}
	if c := st.Certificates[0]; c.InService == nil || *c.InService {
		t.Errorf("outputs.yaml behind: certificate %+v, want inService false", c)
	}
}

// TestReadCommittedServices reads the Services of a rendered region,
// skipping aws/, files other than service-*.yaml (render.FileName's name
// for a Service), other kinds and files that are not YAML.
func TestReadCommittedServices(t *testing.T) {
	repo := fstest.MapFS{
		"regions/r1/coder/service-coder-coder.yaml":  {Data: []byte("apiVersion: v1\nkind: Service\nmetadata:\n  name: coder\n  namespace: coder\n  annotations:\n    " + AnnotationSSLCert + ": arn:1\n")},
		"regions/r1/coder/service-coder-plain.yaml":  {Data: []byte("apiVersion: v1\nkind: Service\nmetadata:\n  name: plain\n  namespace: coder\n")},
		"regions/r1/coder/service-coder-notes.txt":   {Data: []byte("kind: Service\nmetadata:\n  name: notes\n")},
		"regions/r1/coder/deployment-coder.yaml":     {Data: []byte("kind: Service\nmetadata:\n  name: coder\n  namespace: coder\n")},
		"regions/r1/coder/service-coder-odd.yaml":    {Data: []byte("kind: Deployment\nmetadata:\n  name: odd\n  namespace: coder\n")},
		"regions/r1/aws/records.yaml":                {Data: []byte("kind: Service\nmetadata:\n  name: no\n")},
		"regions/r1/coder/service-coder-broken.yaml": {Data: []byte("kind: Service\n\t: [")},
		"regions/r2/x/service-x.yaml":                {Data: []byte("kind: Service\nmetadata:\n  name: x\n  namespace: x\n")},
	}
	got := readCommittedServices(repo, "r1")
	want := map[string]committedService{
		"coder/coder": {File: "regions/r1/coder/service-coder-coder.yaml", CertARN: "arn:1"},
		"coder/plain": {File: "regions/r1/coder/service-coder-plain.yaml"},
	}
	if !maps.Equal(got, want) {
		t.Errorf("readCommittedServices = %v, want %v", got, want)
	}
	if got := readCommittedServices(repo, "missing"); len(got) != 0 {
		t.Errorf("a region without a folder has Services %v", got)
	}
}

// TestReadCoderStatusRetries: status' Coder reads go through sync's retry
// policy: coderd answering 503 once is retried after the backoff, slept on
// the injected clock, and the status is read.
func TestReadCoderStatusRetries(t *testing.T) {
	fake := fakecoderd.New(fakecoderd.Options{OwnerToken: "owner", Premium: true, Version: "v2.24.1"})
	var mu gosync.Mutex
	answered503 := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		first := r.URL.Path == "/api/v2/workspaceproxies" && answered503 == 0
		if first {
			answered503++
		}
		mu.Unlock()
		if first {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"message":"coderd is restarting"}`))
			return
		}
		fake.Handler().ServeHTTP(w, r)
	}))
	defer srv.Close()
	c, err := coderapi.New(srv.URL, "owner", nil)
	if err != nil {
		t.Fatal(err)
	}
	clock := newFakeClock()
	var progress strings.Builder
	repo := fstest.MapFS{}
	f := &FleetStatus{Regions: []RegionStatus{{Region: "us-east-2", Verdict: VerdictServing}}}
	if err := ReadCoderStatus(context.Background(), c, Options{Repo: repo, Clock: clock, Progress: &progress}, f); err != nil {
		t.Fatalf("status with coderd answering 503 once: %v", err)
	}
	if answered503 != 1 || f.Coder == nil || !f.Coder.Read || f.Coder.Version != "v2.24.1" {
		t.Errorf("503 answered %d times, Coder read: %+v", answered503, f.Coder)
	}
	if n := len(clock.slept()); n != 1 {
		t.Errorf("slept %d times on the clock, want 1 (one retry)", n)
	}
	if !strings.Contains(progress.String(), "retrying listing workspace proxies") {
		t.Errorf("no retry line:\n%s", progress.String())
	}
	var lists int
	for _, r := range fake.Requests() {
		if r.Path == "/api/v2/workspaceproxies" {
			lists++
		}
	}
	if lists != 1 {
		t.Errorf("coderd answered %d proxy listings, want 1 (the retry; the 503 came before it)", lists)
	}
}
