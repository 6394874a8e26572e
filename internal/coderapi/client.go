package coderapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"
)

// Header names coderd reads credentials from. Sources: codersdk/client.go
// (SessionTokenHeader, ProvisionerDaemonKey) and coderd/httpmw
// (WorkspaceProxyAuthTokenHeader).
const (
	// SessionTokenHeader carries a user's API token on every user route.
	SessionTokenHeader = "Coder-Session-Token"
	// ProxyTokenHeader carries a workspace proxy's token on the
	// /api/v2/workspaceproxies/me/* routes.
	ProxyTokenHeader = "Coder-External-Proxy-Token"
	// ProvisionerKeyHeader carries a provisioner key's secret.
	ProvisionerKeyHeader = "Coder-Provisioner-Daemon-Key"
)

// maxErrorBody bounds how much of an error answer is read.
const maxErrorBody = 64 << 10

// Client talks to one coderd. It is safe for concurrent use. Its String and
// GoString print the base URL only.
type Client struct {
	base  *url.URL
	token string
	hc    *http.Client
}

// New returns a client for the coderd at baseURL (http(s)://host[:port][/path],
// the value of CODER_URL) that authenticates with sessionToken (the value of
// CODER_SESSION_TOKEN). hc nil means a client of its own; a given hc is
// copied so that redirects are not followed (a redirect would carry the
// token's header to wherever it points). Errors: a URL that is not absolute
// http(s), has user info, a query or a fragment; an empty token.
func New(baseURL, sessionToken string, hc *http.Client) (*Client, error) {
	u, err := url.Parse(strings.TrimSpace(baseURL))
	if err != nil {
		return nil, fmt.Errorf("coder URL %q: %w", baseURL, err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("coder URL %q: want http:// or https://", baseURL)
	case u.Host == "":
		return nil, fmt.Errorf("coder URL %q: no host", baseURL)
	case u.User != nil:
		return nil, fmt.Errorf("coder URL %s://%s: user info is not allowed: put the token in CODER_SESSION_TOKEN", u.Scheme, u.Host)
	case u.RawQuery != "" || u.Fragment != "":
		return nil, fmt.Errorf("coder URL %q: no query or fragment allowed", baseURL)
	}
	if sessionToken == "" {
		return nil, errors.New("coder session token is empty: set CODER_SESSION_TOKEN (`coder tokens create`)")
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	c := &http.Client{}
	if hc != nil {
		cp := *hc
		c = &cp
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &Client{base: u, token: sessionToken, hc: c}, nil
}

// URL is the base URL the client was made with, without a trailing slash.
func (c *Client) URL() string { return c.base.String() }

// String names the coderd; never the token.
func (c *Client) String() string { return "coderapi.Client(" + c.URL() + ")" }

// GoString is String, so %#v cannot print the token.
func (c *Client) GoString() string { return c.String() }

// call describes one request. Path is the API path ("/api/v2/..."); shown is
// the path errors print when Path holds a secret.
type call struct {
	method, path, shown string
	query               url.Values
	body                any
	want                int
	header              string // the credential header; the session token's by default
	cred                string
}

// WorkspaceProxies lists every workspace proxy, the primary region first,
// from GET /api/v2/workspaceproxies (answer {"regions": [...]}; deleted
// proxies are not listed). Needs an Owner token and the workspace proxy
// feature (Premium); 403 otherwise.
func (c *Client) WorkspaceProxies(ctx context.Context) ([]WorkspaceProxy, error) {
	var out RegionsResponse
	err := c.do(ctx, call{method: http.MethodGet, path: "/api/v2/workspaceproxies", want: http.StatusOK}, &out)
	return out.Regions, err
}

// CreateWorkspaceProxy creates a proxy with POST /api/v2/workspaceproxies
// (201). The answer holds the proxy's one-time token. 409 when a proxy of
// that name (case-insensitive) exists; 400 for an empty name or "primary".
func (c *Client) CreateWorkspaceProxy(ctx context.Context, req CreateWorkspaceProxyRequest) (UpdateWorkspaceProxyResponse, error) {
	var out UpdateWorkspaceProxyResponse
	err := c.do(ctx, call{method: http.MethodPost, path: "/api/v2/workspaceproxies", body: req, want: http.StatusCreated}, &out)
	return out, err
}

// PatchWorkspaceProxy updates a proxy with PATCH
// /api/v2/workspaceproxies/{req.ID} (200). Name, DisplayName and Icon must
// all be set. With RegenerateToken the answer holds a new token and the old
// one stops working. 404 for an unknown ID.
func (c *Client) PatchWorkspaceProxy(ctx context.Context, req PatchWorkspaceProxy) (UpdateWorkspaceProxyResponse, error) {
	var out UpdateWorkspaceProxyResponse
	if req.ID == "" {
		return out, errors.New("coder: PATCH workspace proxy: no proxy ID")
	}
	err := c.do(ctx, call{method: http.MethodPatch, path: "/api/v2/workspaceproxies/" + url.PathEscape(req.ID), body: req, want: http.StatusOK}, &out)
	return out, err
}

// DeleteWorkspaceProxy deletes the proxy with this ID (or name) with DELETE
// /api/v2/workspaceproxies/{id} (200). 404 for an unknown one; 400 for the
// primary.
func (c *Client) DeleteWorkspaceProxy(ctx context.Context, id string) error {
	if id == "" {
		return errors.New("coder: DELETE workspace proxy: no proxy ID")
	}
	return c.do(ctx, call{method: http.MethodDelete, path: "/api/v2/workspaceproxies/" + url.PathEscape(id), want: http.StatusOK}, nil)
}

// Organization looks an organization up by name or UUID with GET
// /api/v2/organizations/{organization}. 404 when there is none.
func (c *Client) Organization(ctx context.Context, nameOrID string) (Organization, error) {
	var out Organization
	if nameOrID == "" {
		return out, errors.New("coder: GET organization: no name or ID")
	}
	err := c.do(ctx, call{method: http.MethodGet, path: "/api/v2/organizations/" + url.PathEscape(nameOrID), want: http.StatusOK}, &out)
	return out, err
}

// ProvisionerKeys lists an organization's provisioner keys (coderd's own
// reserved keys left out) with GET
// /api/v2/organizations/{orgID}/provisionerkeys, oldest first.
func (c *Client) ProvisionerKeys(ctx context.Context, orgID string) ([]ProvisionerKey, error) {
	var out []ProvisionerKey
	err := c.do(ctx, call{method: http.MethodGet, path: orgPath(orgID, "provisionerkeys"), want: http.StatusOK}, &out)
	return out, err
}

// CreateProvisionerKey creates a key with POST
// /api/v2/organizations/{orgID}/provisionerkeys (201); the answer holds its
// one-time secret. 409 when the organization has a key of that name
// (case-insensitive); 400 for an empty, too long or reserved name.
func (c *Client) CreateProvisionerKey(ctx context.Context, orgID string, req CreateProvisionerKeyRequest) (CreateProvisionerKeyResponse, error) {
	var out CreateProvisionerKeyResponse
	err := c.do(ctx, call{method: http.MethodPost, path: orgPath(orgID, "provisionerkeys"), body: req, want: http.StatusCreated}, &out)
	return out, err
}

// DeleteProvisionerKey deletes an organization's key by name with DELETE
// /api/v2/organizations/{orgID}/provisionerkeys/{name} (204). 404 when there
// is none.
func (c *Client) DeleteProvisionerKey(ctx context.Context, orgID, name string) error {
	if name == "" {
		return errors.New("coder: DELETE provisioner key: no name")
	}
	return c.do(ctx, call{method: http.MethodDelete, path: orgPath(orgID, "provisionerkeys") + "/" + url.PathEscape(name), want: http.StatusNoContent}, nil)
}

// ProvisionerDaemons lists an organization's provisioner daemons whose tags
// include every pair of tags (all daemons when tags is empty) with GET
// /api/v2/organizations/{orgID}/provisionerdaemons?tags={json}.
func (c *Client) ProvisionerDaemons(ctx context.Context, orgID string, tags map[string]string) ([]ProvisionerDaemon, error) {
	var q url.Values
	if len(tags) > 0 {
		b, err := json.Marshal(tags) // map keys marshal sorted: a stable query
		if err != nil {
			return nil, fmt.Errorf("coder: encoding provisioner tags: %w", err)
		}
		q = url.Values{"tags": {string(b)}}
	}
	var out []ProvisionerDaemon
	err := c.do(ctx, call{method: http.MethodGet, path: orgPath(orgID, "provisionerdaemons"), query: q, want: http.StatusOK}, &out)
	return out, err
}

// BuildInfo reads GET /api/v2/buildinfo: coderd's version and deployment ID.
func (c *Client) BuildInfo(ctx context.Context) (BuildInfo, error) {
	var out BuildInfo
	err := c.do(ctx, call{method: http.MethodGet, path: "/api/v2/buildinfo", want: http.StatusOK}, &out)
	return out, err
}

// RegisterWorkspaceProxy registers a proxy the way a running proxy process
// does: POST /api/v2/workspaceproxies/me/register (201) with proxyToken in
// the Coder-External-Proxy-Token header and no session token. coderfleet
// uses it only to prove a stored token works (tests, checks); 401 means the
// token is not (or no longer) valid.
func (c *Client) RegisterWorkspaceProxy(ctx context.Context, proxyToken string, req RegisterWorkspaceProxyRequest) error {
	return c.do(ctx, call{method: http.MethodPost, path: "/api/v2/workspaceproxies/me/register", body: req,
		want: http.StatusCreated, header: ProxyTokenHeader, cred: proxyToken}, nil)
}

// ProvisionerKeyByToken asks coderd which provisioner key a secret belongs
// to, as a provisioner daemon would: GET /api/v2/provisionerkeys/{key} with
// the secret in the Coder-Provisioner-Daemon-Key header and no session
// token. 401 (or 400 for a malformed secret) means it is not a valid key.
// Errors print the path as /api/v2/provisionerkeys/{key}.
func (c *Client) ProvisionerKeyByToken(ctx context.Context, key string) (ProvisionerKey, error) {
	var out ProvisionerKey
	err := c.do(ctx, call{method: http.MethodGet, path: "/api/v2/provisionerkeys/" + url.PathEscape(key), shown: "/api/v2/provisionerkeys/{key}",
		want: http.StatusOK, header: ProvisionerKeyHeader, cred: key}, &out)
	return out, err
}

func orgPath(orgID, rest string) string {
	return "/api/v2/organizations/" + url.PathEscape(orgID) + "/" + rest
}

// do sends one request and decodes a want-status answer into out (nil:
// body ignored). Every error is scrubbed of the credentials it carried.
func (c *Client) do(ctx context.Context, cl call, out any) error {
	shown := cl.path
	if cl.shown != "" {
		shown = cl.shown
	}
	header, cred := SessionTokenHeader, c.token
	if cl.header != "" {
		header, cred = cl.header, cl.cred
	}
	secrets := []string{c.token, cl.cred}
	fail := func(format string, args ...any) error {
		return scrubErr(fmt.Errorf("coder: %s %s: "+format, append([]any{cl.method, shown}, args...)...), secrets)
	}

	var body io.Reader
	if cl.body != nil {
		b, err := json.Marshal(cl.body)
		if err != nil {
			return fail("encoding the request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	u := *c.base
	u.Path = c.base.Path + cl.path
	u.RawPath = c.base.EscapedPath() + cl.path
	u.RawQuery = cl.query.Encode()
	req, err := http.NewRequestWithContext(ctx, cl.method, u.String(), body)
	if err != nil {
		return fail("%w", err)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if cred != "" {
		req.Header.Set(header, cred)
	}
	res, err := c.hc.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			// The URL may hold a secret (ProvisionerKeyByToken); print the
			// safe form and keep the chain for the retry classifier.
			ue.URL = c.base.String() + shown
		}
		return fail("%w", err)
	}
	defer func() { _ = res.Body.Close() }()
	if res.StatusCode != cl.want {
		return decodeError(cl.method, shown, res, secrets)
	}
	if out == nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, maxErrorBody))
		return nil
	}
	if err := json.NewDecoder(res.Body).Decode(out); err != nil {
		return fail("decoding the %d answer: %w", res.StatusCode, err)
	}
	return nil
}

// decodeError turns a non-success answer into *Error. A JSON body gives
// coderd's message, detail and validations; any other body gives its first
// line; an empty body the status text. Redirects name their target.
func decodeError(method, path string, res *http.Response, secrets []string) error {
	raw, _ := io.ReadAll(io.LimitReader(res.Body, maxErrorBody))
	e := &Error{Method: method, Path: path, StatusCode: res.StatusCode}
	var r Response
	if json.Unmarshal(raw, &r) == nil && r.Message != "" {
		e.Message, e.Detail, e.Validations = r.Message, r.Detail, r.Validations
	} else if line := firstLine(raw); line != "" {
		e.Message = line
	} else {
		e.Message = http.StatusText(res.StatusCode)
	}
	if res.StatusCode >= 300 && res.StatusCode < 400 {
		e.Detail = "coderd answered with a redirect to " + res.Header.Get("Location") + ": set CODER_URL to the address it redirects to"
	}
	e.Message = scrub(e.Message, secrets)
	e.Detail = scrub(e.Detail, secrets)
	for i := range e.Validations {
		e.Validations[i].Detail = scrub(e.Validations[i].Detail, secrets)
	}
	return e
}

func firstLine(b []byte) string {
	s := strings.TrimSpace(string(b))
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = strings.TrimSpace(s[:i])
	}
	if len(s) > 200 {
		s = s[:200]
		for !utf8.ValidString(s) {
			s = s[:len(s)-1]
		}
		s += "..."
	}
	return s
}

// scrub replaces every non-empty secret in s.
func scrub(s string, secrets []string) string {
	for _, sec := range secrets {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, "(redacted)")
		}
	}
	return s
}

// scrubbedError keeps the wrapped chain (for errors.As and the retry
// classifier) while its text has every secret replaced.
type scrubbedError struct {
	msg string
	err error
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.err }

func scrubErr(err error, secrets []string) error {
	msg := err.Error()
	if clean := scrub(msg, secrets); clean != msg {
		return &scrubbedError{msg: clean, err: err}
	}
	return err
}
