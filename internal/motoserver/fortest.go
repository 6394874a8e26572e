package motoserver

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
)

// CommonEnv is the environment most tests start moto_server with: ACM
// certificates turn ISSUED one second after they are requested (moto's
// default is 60), and AWS's managed IAM policies are loaded, because the
// rendered IAM roles attach some of them.
var CommonEnv = []string{"MOTO_ACM_VALIDATION_WAIT=1", "MOTO_IAM_LOAD_MANAGED_POLICIES=true"}

// logTail is how much of moto's output a failed test logs.
const logTail = 4000

// StartForTest starts a moto_server of its own for tb with exactly the
// environment env (see [CommonEnv]) and stops it when tb ends; if tb failed,
// the end of moto's output is logged first. A moto_server that is missing or
// does not start fails tb (never a skip).
func StartForTest(tb testing.TB, env ...string) *Server {
	tb.Helper()
	s, err := Start(env...)
	if err != nil {
		tb.Fatalf("moto_server is required: %v", err)
	}
	tb.Cleanup(func() {
		logOnFailure(tb, s)
		s.Stop()
	})
	return s
}

// Pool shares moto_servers among the tests of one package: starting
// moto_server costs seconds (10-14 s measured on a busy 2-core machine),
// resetting it a fraction of a second (0.1-0.3 s there). The zero Pool is ready
// to use; call [Pool.Close] from TestMain after m.Run, or the servers
// outlive the test binary.
//
// A server serves one test at a time: tests running in parallel with the
// same environment get separate servers.
type Pool struct {
	mu   sync.Mutex
	idle map[string][]*Server // by environment key; every server is reset before reuse
	all  []*Server
}

// ForTest returns a moto_server with the environment env for tb, in the
// state of a freshly started one: an idle server of the pool started with the
// same environment (same settings, in any order; a later duplicate wins, as
// for exec.Cmd) is reset through moto's /moto-api/reset, otherwise a new one
// is started. When tb ends the server goes back to the pool; if tb failed,
// the end of what moto printed during tb is logged first. The returned
// Server's Log holds only what moto printed during tb; its Stop does nothing
// (the pool stops its servers on Close). Any failure fails tb.
func (p *Pool) ForTest(tb testing.TB, env ...string) *Server {
	tb.Helper()
	key := envKey(env)
	p.mu.Lock()
	var s *Server
	if n := len(p.idle[key]); n > 0 {
		s = p.idle[key][n-1]
		p.idle[key] = p.idle[key][:n-1]
	}
	p.mu.Unlock()
	if s != nil {
		if err := s.Reset(); err != nil {
			p.drop(s)
			tb.Fatalf("reusing the package's moto_server (%s): %v\n%s", s.URL, err, tail(s.Log(), logTail))
		}
	} else {
		var err error
		if s, err = Start(env...); err != nil {
			tb.Fatalf("moto_server is required: %v", err)
		}
		p.mu.Lock()
		p.all = append(p.all, s)
		p.mu.Unlock()
	}
	view := &Server{URL: s.URL, log: s.log, logFrom: s.log.Len(), borrowed: true}
	tb.Cleanup(func() {
		logOnFailure(tb, view)
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.idle == nil {
			p.idle = map[string][]*Server{}
		}
		p.idle[key] = append(p.idle[key], s)
	})
	return view
}

// drop stops s and forgets it.
func (p *Pool) drop(s *Server) {
	s.Stop()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.all = slices.DeleteFunc(p.all, func(x *Server) bool { return x == s })
}

// Close stops every server the pool started.
func (p *Pool) Close() {
	p.mu.Lock()
	all := p.all
	p.all, p.idle = nil, nil
	p.mu.Unlock()
	for _, s := range all {
		s.Stop()
	}
}

// envKey identifies an environment by its effective settings: the last
// value of each name, names sorted.
func envKey(env []string) string {
	last := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		last[k] = v
	}
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(last)) {
		fmt.Fprintf(&b, "%s=%s\x00", k, last[k])
	}
	return b.String()
}

func logOnFailure(tb testing.TB, s *Server) {
	if tb.Failed() {
		tb.Logf("moto_server log (%s), last %d bytes:\n%s", s.URL, logTail, tail(s.Log(), logTail))
	}
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}
