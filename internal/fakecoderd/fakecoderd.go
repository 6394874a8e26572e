package fakecoderd

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/coderfleet/coderfleet/internal/coderapi"
)

// Options configures a fake coderd.
type Options struct {
	// OwnerToken is the session token of a user with the Owner role.
	// Required.
	OwnerToken string
	// MemberToken is the session token of a user without Owner; "" means
	// there is no such user.
	MemberToken string
	// Premium licenses the workspace proxy and external provisioner daemon
	// features; without it their routes answer 403.
	Premium bool
	// Organizations are the organization names; the first is the default.
	// Empty means one organization, "coder".
	Organizations []string
	// Version is what /api/v2/buildinfo reports; "" means "v2.24.0".
	Version string
	// Now is the clock for created_at and similar fields; nil means
	// time.Now.
	Now func() time.Time
}

// Request is one HTTP request the fake received: its method and URL path.
// A provisioner key in a path is shown as {key}.
type Request struct {
	Method, Path string
}

// Server is the fake coderd. All methods are safe for concurrent use.
type Server struct {
	opts Options

	mu         sync.Mutex
	seq        int
	deployment string
	orgs       []*org
	proxies    []*proxy // in creation order, deleted ones kept
	keys       []*pkey  // in creation order
	daemons    []*daemon
	reqs       []Request
}

type org struct {
	coderapi.Organization
}

type proxy struct {
	api        coderapi.WorkspaceProxy
	tokenHash  [sha256.Size]byte
	primary    bool
	registered bool
}

type pkey struct {
	api  coderapi.ProvisionerKey
	hash [sha256.Size]byte
}

type daemon struct {
	api coderapi.ProvisionerDaemon
}

// New returns a fake coderd with its organizations and the primary region.
// It does not listen until Start (or serve through Handler).
func New(o Options) *Server {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Version == "" {
		o.Version = "v2.24.0"
	}
	if len(o.Organizations) == 0 {
		o.Organizations = []string{"coder"}
	}
	s := &Server{opts: o}
	s.deployment = s.newID()
	now := o.Now().UTC()
	for i, name := range o.Organizations {
		s.orgs = append(s.orgs, &org{coderapi.Organization{
			ID: s.newID(), Name: name, DisplayName: name, CreatedAt: now, UpdatedAt: now, IsDefault: i == 0,
		}})
	}
	s.proxies = append(s.proxies, &proxy{primary: true, api: coderapi.WorkspaceProxy{
		Region: coderapi.Region{ID: s.deployment, Name: coderapi.PrimaryProxyName, DisplayName: "Default",
			IconURL: "/emojis/1f3e1.png", Healthy: true},
		DerpEnabled: true,
		Status:      coderapi.WorkspaceProxyStatus{Status: coderapi.ProxyHealthy, Report: emptyReport()},
		CreatedAt:   now, UpdatedAt: now, Version: o.Version,
	}})
	return s
}

// Start serves the fake on a new loopback httptest server and returns its
// base URL and the function that stops it.
func (s *Server) Start() (url string, stop func()) {
	ts := httptest.NewServer(s.Handler())
	return ts.URL, ts.Close
}

// Handler is the fake's HTTP handler, for a server of the caller's own.
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serve) }

// DeploymentID is the deployment's UUID: the primary region's ID.
func (s *Server) DeploymentID() string { return s.deployment }

// Proxies returns the workspace proxies that exist (not deleted), without
// the primary region, sorted by name.
func (s *Server) Proxies() []coderapi.WorkspaceProxy {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []coderapi.WorkspaceProxy
	for _, p := range s.proxies {
		if !p.primary && !p.api.Deleted {
			out = append(out, s.proxyView(p))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// ProvisionerKeys returns the keys of the organization with this name or
// ID in creation order; nil for an unknown organization.
func (s *Server) ProvisionerKeys(orgNameOrID string) []coderapi.ProvisionerKey {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.findOrg(orgNameOrID)
	if o == nil {
		return nil
	}
	return s.keysOf(o.ID)
}

// SetProxyStatus sets the health coderd reports for the proxy of this name
// (one of the coderapi.ProxyHealthStatus values) and the version it
// reports. Healthy follows status "ok". An error names an unknown proxy.
func (s *Server) SetProxyStatus(name, status, version string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.proxyByName(name)
	if p == nil {
		return fmt.Errorf("fakecoderd: no workspace proxy %q", name)
	}
	p.api.Status.Status = coderapi.ProxyHealthStatus(status)
	p.api.Status.CheckedAt = s.opts.Now().UTC()
	p.api.Healthy = status == string(coderapi.ProxyHealthy)
	p.api.Version = version
	return nil
}

// AddProvisionerDaemon connects an idle provisioner daemon with these tags
// and version to the organization of this name or ID. An error names an
// unknown organization.
func (s *Server) AddProvisionerDaemon(orgNameOrID string, tags map[string]string, version string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.findOrg(orgNameOrID)
	if o == nil {
		return fmt.Errorf("fakecoderd: no organization %q", orgNameOrID)
	}
	now := s.opts.Now().UTC()
	idle := coderapi.ProvisionerDaemonIdle
	t := map[string]string{}
	for k, v := range tags {
		t[k] = v
	}
	s.daemons = append(s.daemons, &daemon{coderapi.ProvisionerDaemon{
		ID: s.newID(), OrganizationID: o.ID, CreatedAt: now, LastSeenAt: &now,
		Name: fmt.Sprintf("provisioner-%d", len(s.daemons)+1), Version: version, APIVersion: "1.0",
		Provisioners: []string{"terraform"}, Tags: t, Status: &idle,
	}})
	return nil
}

// Requests returns every request received so far, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.reqs...)
}

// MutatingRequests returns the requests whose method may change state
// (anything but GET, HEAD and OPTIONS), in order, whatever they were
// answered.
func (s *Server) MutatingRequests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Request
	for _, r := range s.reqs {
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
		default:
			out = append(out, r)
		}
	}
	return out
}

// newID returns the next UUID-shaped ID; IDs are deterministic so output
// that names them is stable across runs. Callers hold mu (or are New).
func (s *Server) newID() string {
	s.seq++
	return fmt.Sprintf("00000000-0000-4000-8000-%012d", s.seq)
}

func (s *Server) findOrg(nameOrID string) *org {
	for _, o := range s.orgs {
		if o.ID == nameOrID || o.Name == nameOrID || (nameOrID == "default" && o.IsDefault) {
			return o
		}
	}
	return nil
}

func (s *Server) proxyByName(name string) *proxy {
	for _, p := range s.proxies {
		if !p.api.Deleted && p.api.Name == name {
			return p
		}
	}
	return nil
}

func (s *Server) keysOf(orgID string) []coderapi.ProvisionerKey {
	var out []coderapi.ProvisionerKey
	for _, k := range s.keys {
		if k.api.OrganizationID == orgID {
			out = append(out, copyKey(k.api))
		}
	}
	return out
}

func (s *Server) proxyView(p *proxy) coderapi.WorkspaceProxy {
	v := p.api
	v.Status.Report = coderapi.ProxyHealthReport{
		Errors:   append([]string{}, p.api.Status.Report.Errors...),
		Warnings: append([]string{}, p.api.Status.Report.Warnings...),
	}
	if p.primary {
		// coderd reports the primary as checked "now" on every read.
		now := s.opts.Now().UTC()
		v.Status.CheckedAt, v.CreatedAt, v.UpdatedAt = now, now, now
	}
	return v
}

func copyKey(k coderapi.ProvisionerKey) coderapi.ProvisionerKey {
	t := make(map[string]string, len(k.Tags))
	for a, b := range k.Tags {
		t[a] = b
	}
	k.Tags = t
	return k
}

func emptyReport() coderapi.ProxyHealthReport {
	return coderapi.ProxyHealthReport{Errors: []string{}, Warnings: []string{}}
}

// randomHex returns n random bytes as 2n hex digits.
func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("fakecoderd: reading random bytes: %v", err))
	}
	return hex.EncodeToString(b)
}

// randomAlnum returns n random letters and digits, the alphabet of Coder's
// provisioner key secrets.
func randomAlnum(n int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("fakecoderd: reading random bytes: %v", err))
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

func hashOf(secret string) [sha256.Size]byte { return sha256.Sum256([]byte(secret)) }

func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, c := range s {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !strings.ContainsRune("0123456789abcdefABCDEF", c) {
				return false
			}
		}
	}
	return true
}
