package sync

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	gosync "sync"
	"testing"

	"github.com/coderfleet/coderfleet/internal/awscalls"
)

// fault describes an injected failure for requests of one operation.
type fault struct {
	op    string // operation name as counted by counter
	kind  string // throttle, prior, 500, drop
	times int    // how many requests fail
}

// faulty is an http.RoundTripper in front of moto that fails chosen requests
// without forwarding them, the way AWS or the network would.
type faulty struct {
	next     http.RoundTripper
	mu       gosync.Mutex
	faults   []*fault
	injected map[string]int
	// cancelAfter, when > 0, cancels cancel once that many mutating
	// requests went through: the apply is killed half-way.
	cancelAfter int
	mutations   int
	cancel      context.CancelFunc
}

func (f *faulty) RoundTrip(req *http.Request) (*http.Response, error) {
	op := awscalls.Operation(req)
	f.mu.Lock()
	var hit *fault
	for _, ft := range f.faults {
		if ft.op == op && ft.times > 0 {
			ft.times--
			hit = ft
			f.injected[ft.kind]++
			break
		}
	}
	if hit == nil && awscalls.Mutating(op) && f.cancelAfter > 0 {
		f.mutations++
		if f.mutations == f.cancelAfter {
			f.cancel()
		}
	}
	f.mu.Unlock()
	if hit == nil && f.cancelAfter > 0 {
		// A killed run's requests that were sent reach AWS whole and take
		// effect; the kill loses their responses. Waiting for moto's
		// answer also keeps the next run from racing a request moto is
		// still serving: moto's ACM idempotency tokens are not atomic
		// across concurrent requests (two requests with one token can make
		// two certificates), ACM's are.
		orig := req.Context()
		resp, err := f.next.RoundTrip(req.WithContext(context.WithoutCancel(orig)))
		if err == nil && orig.Err() != nil {
			resp.Body.Close()
			return nil, orig.Err()
		}
		return resp, err
	}
	if hit == nil {
		return f.next.RoundTrip(req)
	}
	if req.Body != nil {
		_, _ = io.Copy(io.Discard, req.Body)
		req.Body.Close()
	}
	json := req.Header.Get("X-Amz-Target") != ""
	switch hit.kind {
	case "drop":
		return nil, errors.New("read tcp 127.0.0.1: connection reset by peer")
	case "500":
		return response(req, 500, json, "InternalFailure", "injected internal error"), nil
	case "nosuchentity":
		return response(req, 404, json, "NoSuchEntity", "The role cannot be found (injected: IAM has not propagated it yet)."), nil
	case "prior":
		return response(req, 400, json, "PriorRequestNotComplete", "The request was rejected because Route 53 was still processing a prior request."), nil
	default:
		code := "Throttling"
		if json {
			code = "ThrottlingException"
		}
		return response(req, 400, json, code, "Rate exceeded"), nil
	}
}

func response(req *http.Request, status int, json bool, code, msg string) *http.Response {
	body := `<?xml version="1.0"?><ErrorResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><Error><Type>Sender</Type><Code>` + code + `</Code><Message>` + msg + `</Message></Error><RequestId>injected</RequestId></ErrorResponse>`
	ct := "text/xml"
	if json {
		body = `{"__type":"` + code + `","message":"` + msg + `"}`
		ct = "application/x-amz-json-1.1"
	}
	h := http.Header{"Content-Type": {ct}, "X-Amzn-Requestid": {"injected"}}
	if json {
		h.Set("X-Amzn-Errortype", code)
	}
	return &http.Response{StatusCode: status, Status: http.StatusText(status), Header: h, Body: io.NopCloser(strings.NewReader(body)),
		ContentLength: int64(len(body)), Request: req, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1}
}

// TestApplyRetriesThrottlingPriorRequestServerErrorsAndDroppedConnections
// injects every kind of transient failure into the calls of an apply against
// moto; the apply must succeed with retries, sleeping only on the fake clock.
func TestApplyRetriesThrottlingPriorRequestServerErrorsAndDroppedConnections(t *testing.T) {
	f := &faulty{injected: map[string]int{}, faults: []*fault{
		{op: "ChangeResourceRecordSets", kind: "throttle", times: 2},
		{op: "ChangeResourceRecordSets", kind: "prior", times: 2},
		{op: "ChangeResourceRecordSets", kind: "drop", times: 1},
		{op: "ChangeResourceRecordSets", kind: "500", times: 1},
		{op: "ListResourceRecordSets", kind: "500", times: 2},
		{op: "CreateHealthCheck", kind: "drop", times: 1},
		{op: "CreateHealthCheck", kind: "throttle", times: 1},
		{op: "RequestCertificate", kind: "throttle", times: 2},
		{op: "RequestCertificate", kind: "drop", times: 1},
		{op: "DescribeCertificate", kind: "500", times: 1},
		{op: "GetResources", kind: "throttle", times: 1},
		{op: "ListTagsForResources", kind: "500", times: 1},
		{op: "DescribeLoadBalancers", kind: "drop", times: 1},
	}}
	e := motoEnv(t, func(next http.RoundTripper) http.RoundTripper { f.next = next; return f })
	createExampleNLBs(t, e.url)
	before := e.foreignSnapshot(t)
	r := newRepo(t, exampleFleet()...)
	clock := &realShortClock{*newFakeClock()}
	opts := e.options(r, clock)
	backoff := &recordingBackoff{next: DefaultRetryPolicy.backoff()}
	opts.Retry = DefaultRetryPolicy
	opts.Retry.Backoff = backoff
	res, err := Apply(context.Background(), opts)
	if err != nil {
		t.Fatalf("apply with injected faults: %v (injected %v)", err, f.injected)
	}
	for _, k := range []string{"throttle", "prior", "drop", "500"} {
		if f.injected[k] == 0 {
			t.Errorf("no %s fault was injected", k)
		}
	}
	for _, ft := range f.faults {
		if ft.times != 0 {
			t.Errorf("fault %s on %s was not reached", ft.kind, ft.op)
		}
	}
	if res.Retries < 16 {
		t.Errorf("%d retries, want at least 16", res.Retries)
	}
	// Every retry waited what the SDK's jittered backoff computed, within
	// its bounds, on the injected clock.
	checkJitteredWaits(t, backoff.waits(), clock.slept(), res.Retries, DefaultRetryPolicy.MaxDelay)
	p, err := PlanChanges(context.Background(), opts)
	if err != nil || !p.Converged() {
		t.Errorf("plan after faulty apply: %v %+v", err, p)
	}
	if after := e.foreignSnapshot(t); after != before {
		t.Error("foreign records changed")
	}
}

// TestApplyGivesUpAfterMaxAttempts checks the retry bound and the error.
func TestApplyGivesUpAfterMaxAttempts(t *testing.T) {
	f := &faulty{injected: map[string]int{}, faults: []*fault{{op: "ListHealthChecks", kind: "throttle", times: 100}}}
	e := motoEnv(t, func(next http.RoundTripper) http.RoundTripper { f.next = next; return f })
	r := newRepo(t, exampleFleet()...)
	opts := e.options(r, newFakeClock())
	opts.Retry = RetryPolicy{MaxAttempts: 4, MaxDelay: 2e9}
	_, err := PlanChanges(context.Background(), opts)
	if err == nil || !strings.Contains(err.Error(), "after 4 attempts") || !strings.Contains(err.Error(), "Throttling") {
		t.Fatalf("err = %v", err)
	}
	if f.injected["throttle"] != 4 {
		t.Errorf("%d attempts, want 4", f.injected["throttle"])
	}
}

// TestApplyKilledHalfwayConvergesOnNextRun cancels the apply after a few
// mutating calls, at several points, and checks the next apply finishes the
// job without duplicates.
func TestApplyKilledHalfwayConvergesOnNextRun(t *testing.T) {
	for _, n := range []int{1, 3, 6, 9} {
		t.Run("after"+string(rune('0'+n))+"mutations", func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			f := &faulty{injected: map[string]int{}, cancelAfter: n, cancel: cancel}
			e := motoEnv(t, func(next http.RoundTripper) http.RoundTripper { f.next = next; return f })
			createExampleNLBs(t, e.url)
			r := newRepo(t, exampleFleet()...)
			opts := e.options(r, &realShortClock{*newFakeClock()})
			if _, err := Apply(ctx, opts); err == nil {
				t.Fatal("apply was not interrupted")
			}
			if _, err := Apply(context.Background(), opts); err != nil {
				t.Fatalf("second apply: %v", err)
			}
			p, err := PlanChanges(context.Background(), opts)
			if err != nil || !p.Converged() {
				t.Fatalf("not converged: %v %+v", err, p)
			}
			// No duplicate health checks: exactly one per region.
			a, err := mustSyncer(t, opts).read(context.Background(), mustDesired(t, r))
			if err != nil {
				t.Fatal(err)
			}
			if len(a.HealthChecks) != 3 {
				t.Errorf("%d health checks, want 3: %+v", len(a.HealthChecks), a.HealthChecks)
			}
			if len(a.Certificates) != 4 {
				t.Errorf("%d certificates, want 4", len(a.Certificates))
			}
		})
	}
}

// TestLostChangeResponseReplans uses the fake: the first batch of records
// (after the registry's) takes effect but its response is lost. The retry
// meets "already exists" (real Route53 behaviour), so sync re-reads the zone
// and converges.
func TestLostChangeResponseReplans(t *testing.T) {
	e := fakeEnv(t, nil)
	createExampleNLBs(t, e.url)
	batches := 0
	e.fake.After = func(op string) error {
		if op == "ChangeResourceRecordSets" {
			if batches++; batches == 2 {
				return errors.New("read tcp 127.0.0.1: connection reset by peer")
			}
		}
		return nil
	}
	r := newRepo(t, exampleFleet()...)
	opts := e.options(r, &realShortClock{*newFakeClock()})
	var progress strings.Builder
	opts.Progress = &progress
	if _, err := Apply(context.Background(), opts); err != nil {
		t.Fatalf("apply: %v\n%s", err, progress.String())
	}
	if !strings.Contains(progress.String(), "re-reading the hosted zone") {
		t.Errorf("no re-plan happened:\n%s", progress.String())
	}
	p, err := PlanChanges(context.Background(), opts)
	if err != nil || !p.Converged() {
		t.Errorf("not converged: %v %+v", err, p)
	}
}

func mustSyncer(t *testing.T, o Options) *syncer {
	s, err := newSyncer(o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustDesired(t *testing.T, r *repo) *Desired {
	d, err := LoadDesired(r.fs, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return d
}
