package coderapi_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"

	"github.com/coderfleet/coderfleet/internal/coderapi"
)

const secretToken = "sEcReT-session-token-8f3a1c"

// answer serves one fixed status, content type and body, and records the
// session token header it saw.
func answer(t *testing.T, status int, ctype, body string) (*coderapi.Client, *string) {
	t.Helper()
	var seen string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = r.Header.Get(coderapi.SessionTokenHeader)
		if ctype != "" {
			w.Header().Set("Content-Type", ctype)
		}
		if status >= 300 && status < 400 {
			w.Header().Set("Location", "https://coder.example.com/api/v2/buildinfo")
		}
		w.WriteHeader(status)
		_, _ = fmt.Fprint(w, body)
	}))
	t.Cleanup(srv.Close)
	c, err := coderapi.New(srv.URL+"/", secretToken, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c, &seen
}

func TestErrorDecoding(t *testing.T) {
	for _, tc := range []struct {
		name, ctype, body string
		status            int
		want              string
		validations       int
		hint              string
	}{
		{"json with detail and validations", "application/json", `{"message":"Validation failed.","detail":"see fields","validations":[{"field":"name","detail":"Reserved name"}]}`,
			400, "coder: GET /api/v2/buildinfo: 400: Validation failed.: see fields", 1, "name: Reserved name"},
		{"json 409", "application/json", `{"message":"Workspace proxy with name \"x\" already exists."}`,
			409, `coder: GET /api/v2/buildinfo: 409: Workspace proxy with name "x" already exists.`, 0, "already exists"},
		{"premium 403", "application/json", `{"message":"Workspace Proxy is a Premium feature. Contact sales!"}`,
			403, "coder: GET /api/v2/buildinfo: 403: Workspace Proxy is a Premium feature. Contact sales!", 0, "Premium licence"},
		{"role 403", "application/json", `{"message":"Forbidden."}`, 403, "coder: GET /api/v2/buildinfo: 403: Forbidden.", 0, "Owner"},
		{"401", "application/json", `{"message":"signed out"}`, 401, "coder: GET /api/v2/buildinfo: 401: signed out", 0, "coder tokens create"},
		{"404", "application/json", `{"message":"Resource not found"}`, 404, "coder: GET /api/v2/buildinfo: 404: Resource not found", 0, "does not exist"},
		{"html from a load balancer", "text/html", "<html>\n<body>502 Bad Gateway</body></html>", 502, "coder: GET /api/v2/buildinfo: 502: <html>", 0, "try again"},
		{"empty body", "", "", 503, "coder: GET /api/v2/buildinfo: 503: Service Unavailable", 0, "try again"},
		{"redirect", "", "", 307, "coder: GET /api/v2/buildinfo: 307: Temporary Redirect: coderd answered with a redirect to https://coder.example.com/api/v2/buildinfo: set CODER_URL to the address it redirects to", 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, seen := answer(t, tc.status, tc.ctype, tc.body)
			_, err := c.BuildInfo(context.Background())
			var e *coderapi.Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v (%T) is not *coderapi.Error", err, err)
			}
			if err.Error() != tc.want {
				t.Errorf("Error() = %q\nwant      %q", err.Error(), tc.want)
			}
			if e.HTTPStatusCode() != tc.status || len(e.Validations) != tc.validations {
				t.Errorf("status %d validations %v", e.HTTPStatusCode(), e.Validations)
			}
			if !strings.Contains(e.Hint(), tc.hint) {
				t.Errorf("Hint() = %q, want it to contain %q", e.Hint(), tc.hint)
			}
			if *seen != secretToken {
				t.Errorf("the server saw %q in %s", *seen, coderapi.SessionTokenHeader)
			}
		})
	}
}

func TestHelpers(t *testing.T) {
	wrapped := fmt.Errorf("creating proxy: %w", &coderapi.Error{StatusCode: 409})
	if !coderapi.IsConflict(wrapped) || coderapi.IsNotFound(wrapped) {
		t.Error("IsConflict/IsNotFound do not see through wrapping")
	}
	if !coderapi.IsNotFound(&coderapi.Error{StatusCode: 404}) || coderapi.IsNotFound(errors.New("404")) {
		t.Error("IsNotFound")
	}
	if !coderapi.IsUnauthorized(&coderapi.Error{StatusCode: 401}) || !coderapi.IsForbidden(&coderapi.Error{StatusCode: 403}) {
		t.Error("IsUnauthorized/IsForbidden")
	}
}

// TestRetryClassification proves that the AWS SDK's default retryables
// (what sync uses) retry 429, 5xx and refused connections, and nothing else.
func TestRetryClassification(t *testing.T) {
	retryable := retry.IsErrorRetryables(retry.DefaultRetryables)
	for _, code := range []int{400, 401, 403, 404, 409, 429, 500, 502, 503, 504} {
		c, _ := answer(t, code, "application/json", `{"message":"m"}`)
		_, err := c.BuildInfo(context.Background())
		want := code == 429 || code >= 500
		if got := retryable.IsErrorRetryable(err) == aws.TrueTernary; got != want {
			t.Errorf("status %d: retryable = %v, want %v", code, got, want)
		}
	}
	c, err := coderapi.New("http://"+closedAddr(t), secretToken, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.WorkspaceProxies(context.Background())
	if err == nil || retryable.IsErrorRetryable(err) != aws.TrueTernary {
		t.Errorf("a refused connection (%v) is not retryable", err)
	}
	if !strings.HasPrefix(err.Error(), "coder: GET /api/v2/workspaceproxies: ") {
		t.Errorf("connection error %q does not name method and path", err)
	}
}

// TestTokenNeverLeaks: a server that echoes every credential back, a
// transport failure on a path that holds a key, and every way to print a
// client or a one-time answer.
func TestTokenNeverLeaks(t *testing.T) {
	const proxyToken = "00000000-0000-4000-8000-000000000007:" + "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789"
	const daemonKey = "K3yK3yK3yK3yK3yK3yK3yK3yK3yK3yK3yK3yK3yK3yK"
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		all := r.Header.Get(coderapi.SessionTokenHeader) + r.Header.Get(coderapi.ProxyTokenHeader) + r.Header.Get(coderapi.ProvisionerKeyHeader)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = fmt.Fprintf(w, `{"message":"bad token %s","detail":"path %s","validations":[{"field":"token","detail":"%s"}]}`, all, r.URL.Path, all)
	}))
	defer echo.Close()
	c, err := coderapi.New(echo.URL, secretToken, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var errs []error
	_, err = c.WorkspaceProxies(ctx)
	errs = append(errs, err)
	errs = append(errs, c.RegisterWorkspaceProxy(ctx, proxyToken, coderapi.RegisterWorkspaceProxyRequest{}))
	_, err = c.ProvisionerKeyByToken(ctx, daemonKey)
	errs = append(errs, err)
	if e := new(coderapi.Error); !errors.As(err, &e) || e.Path != "/api/v2/provisionerkeys/{key}" {
		t.Errorf("the daemon key call's error path is %q", e.Path)
	}

	dead, err := coderapi.New("http://"+closedAddr(t), secretToken, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = dead.ProvisionerKeyByToken(ctx, daemonKey)
	errs = append(errs, err)
	_, err = dead.Organization(ctx, "coder")
	errs = append(errs, err)

	var printed []string
	for _, err := range errs {
		if err == nil {
			t.Fatal("no error")
		}
		printed = append(printed, err.Error(), fmt.Sprintf("%v %+v %#v", err, err, err))
		var e *coderapi.Error
		if errors.As(err, &e) {
			printed = append(printed, e.Hint(), fmt.Sprint(e.Validations))
		}
	}
	printed = append(printed, c.String(), c.GoString(), fmt.Sprintf("%v %+v %#v %s", c, c, c, c), c.URL(),
		fmt.Sprintf("%v %+v %#v", coderapi.UpdateWorkspaceProxyResponse{ProxyToken: proxyToken}, coderapi.UpdateWorkspaceProxyResponse{ProxyToken: proxyToken}, coderapi.UpdateWorkspaceProxyResponse{ProxyToken: proxyToken}),
		fmt.Sprintf("%v %+v %#v", coderapi.CreateProvisionerKeyResponse{Key: daemonKey}, coderapi.CreateProvisionerKeyResponse{Key: daemonKey}, coderapi.CreateProvisionerKeyResponse{Key: daemonKey}))
	for _, s := range printed {
		for _, secret := range []string{secretToken, proxyToken, "abcdef0123456789abcdef", daemonKey} {
			if strings.Contains(s, secret) {
				t.Errorf("%q holds a secret", s)
			}
		}
	}
}

func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}

func TestNew(t *testing.T) {
	for _, tc := range []struct{ url, token, want string }{
		{"coder.example.com", "t", "want http:// or https://"},
		{"https://", "t", "no host"},
		{"https://u:p@coder.example.com", "t", "user info"},
		{"https://coder.example.com?x=1", "t", "no query"},
		{"https://coder.example.com", "", "CODER_SESSION_TOKEN"},
	} {
		_, err := coderapi.New(tc.url, tc.token, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%q) = %v, want %q", tc.url, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "u:p") {
			t.Errorf("New prints user info: %v", err)
		}
	}
	c, err := coderapi.New("https://coder.example.com/sub/", "t", &http.Client{})
	if err != nil || c.URL() != "https://coder.example.com/sub" {
		t.Fatalf("New = %v, %v", c, err)
	}
}

// TestBasePathAndQuery: a base URL with a path prefixes every API path, and
// the provisioner daemon tag filter is sent as coderd documents it.
func TestBasePathAndQuery(t *testing.T) {
	var got string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.URL.Path + "?" + r.URL.RawQuery
		_, _ = fmt.Fprint(w, `[]`)
	}))
	defer srv.Close()
	c, err := coderapi.New(srv.URL+"/coder", "t", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ProvisionerDaemons(context.Background(), "org-1", map[string]string{"region": "us-west-2", "namespace": "ws"}); err != nil {
		t.Fatal(err)
	}
	if want := `/coder/api/v2/organizations/org-1/provisionerdaemons?tags=%7B%22namespace%22%3A%22ws%22%2C%22region%22%3A%22us-west-2%22%7D`; got != want {
		t.Errorf("request %s\nwant    %s", got, want)
	}
}
