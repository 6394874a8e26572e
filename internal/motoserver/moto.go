// Package motoserver starts moto_server on a free loopback port for tests and
// stops it again.
package motoserver

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Server is a running moto_server.
type Server struct {
	// URL is the endpoint, e.g. http://127.0.0.1:43121.
	URL  string
	cmd  *exec.Cmd
	log  *watchedLog
	wait chan error // receives the process's exit; nil once reaped

	logFrom  int  // Log starts at this offset of log (a Pool's server: where the test's part begins)
	borrowed bool // a Pool's server lent to one test: Stop leaves it running
}

// startBound bounds the wait for moto_server to start listening. It guards
// against a hang only: the wait itself ends on moto's own "Running on" line
// (or its exit), never on a timer, so a slow machine only waits longer.
const startBound = 5 * time.Minute

// Start runs moto_server on a free loopback port with the given extra
// environment (e.g. MOTO_ACM_VALIDATION_WAIT=1) and returns once it listens:
// when it prints the line announcing its address. A missing moto_server is
// an error with a hint, never a skip; so is a moto_server that exits first.
func Start(env ...string) (*Server, error) {
	bin, err := exec.LookPath("moto_server")
	if err != nil {
		return nil, fmt.Errorf("moto_server not found on PATH (install it with: pip install 'moto[server]==5.2.1'): %w", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("finding a free port: %w", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	s := &Server{URL: "http://127.0.0.1:" + strconv.Itoa(port)}
	s.log = &watchedLog{want: []byte("Running on " + s.URL), seen: make(chan struct{})}
	s.cmd = exec.Command(bin, "-H", "127.0.0.1", "-p", strconv.Itoa(port))
	s.cmd.Env = append(os.Environ(), env...)
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting moto_server: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- s.cmd.Wait() }()
	s.wait = exited
	select {
	case <-s.log.seen:
		return s, nil
	case err := <-exited:
		s.wait = nil
		return nil, fmt.Errorf("moto_server exited before listening on %s (%v): %s", s.URL, err, s.log.String())
	case <-time.After(startBound):
		s.Stop()
		return nil, fmt.Errorf("moto_server printed no %q within %s: %s", s.log.want, startBound, s.log.String())
	}
}

// watchedLog collects a process's output and closes seen once the output
// holds want.
type watchedLog struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	want []byte
	seen chan struct{}
	done bool
}

func (w *watchedLog) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if !w.done && bytes.Contains(w.buf.Bytes(), w.want) {
		w.done = true
		close(w.seen)
	}
	return len(p), nil
}

// Len is how many bytes were written so far.
func (w *watchedLog) Len() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Len()
}

func (w *watchedLog) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// Reset drops all of moto's state.
func (s *Server) Reset() error {
	resp, err := http.Post(s.URL+"/moto-api/reset", "application/json", nil)
	if err != nil {
		return fmt.Errorf("resetting moto: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("resetting moto: %s", resp.Status)
	}
	return nil
}

// Stop kills moto_server (its whole process group) and waits for it. On a
// server lent by a [Pool] it does nothing: the pool stops it.
func (s *Server) Stop() {
	if s.borrowed || s.cmd == nil || s.cmd.Process == nil || s.wait == nil {
		return
	}
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-s.wait:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.wait
	}
	s.wait = nil
}

// Log returns what moto_server printed; for a server lent by a [Pool], what
// it printed since it was lent.
func (s *Server) Log() string { return s.log.String()[s.logFrom:] }

var subnetRE = regexp.MustCompile(`<subnetId>([^<]+)</subnetId>`)

// DefaultSubnet returns the ID of a default subnet of awsRegion, which an
// EKS cluster or a load balancer created in moto needs. It asks moto's EC2
// query API directly: moto routes by the region of the credential scope and
// does not verify signatures, so no EC2 SDK is needed.
func (s *Server) DefaultSubnet(awsRegion string) (string, error) {
	req, err := http.NewRequest(http.MethodPost, s.URL+"/", strings.NewReader("Action=DescribeSubnets&Version=2016-11-15&Filter.1.Name=default-for-az&Filter.1.Value.1=true"))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDMOTO/20260101/"+awsRegion+"/ec2/aws4_request, SignedHeaders=host, Signature=0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("asking moto for a subnet in %s: %w", awsRegion, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	m := subnetRE.FindSubmatch(body)
	if resp.StatusCode != http.StatusOK || m == nil {
		return "", fmt.Errorf("no default subnet in moto's %s (%s): %s", awsRegion, resp.Status, body)
	}
	return string(m[1]), nil
}
