// Package awscalls names the AWS API calls an http.RoundTripper passes on and
// counts them by operation, so tests can assert which calls reached AWS (or
// moto_server) and that a converged run made none that changes anything.
package awscalls

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"
)

// restOps names the Route53 REST calls coderfleet makes by method and path
// (Route53's API reference: each action's request syntax).
var restOps = []struct {
	method string
	re     *regexp.Regexp
	op     string
}{
	// The tag paths first: /tags/healthcheck[/<id>] also ends like the
	// health check paths below.
	{"POST", regexp.MustCompile(`/tags/healthcheck/[^/]+$`), "ChangeTagsForResource"},
	{"GET", regexp.MustCompile(`/tags/healthcheck/[^/]+$`), "ListTagsForResource"},
	{"POST", regexp.MustCompile(`/tags/healthcheck/?$`), "ListTagsForResources"},
	{"POST", regexp.MustCompile(`/hostedzone/[^/]+/rrset/?$`), "ChangeResourceRecordSets"},
	{"GET", regexp.MustCompile(`/hostedzone/[^/]+/rrset/?$`), "ListResourceRecordSets"},
	{"GET", regexp.MustCompile(`/hostedzonesbyname`), "ListHostedZonesByName"},
	{"GET", regexp.MustCompile(`/change/`), "GetChange"},
	{"POST", regexp.MustCompile(`/healthcheck/?$`), "CreateHealthCheck"},
	{"GET", regexp.MustCompile(`/healthcheck/?$`), "ListHealthChecks"},
	{"POST", regexp.MustCompile(`/healthcheck/[^/]+$`), "UpdateHealthCheck"},
	{"DELETE", regexp.MustCompile(`/healthcheck/[^/]+$`), "DeleteHealthCheck"},
	{"POST", regexp.MustCompile(`/hostedzone/?$`), "CreateHostedZone"},
}

var actionRE = regexp.MustCompile(`Action=([A-Za-z]+)`)

// Operation names the AWS call of req: the X-Amz-Target operation for JSON
// APIs (ACM, Secrets Manager), the Action parameter for query APIs (IAM,
// ELBv2; the body is read and restored), and method and path matched to the
// action for Route53's REST API. Anything else is "<METHOD> <path>".
func Operation(req *http.Request) string {
	if t := req.Header.Get("X-Amz-Target"); t != "" {
		return t[strings.LastIndex(t, ".")+1:]
	}
	if req.Method == http.MethodPost && strings.Contains(req.Header.Get("Content-Type"), "x-www-form-urlencoded") && req.Body != nil {
		b, _ := io.ReadAll(req.Body)
		req.Body.Close()
		req.Body = io.NopCloser(bytes.NewReader(b))
		if m := actionRE.FindSubmatch(b); m != nil {
			return string(m[1])
		}
	}
	for _, o := range restOps {
		if req.Method == o.method && o.re.MatchString(req.URL.Path) {
			return o.op
		}
	}
	return req.Method + " " + req.URL.Path
}

var mutatingOps = map[string]bool{
	// Route53 and ACM.
	"ChangeResourceRecordSets": true, "CreateHealthCheck": true, "UpdateHealthCheck": true, "DeleteHealthCheck": true,
	"ChangeTagsForResource": true, "RequestCertificate": true, "DeleteCertificate": true, "AddTagsToCertificate": true,
	// IAM (query API) and Secrets Manager (JSON API).
	"CreateRole": true, "UpdateRole": true, "UpdateAssumeRolePolicy": true, "DeleteRole": true, "PutRolePolicy": true,
	"DeleteRolePolicy": true, "AttachRolePolicy": true, "DetachRolePolicy": true, "TagRole": true, "UntagRole": true,
	"CreateSecret": true, "UpdateSecret": true, "RestoreSecret": true, "TagResource": true, "UntagResource": true, "DeleteSecret": true,
	"PutSecretValue": true,
}

// Mutating reports whether the operation op (as Operation names it) is one
// of the calls coderfleet makes that change AWS.
func Mutating(op string) bool { return mutatingOps[op] }

// Counter is an http.RoundTripper that counts the requests it passes to
// Next by Operation. It is safe for concurrent use.
type Counter struct {
	next  http.RoundTripper
	mu    sync.Mutex
	calls map[string]int
}

// New returns a Counter in front of next.
func New(next http.RoundTripper) *Counter {
	return &Counter{next: next, calls: map[string]int{}}
}

// RoundTrip counts req and passes it on.
func (c *Counter) RoundTrip(req *http.Request) (*http.Response, error) {
	op := Operation(req)
	c.mu.Lock()
	c.calls[op]++
	c.mu.Unlock()
	return c.next.RoundTrip(req)
}

// Mutating is how many of the counted calls change AWS.
func (c *Counter) Mutating() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for op, k := range c.calls {
		if mutatingOps[op] {
			n += k
		}
	}
	return n
}

// Count is how many calls of operation op were counted.
func (c *Counter) Count(op string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls[op]
}

// Calls returns a copy of the counts by operation.
func (c *Counter) Calls() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int, len(c.calls))
	for op, k := range c.calls {
		out[op] = k
	}
	return out
}

// Proxy is a loopback HTTP reverse proxy in front of an AWS endpoint (in
// tests and benchmarks: moto_server) that holds every request for Delay
// before passing it on and counts it by Operation. With Delay = 50 ms it
// stands for the round trip a CI runner far from the AWS region sees; the
// Go SDK and other clients (Terraform's AWS provider) are pointed at URL.
type Proxy struct {
	// URL is the proxy's endpoint, e.g. http://127.0.0.1:40123.
	URL string
	// Counter counts the requests passed on, by operation.
	Counter *Counter
	// Delay is added before each request is passed on.
	Delay time.Duration
	srv   *httptest.Server
}

// NewProxy starts a Proxy on a free loopback port in front of target (an
// http:// base URL) that adds delay to every request. Close stops it.
func NewProxy(target string, delay time.Duration) (*Proxy, error) {
	u, err := url.Parse(target)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return nil, fmt.Errorf("awscalls: proxy target %q is not a base URL", target)
	}
	p := &Proxy{Delay: delay}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 256
	p.Counter = New(delayed{tr, p})
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.Transport = p.Counter
	p.srv = httptest.NewServer(rp)
	p.URL = p.srv.URL
	return p, nil
}

// Close stops the proxy and waits for the requests in flight.
func (p *Proxy) Close() { p.srv.Close() }

// delayed holds each request for the proxy's Delay (or until the request is
// cancelled), then passes it to next.
type delayed struct {
	next http.RoundTripper
	p    *Proxy
}

func (d delayed) RoundTrip(req *http.Request) (*http.Response, error) {
	if d.p.Delay > 0 {
		t := time.NewTimer(d.p.Delay)
		select {
		case <-t.C:
		case <-req.Context().Done():
			t.Stop()
			return nil, req.Context().Err()
		}
	}
	return d.next.RoundTrip(req)
}
