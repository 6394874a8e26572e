package sync

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/smithy-go"

	"github.com/coderfleet/coderfleet/internal/awscalls"
)

// credentialRegion finds the AWS region in a signed request's credential scope.
var credentialRegion = regexp.MustCompile(`Credential=[^/]+/[0-9]+/([a-z0-9-]+)/`)

// inFlight is an http.RoundTripper in front of moto that keeps, per
// operation and AWS region ("RequestCertificate us-east-2"), the most
// requests in flight at once. The requests of a key in gates wait until
// that many of them are in flight together, so a test can tell calls made
// one after another from calls made at once; a gate that stays shut for a
// minute lets its requests through and is reported (the code under test
// never made that many calls at once). The requests of a key in fail are
// answered with a non-retryable error without reaching moto.
type inFlight struct {
	next  http.RoundTripper
	gates map[string]int
	fail  map[string]bool

	mu     gosync.Mutex
	now    map[string]int
	most   map[string]int
	open   map[string]chan struct{}
	closed map[string]bool
	shut   []string
}

func newInFlight(gates map[string]int, fail map[string]bool) *inFlight {
	return &inFlight{gates: gates, fail: fail, now: map[string]int{}, most: map[string]int{},
		open: map[string]chan struct{}{}, closed: map[string]bool{}}
}

// key names a request as its operation and AWS region; the health check
// calls of one health check (create, then tag) share the key "health
// check", the calls that write IAM roles the key "iam role".
func (f *inFlight) key(req *http.Request) string {
	op := awscalls.Operation(req)
	switch op {
	case "CreateHealthCheck", "ChangeTagsForResource":
		return "health check"
	case "CreateRole", "PutRolePolicy", "AttachRolePolicy", "TagRole", "UntagRole", "UpdateRole",
		"UpdateAssumeRolePolicy", "DeleteRolePolicy", "DetachRolePolicy":
		return "iam role"
	}
	region := ""
	if m := credentialRegion.FindStringSubmatch(req.Header.Get("Authorization")); m != nil {
		region = m[1]
	}
	return op + " " + region
}

func (f *inFlight) RoundTrip(req *http.Request) (*http.Response, error) {
	k := f.key(req)
	if f.fail[k] {
		if req.Body != nil {
			_, _ = io.Copy(io.Discard, req.Body)
			req.Body.Close()
		}
		return response(req, 400, true, "InvalidParameterException", "injected: the domain name is refused"), nil
	}
	f.mu.Lock()
	f.now[k]++
	f.most[k] = max(f.most[k], f.now[k])
	gate := f.open[k]
	if gate == nil {
		gate = make(chan struct{})
		f.open[k] = gate
	}
	if need, ok := f.gates[k]; ok && f.now[k] >= need && !f.closed[k] {
		f.closed[k] = true
		close(gate)
	}
	f.mu.Unlock()
	if _, ok := f.gates[k]; ok {
		select {
		case <-gate:
		case <-time.After(time.Minute): // a deadlock guard, not a timing assert
			f.mu.Lock()
			if !f.closed[k] {
				f.closed[k] = true
				f.shut = append(f.shut, k)
				close(gate)
			}
			f.mu.Unlock()
		}
	}
	defer func() {
		f.mu.Lock()
		f.now[k]--
		f.mu.Unlock()
	}()
	return f.next.RoundTrip(req)
}

// doneLines returns the "<action> <resource> <address>: done" lines of the
// given resources in the order printed.
func doneLines(out string, resources ...string) []string {
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		for _, r := range resources {
			if strings.HasSuffix(l, ": done") && strings.Contains(l, " "+r+" ") {
				lines = append(lines, l)
			}
		}
	}
	return lines
}

// TestApplyCreatesCertificatesAndHealthChecksAtOnce checks that apply
// requests the certificates of an AWS region and creates the health checks
// at once, within their bounds in flight (RequestCertificate per AWS region,
// health checks in the account), and prints their "done" lines in plan
// order whatever order they finished in.
func TestApplyCreatesCertificatesAndHealthChecksAtOnce(t *testing.T) {
	// us-east-2 has two certificates; the fleet has three health checks.
	f := newInFlight(map[string]int{"RequestCertificate us-east-2": 2, "health check": healthCheckInFlight}, nil)
	e := motoEnv(t, func(next http.RoundTripper) http.RoundTripper { f.next = next; return f })
	r := newRepo(t, exampleFleet()...)
	opts := e.options(r, &realShortClock{*newFakeClock()})
	var progress strings.Builder
	opts.Progress = &progress
	if _, err := Apply(context.Background(), opts); err != nil {
		t.Fatalf("apply: %v\nprogress:\n%s", err, progress.String())
	}
	if len(f.shut) > 0 {
		t.Errorf("these calls were never in flight together as the gate asked: %v (most at once: %v)", f.shut, f.most)
	}
	for k, n := range f.most {
		switch {
		case strings.HasPrefix(k, "RequestCertificate ") && n > requestCertificateInFlight:
			t.Errorf("%d %s calls at once, want at most %d", n, k, requestCertificateInFlight)
		case k == "health check" && n > healthCheckInFlight:
			t.Errorf("%d health check calls at once, want at most %d", n, healthCheckInFlight)
		}
	}
	want := []string{
		"create certificate eu-west-2/proxy: done",
		"create certificate us-east-2/coder: done",
		"create certificate us-east-2/litellm: done",
		"create certificate us-west-2/proxy: done",
		"create health-check eu-west-2/proxy: done",
		"create health-check us-east-2/coder: done",
		"create health-check us-west-2/proxy: done",
	}
	if got := doneLines(progress.String(), ResourceCertificate, ResourceHealthCheck); !slices.Equal(got, want) {
		t.Errorf("done lines\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// TestApplyReportsEveryFailedCreation checks what apply does when some
// certificate requests fail: the other certificates and the health checks
// are still made (all run; what is made does not depend on which call
// failed first), the error is the first failure in plan order naming the
// others, and no record is changed.
func TestApplyReportsEveryFailedCreation(t *testing.T) {
	f := newInFlight(nil, map[string]bool{"RequestCertificate us-west-2": true, "RequestCertificate eu-west-2": true})
	e := motoEnv(t, func(next http.RoundTripper) http.RoundTripper { f.next = next; return f })
	r := newRepo(t, exampleFleet()...)
	opts := e.options(r, &realShortClock{*newFakeClock()})
	var progress strings.Builder
	opts.Progress = &progress
	res, err := Apply(context.Background(), opts)
	if err == nil {
		t.Fatalf("apply succeeded with failing certificate requests\nprogress:\n%s", progress.String())
	}
	if !strings.HasPrefix(err.Error(), "requesting certificate eu-west-2/proxy: ") ||
		!strings.HasSuffix(err.Error(), " (1 more failed: certificate us-west-2/proxy)") ||
		!strings.Contains(err.Error(), "InvalidParameterException") {
		t.Errorf("error %q, want eu-west-2's InvalidParameterException, then (1 more failed: certificate us-west-2/proxy)", err)
	}
	var made []string
	for _, c := range res.Applied {
		made = append(made, c.Resource+" "+c.Address)
	}
	want := []string{
		"certificate us-east-2/coder",
		"certificate us-east-2/litellm",
		"health-check eu-west-2/proxy",
		"health-check us-east-2/coder",
		"health-check us-west-2/proxy",
	}
	// The fleet's registry record comes first; no other record is made.
	if len(made) == 0 || !strings.HasPrefix(made[0], ResourceRecord+" ") || !strings.Contains(made[0], "_coderfleet.") || !slices.Equal(made[1:], want) {
		t.Errorf("applied\n  %s\nwant the registry record, then\n  %s", strings.Join(made, "\n  "), strings.Join(want, "\n  "))
	}
}

// TestApplyCreatesIAMRolesAtOnce checks that apply creates the IAM roles
// at once, never more than roleInFlight writing at a time, and prints their
// "done" lines in plan order whatever order they finished in.
func TestApplyCreatesIAMRolesAtOnce(t *testing.T) {
	// The example fleet has four roles: a key-sync role per region and
	// the primary's LiteLLM role.
	f := newInFlight(map[string]int{"iam role": roleInFlight}, nil)
	s := newIAMEnv(t, func(next http.RoundTripper) http.RoundTripper { f.next = next; return f }, true, true)
	opts := s.options(iamRepo(t), &realShortClock{*newFakeClock()})
	var progress strings.Builder
	opts.Progress = &progress
	res, err := Apply(context.Background(), opts)
	if err != nil {
		t.Fatalf("apply: %v\nprogress:\n%s", err, progress.String())
	}
	if len(f.shut) > 0 {
		t.Errorf("these calls were never in flight together as the gate asked: %v (most at once: %v)", f.shut, f.most)
	}
	if n := f.most["iam role"]; n > roleInFlight {
		t.Errorf("%d IAM role writes at once, want at most %d", n, roleInFlight)
	}
	var want []string
	for _, c := range res.Plan.Changes {
		if c.Resource == ResourceRole {
			want = append(want, "create "+ResourceRole+" "+c.Address+": done")
		}
	}
	if len(want) != 4 {
		t.Fatalf("the plan creates %d roles, want 4", len(want))
	}
	if got := doneLines(progress.String(), ResourceRole); !slices.Equal(got, want) {
		t.Errorf("done lines\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	if !res.Final.Converged() {
		t.Errorf("not converged after apply: %+v", res.Final)
	}
}

// failingRoles refuses CreateRole for the roles it names.
type failingRoles struct {
	IAMAPI
	fail map[string]bool
}

func (f *failingRoles) CreateRole(ctx context.Context, in *iam.CreateRoleInput, optFns ...func(*iam.Options)) (*iam.CreateRoleOutput, error) {
	if f.fail[aws.ToString(in.RoleName)] {
		return nil, &smithy.GenericAPIError{Code: "MalformedPolicyDocument", Message: "injected: the role is refused"}
	}
	return f.IAMAPI.CreateRole(ctx, in, optFns...)
}

// TestApplyReportsEveryFailedRole checks what apply does when some roles
// cannot be created: the other roles are still made, the error is the
// first failure in plan order naming the others, and neither secrets nor
// records are changed after it.
func TestApplyReportsEveryFailedRole(t *testing.T) {
	s := newIAMEnv(t, nil, true, true)
	s.clients.IAM = &failingRoles{IAMAPI: s.clients.IAM, fail: map[string]bool{"coder-us-west-2-key-sync": true, "coder-eu-west-2-key-sync": true}}
	opts := s.options(iamRepo(t), &realShortClock{*newFakeClock()})
	var progress strings.Builder
	opts.Progress = &progress
	res, err := Apply(context.Background(), opts)
	if err == nil {
		t.Fatalf("apply succeeded with failing roles\nprogress:\n%s", progress.String())
	}
	if !strings.HasPrefix(err.Error(), "creating IAM role coder-eu-west-2-key-sync: ") ||
		!strings.HasSuffix(err.Error(), " (1 more failed: iam-role us-west-2/coder-us-west-2-key-sync)") ||
		!strings.Contains(err.Error(), "MalformedPolicyDocument") {
		t.Errorf("error %q, want eu-west-2's MalformedPolicyDocument, then (1 more failed: iam-role us-west-2/coder-us-west-2-key-sync)", err)
	}
	var roles []string
	for _, c := range res.Applied {
		switch c.Resource {
		case ResourceRole:
			roles = append(roles, c.Address)
		case ResourceSecret:
			t.Errorf("secret %s made after a role failed", c.Address)
		case ResourceRecord:
			if !strings.Contains(c.Address, "_coderfleet.") {
				t.Errorf("record %s made after a role failed", c.Address)
			}
		}
	}
	if want := []string{"us-east-2/coder-us-east-2-key-sync", "us-east-2/coder-us-east-2-litellm"}; !slices.Equal(roles, want) {
		t.Errorf("roles made %v, want %v", roles, want)
	}
}
