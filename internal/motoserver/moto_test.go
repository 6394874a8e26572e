package motoserver

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestStartAnswersThenStops(t *testing.T) {
	s, err := Start()
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(s.URL + "/moto-api/")
	if err != nil {
		t.Fatalf("moto_server does not answer right after Start: %v", err)
	}
	resp.Body.Close()
	if err := s.Reset(); err != nil {
		t.Fatal(err)
	}
	s.Stop()
	s.Stop() // a second Stop is harmless
	if _, err := http.Get(s.URL + "/moto-api/"); err == nil {
		t.Errorf("moto_server still answers after Stop")
	}
}

// A moto_server that exits before listening is an error carrying its output,
// found at once rather than after a bound.
func TestStartReportsAnEarlyExit(t *testing.T) {
	dir := t.TempDir()
	script := "#!/bin/sh\necho 'ImportError: no module named werkzeug' >&2\nexit 1\n"
	if err := os.WriteFile(filepath.Join(dir, "moto_server"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir)
	_, err := Start()
	if err == nil || !strings.Contains(err.Error(), "exited before listening") || !strings.Contains(err.Error(), "werkzeug") {
		t.Fatalf("Start = %v, want an early-exit error with the output", err)
	}
}

// snsCall makes one SNS query-API call against moto (which routes by the
// credential scope and does not check signatures) and returns the body.
func snsCall(t *testing.T, url, form string) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url+"/", strings.NewReader(form+"&Version=2010-03-31"))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDMOTO/20260101/us-east-1/sns/aws4_request, SignedHeaders=host, Signature=0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("SNS %s: %s\n%s", form, resp.Status, body)
	}
	return string(body)
}

// A Pool lends the same server to the next test with the same settings,
// reset to an empty state, and its Stop leaves it running; Close stops it.
func TestPoolReusesAResetServer(t *testing.T) {
	var pool Pool
	var first string
	t.Run("first", func(t *testing.T) {
		s := pool.ForTest(t, CommonEnv...)
		first = s.URL
		snsCall(t, s.URL, "Action=CreateTopic&Name=left-by-first")
		if got := snsCall(t, s.URL, "Action=ListTopics"); !strings.Contains(got, "left-by-first") {
			t.Fatalf("ListTopics after CreateTopic:\n%s", got)
		}
		s.Stop() // the pool's: does nothing
	})
	t.Run("second", func(t *testing.T) {
		s := pool.ForTest(t, CommonEnv[1], CommonEnv[0]) // same settings, other order
		if s.URL != first {
			t.Fatalf("second test got %s, want the first test's server %s again", s.URL, first)
		}
		if got := snsCall(t, s.URL, "Action=ListTopics"); strings.Contains(got, "left-by-first") {
			t.Errorf("the reused server still holds the first test's topic:\n%s", got)
		}
	})
	pool.Close()
	if resp, err := http.Get(first + "/moto-api/"); err == nil {
		resp.Body.Close()
		t.Errorf("moto_server still answers after Pool.Close")
	}
	pool.Close() // a second Close is harmless
}

func TestEnvKey(t *testing.T) {
	for _, tc := range []struct {
		a, b []string
		same bool
	}{
		{[]string{"A=1", "B=2"}, []string{"B=2", "A=1"}, true},
		{[]string{"A=1", "A=2"}, []string{"A=2"}, true}, // the last one wins, as for exec.Cmd
		{[]string{"A=1"}, []string{"A=2"}, false},
		{[]string{"A=1"}, []string{"A=1", "B="}, false},
		{nil, []string{}, true},
	} {
		if got := envKey(tc.a) == envKey(tc.b); got != tc.same {
			t.Errorf("envKey(%q) == envKey(%q) is %v, want %v", tc.a, tc.b, got, tc.same)
		}
	}
}
