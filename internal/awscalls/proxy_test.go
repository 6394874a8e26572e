package awscalls

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestProxyPassesOnCountsAndDelays: the proxy forwards method, path, body
// and headers to the target, returns its answer, counts the call by
// operation and holds it at least Delay (a lower bound only: a busy machine
// may take longer).
func TestProxyPassesOnCountsAndDelays(t *testing.T) {
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Seen", r.Method+" "+r.URL.Path+" "+r.Header.Get("X-Amz-Target")+" "+string(b))
		w.WriteHeader(http.StatusTeapot)
	}))
	defer target.Close()
	const delay = 20 * time.Millisecond
	p, err := NewProxy(target.URL, delay)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	req, _ := http.NewRequest("POST", p.URL+"/x", strings.NewReader("{}"))
	req.Header.Set("X-Amz-Target", "CertificateManager.ListCertificates")
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if took := time.Since(start); took < delay {
		t.Errorf("the call took %s, want at least the proxy's delay %s", took, delay)
	}
	if resp.StatusCode != http.StatusTeapot || resp.Header.Get("X-Seen") != "POST /x CertificateManager.ListCertificates {}" {
		t.Errorf("target answered %d %q", resp.StatusCode, resp.Header.Get("X-Seen"))
	}
	if got := p.Counter.Count("ListCertificates"); got != 1 {
		t.Errorf("ListCertificates counted %d times, want 1 (%v)", got, p.Counter.Calls())
	}
	if _, err := NewProxy("not a url", 0); err == nil {
		t.Error("NewProxy accepted a target without scheme and host")
	}
}
