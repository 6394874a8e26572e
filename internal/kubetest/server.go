package kubetest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	certutil "k8s.io/client-go/util/cert"
)

// AdminUser is the user the static token authenticates as; it is in the
// system:masters group, so RBAC allows it everything.
const AdminUser = "coderfleet-test-admin"

// DefaultReadyTimeout bounds how long [Launch] waits for etcd and the API
// server to report ready. It guards against a hang, not a slow start: the
// wait ends as soon as /health and /readyz answer (or a process exits), and
// a machine busy with other builds may take several times the usual ten
// seconds, so the bound is generous.
const DefaultReadyTimeout = 5 * time.Minute

// Server is a running etcd plus kube-apiserver pair on loopback.
type Server struct {
	// Config is a client configuration for the admin user (token auth, the
	// server's CA pinned); copy it with rest.CopyConfig before changing it.
	Config *rest.Config
	// URL is the API server's https URL.
	URL string
	// EtcdURL is etcd's client URL.
	EtcdURL string
	// Kubeconfig is the path of a kubeconfig file for the admin user, handy
	// for running kubectl against the server while debugging a test.
	Kubeconfig string
	// Dir is the working directory holding certificates, keys, etcd data and
	// the two processes' logs (etcd.log, kube-apiserver.log).
	Dir string

	etcd, apiserver *process
}

// LaunchOptions configure [Launch].
type LaunchOptions struct {
	// Binaries are the programs to run, usually from [EnsureBinaries].
	Binaries Binaries
	// Dir is an empty, writable working directory owned by the caller.
	Dir string
	// ReadyTimeout bounds the wait for readiness; zero means
	// [DefaultReadyTimeout].
	ReadyTimeout time.Duration
}

// Start builds or reuses the binaries, launches a fresh etcd and API server
// for the test and stops them when the test ends. Any problem is a test
// failure carrying the build output or the processes' logs; it never skips.
func Start(t testing.TB) *Server {
	t.Helper()
	ctx := t.Context()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatalf("kubetest: finding the working directory: %v", err)
	}
	toolsDir, err := FindToolsDir(wd)
	if err != nil {
		t.Fatalf("kubetest: %v", err)
	}
	cacheRoot, err := DefaultCacheRoot(os.Getenv)
	if err != nil {
		t.Fatalf("kubetest: %v", err)
	}
	buildCtx := ctx
	if d, ok := t.(interface{ Deadline() (time.Time, bool) }); ok {
		if deadline, ok := d.Deadline(); ok {
			// Stop the build a little before `go test -timeout` would panic, so
			// the failure says what to do instead of dumping goroutines.
			var cancel context.CancelFunc
			buildCtx, cancel = context.WithDeadlineCause(ctx, deadline.Add(-30*time.Second), errors.New("the test deadline is near"))
			defer cancel()
		}
	}
	bins, err := EnsureBinaries(buildCtx, BuildOptions{ToolsDir: toolsDir, CacheRoot: cacheRoot, Progress: testWriter{t}})
	if err != nil {
		t.Fatalf("kubetest: %v", err)
	}
	began := time.Now()
	s, err := Launch(ctx, LaunchOptions{Binaries: bins, Dir: t.TempDir()})
	if err != nil {
		t.Fatalf("kubetest: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			if problems := tailProblems(s.apiserver.logPath, 15); problems != "" {
				t.Logf("kubetest: last warnings and errors of the API server:\n%s", problems)
			}
		}
		if err := s.Close(); err != nil {
			t.Errorf("kubetest: %v", err)
		}
	})
	t.Logf("kubetest: API server ready at %s in %s", s.URL, time.Since(began).Round(100*time.Millisecond))
	return s
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// Launch starts etcd and kube-apiserver in opts.Dir and returns once the API
// server's /readyz answers ok. The caller must call [Server.Close]. A port
// taken between choosing and binding it is retried a few times.
func Launch(ctx context.Context, opts LaunchOptions) (*Server, error) {
	if opts.ReadyTimeout == 0 {
		opts.ReadyTimeout = DefaultReadyTimeout
	}
	for _, p := range []string{opts.Binaries.APIServer, opts.Binaries.Etcd} {
		if _, err := os.Stat(p); err != nil {
			return nil, fmt.Errorf("starting the test API server: %w; run `make kube-bins` to build it", err)
		}
	}
	files, err := writeCredentials(opts.Dir)
	if err != nil {
		return nil, err
	}
	var lastErr error
	for attempt := 1; attempt <= 3; attempt++ {
		dir := filepath.Join(opts.Dir, "run"+strconv.Itoa(attempt))
		s, err := launchOnce(ctx, opts, files, dir)
		if err == nil {
			return s, nil
		}
		lastErr = err
		if !errors.Is(err, errPortTaken) {
			break
		}
	}
	return nil, lastErr
}

var errPortTaken = errors.New("a chosen port was taken")

type credentialFiles struct {
	token                       string
	tokenFile                   string
	certFile, keyFile           string
	saPublicFile, saPrivateFile string
	certPEM                     []byte
}

// writeCredentials makes a random admin token, a self-signed serving
// certificate for 127.0.0.1 and a service-account signing key pair.
func writeCredentials(dir string) (credentialFiles, error) {
	var c credentialFiles
	tokenBytes := make([]byte, 24)
	if _, err := rand.Read(tokenBytes); err != nil {
		return c, fmt.Errorf("making a test token: %w", err)
	}
	c.token = fmt.Sprintf("%x", tokenBytes)
	c.tokenFile = filepath.Join(dir, "tokens.csv")
	line := fmt.Sprintf("%s,%s,%s,\"system:masters\"\n", c.token, AdminUser, AdminUser)
	certPEM, keyPEM, err := certutil.GenerateSelfSignedCertKey("127.0.0.1", []net.IP{net.IPv4(127, 0, 0, 1)}, []string{"localhost"})
	if err != nil {
		return c, fmt.Errorf("making a serving certificate: %w", err)
	}
	c.certPEM = certPEM
	c.certFile = filepath.Join(dir, "serving.crt")
	c.keyFile = filepath.Join(dir, "serving.key")
	saKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return c, fmt.Errorf("making a service-account signing key: %w", err)
	}
	saPriv, err := x509.MarshalECPrivateKey(saKey)
	if err != nil {
		return c, fmt.Errorf("encoding the service-account signing key: %w", err)
	}
	saPub, err := x509.MarshalPKIXPublicKey(&saKey.PublicKey)
	if err != nil {
		return c, fmt.Errorf("encoding the service-account public key: %w", err)
	}
	c.saPrivateFile = filepath.Join(dir, "sa.key")
	c.saPublicFile = filepath.Join(dir, "sa.pub")
	writes := []struct {
		path string
		data []byte
	}{
		{c.tokenFile, []byte(line)},
		{c.certFile, certPEM},
		{c.keyFile, keyPEM},
		{c.saPrivateFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: saPriv})},
		{c.saPublicFile, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: saPub})},
	}
	for _, w := range writes {
		if err := os.WriteFile(w.path, w.data, 0o600); err != nil {
			return c, fmt.Errorf("writing %q: %w", w.path, err)
		}
	}
	return c, nil
}

// EtcdArgs returns etcd's command line for a single-member, loopback-only
// cluster storing data in dataDir. fsync is off: the data is thrown away.
func EtcdArgs(dataDir string, clientPort, peerPort int) []string {
	client := "http://127.0.0.1:" + strconv.Itoa(clientPort)
	peer := "http://127.0.0.1:" + strconv.Itoa(peerPort)
	return []string{
		"--name=kubetest",
		"--data-dir=" + dataDir,
		"--listen-client-urls=" + client,
		"--advertise-client-urls=" + client,
		"--listen-peer-urls=" + peer,
		"--initial-advertise-peer-urls=" + peer,
		"--initial-cluster=kubetest=" + peer,
		"--initial-cluster-state=new",
		"--unsafe-no-fsync=true",
		"--log-level=warn",
	}
}

// APIServerFlags returns kube-apiserver's command line. It keeps to what a
// loopback test server needs: token auth for a system:masters user, RBAC,
// service-account keys made by the test, no priority-and-fairness (slow to
// start) and no endpoint reconciler (there is no real network).
func APIServerFlags(etcdURL string, port int, certDir, certFile, keyFile, tokenFile, saPub, saPriv string) []string {
	return []string{
		"--etcd-servers=" + etcdURL,
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(port),
		"--cert-dir=" + certDir,
		"--tls-cert-file=" + certFile,
		"--tls-private-key-file=" + keyFile,
		"--token-auth-file=" + tokenFile,
		"--authorization-mode=RBAC",
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file=" + saPub,
		"--service-account-signing-key-file=" + saPriv,
		"--service-cluster-ip-range=10.96.0.0/16",
		"--enable-priority-and-fairness=false",
		"--endpoint-reconciler-type=none",
		"--allow-privileged=true",
		"--profiling=false",
	}
}

func launchOnce(ctx context.Context, opts LaunchOptions, c credentialFiles, dir string) (*Server, error) {
	if err := os.MkdirAll(filepath.Join(dir, "certs"), 0o700); err != nil {
		return nil, fmt.Errorf("creating %q: %w", dir, err)
	}
	ports, err := freePorts(3)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(opts.ReadyTimeout)
	s := &Server{Dir: dir}
	s.EtcdURL = "http://127.0.0.1:" + strconv.Itoa(ports[0])
	s.etcd, err = startProcess(opts.Binaries.Etcd, EtcdArgs(filepath.Join(dir, "etcd-data"), ports[0], ports[1]), filepath.Join(dir, "etcd.log"))
	if err != nil {
		return nil, err
	}
	httpClient := &http.Client{Timeout: 2 * time.Second}
	if err := waitReady(ctx, s.etcd, deadline, func() bool {
		return httpOK(httpClient, s.EtcdURL+"/health", "", `"health":"true"`)
	}); err != nil {
		_ = s.Close()
		return nil, err
	}

	s.URL = "https://127.0.0.1:" + strconv.Itoa(ports[2])
	flags := APIServerFlags(s.EtcdURL, ports[2], filepath.Join(dir, "certs"), c.certFile, c.keyFile, c.tokenFile, c.saPublicFile, c.saPrivateFile)
	s.apiserver, err = startProcess(opts.Binaries.APIServer, flags, filepath.Join(dir, "kube-apiserver.log"))
	if err != nil {
		_ = s.Close()
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(c.certPEM) {
		_ = s.Close()
		return nil, errors.New("starting the test API server: the generated serving certificate does not parse")
	}
	tlsClient := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	if err := waitReady(ctx, s.apiserver, deadline, func() bool {
		return httpOK(tlsClient, s.URL+"/readyz", c.token, "ok")
	}); err != nil {
		_ = s.Close()
		return nil, err
	}

	s.Config = &rest.Config{
		Host:            s.URL,
		BearerToken:     c.token,
		TLSClientConfig: rest.TLSClientConfig{CAData: c.certPEM},
		QPS:             200,
		Burst:           400,
		Timeout:         30 * time.Second,
	}
	s.Kubeconfig = filepath.Join(dir, "kubeconfig")
	if err := writeKubeconfig(s.Kubeconfig, s.URL, c.token, c.certPEM); err != nil {
		_ = s.Close()
		return nil, err
	}
	return s, nil
}

func writeKubeconfig(path, url, token string, ca []byte) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["kubetest"] = &clientcmdapi.Cluster{Server: url, CertificateAuthorityData: ca}
	cfg.AuthInfos["admin"] = &clientcmdapi.AuthInfo{Token: token}
	cfg.Contexts["kubetest"] = &clientcmdapi.Context{Cluster: "kubetest", AuthInfo: "admin"}
	cfg.CurrentContext = "kubetest"
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		return fmt.Errorf("writing kubeconfig %q: %w", path, err)
	}
	return nil
}

// Close stops the API server, then etcd, each with SIGTERM and, after ten
// seconds, SIGKILL. It is safe to call more than once.
func (s *Server) Close() error {
	var errs []error
	for _, p := range []*process{s.apiserver, s.etcd} {
		if p != nil {
			if err := p.stop(10 * time.Second); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// Pids returns the process ids of the API server and etcd, for tests that
// check they are gone after Close.
func (s *Server) Pids() (apiserver, etcd int) {
	if s.apiserver != nil {
		apiserver = s.apiserver.cmd.Process.Pid
	}
	if s.etcd != nil {
		etcd = s.etcd.cmd.Process.Pid
	}
	return apiserver, etcd
}

type process struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	logFile *os.File
	done    chan struct{}
	waitErr error
	stopped bool
}

func startProcess(bin string, args []string, logPath string) (*process, error) {
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("creating log %q: %w", logPath, err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("starting %q: %w", bin, err)
	}
	p := &process{name: filepath.Base(bin), cmd: cmd, logPath: logPath, logFile: logFile, done: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		logFile.Close()
		close(p.done)
	}()
	return p, nil
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (p *process) stop(grace time.Duration) error {
	if p.stopped {
		return nil
	}
	p.stopped = true
	if p.exited() {
		return nil
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.done:
		return nil
	case <-time.After(grace):
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	select {
	case <-p.done:
		return nil
	case <-time.After(5 * time.Second):
		return fmt.Errorf("stopping %s (pid %d): it did not exit after SIGKILL", p.name, p.cmd.Process.Pid)
	}
}

func waitReady(ctx context.Context, p *process, deadline time.Time, ready func() bool) error {
	for {
		if ready() {
			return nil
		}
		if p.exited() {
			log := tail(p.logPath, 40)
			err := fmt.Errorf("starting %s: it exited before becoming ready (%v); last lines of %q:\n%s", p.name, p.waitErr, p.logPath, log)
			if strings.Contains(log, "address already in use") {
				return errors.Join(errPortTaken, err)
			}
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("starting %s: not ready after waiting until %s; last lines of %q:\n%s", p.name, deadline.Format(time.TimeOnly), p.logPath, tail(p.logPath, 40))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("starting %s: %w", p.name, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func httpOK(c *http.Client, url, token, want string) bool {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return false
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.StatusCode == http.StatusOK && bytes.Contains(body, []byte(want))
}

func freePorts(n int) ([]int, error) {
	var ports []int
	var listeners []net.Listener
	defer func() {
		for _, l := range listeners {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("finding a free loopback port: %w", err)
		}
		listeners = append(listeners, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// tailProblems returns the last n warning or error lines (klog's W and E
// prefixes) of a log, which is what helps when a test against the server
// fails; informational lines are left out.
func tailProblems(path string, n int) string {
	var keep []string
	for _, line := range strings.Split(tail(path, 100000), "\n") {
		if len(line) > 1 && (line[0] == 'W' || line[0] == 'E') && line[1] >= '0' && line[1] <= '9' {
			keep = append(keep, line)
		}
	}
	if len(keep) > n {
		keep = keep[len(keep)-n:]
	}
	return strings.Join(keep, "\n")
}

func tail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("(cannot read %q: %v)", path, err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n")
}
