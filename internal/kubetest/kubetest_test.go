package kubetest

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"testing/fstest"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

func toolsFS() fstest.MapFS {
	return fstest.MapFS{
		"go.mod":                 {Data: []byte("module x\n")},
		"go.sum":                 {Data: []byte("a v1 h1:x\n")},
		"kube-apiserver/main.go": {Data: []byte("package main\n")},
		"etcd/main.go":           {Data: []byte("package main\n")},
		"README.md":              {Data: []byte("not an input\n")},
	}
}

func TestCacheKeyChangesWithEveryInput(t *testing.T) {
	tc := Toolchain{GoVersion: "go1.26.8", GOOS: "linux", GOARCH: "amd64"}
	base, err := CacheKey(toolsFS(), tc)
	if err != nil {
		t.Fatal(err)
	}
	again, err := CacheKey(toolsFS(), tc)
	if err != nil {
		t.Fatal(err)
	}
	if base != again {
		t.Fatalf("same inputs gave different keys %s and %s", base, again)
	}
	seen := map[string]string{base: "base"}
	for _, name := range ToolsInputs {
		fsys := toolsFS()
		fsys[name] = &fstest.MapFile{Data: append(fsys[name].Data, '\n')}
		k, err := CacheKey(fsys, tc)
		if err != nil {
			t.Fatal(err)
		}
		if prev, dup := seen[k]; dup {
			t.Errorf("changing %s gave the same key as %s", name, prev)
		}
		seen[k] = name
	}
	fsys := toolsFS()
	fsys["README.md"] = &fstest.MapFile{Data: []byte("changed")}
	if k, _ := CacheKey(fsys, tc); k != base {
		t.Errorf("a file that is not an input changed the key")
	}
	for _, other := range []Toolchain{{"go1.27.0", "linux", "amd64"}, {"go1.26.8", "darwin", "amd64"}, {"go1.26.8", "linux", "arm64"}} {
		if k, _ := CacheKey(toolsFS(), other); k == base {
			t.Errorf("toolchain %+v gave the same key as %+v", other, tc)
		}
	}
	missing := toolsFS()
	delete(missing, "etcd/main.go")
	if _, err := CacheKey(missing, tc); err == nil || !strings.Contains(err.Error(), `"etcd/main.go"`) {
		t.Errorf("missing input: got error %v, want one naming \"etcd/main.go\"", err)
	}
}

func TestDefaultCacheRoot(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	got, err := DefaultCacheRoot(env(map[string]string{"XDG_CACHE_HOME": "/c", "HOME": "/h"}))
	if err != nil || got != filepath.FromSlash("/c/coderfleet/kube") {
		t.Errorf("with XDG_CACHE_HOME: got %q, %v", got, err)
	}
	got, err = DefaultCacheRoot(env(map[string]string{"HOME": "/h"}))
	if err != nil || got != filepath.FromSlash("/h/.cache/coderfleet/kube") {
		t.Errorf("with HOME only: got %q, %v", got, err)
	}
	if _, err := DefaultCacheRoot(env(nil)); err == nil {
		t.Error("with neither set: want an error")
	}
	if _, err := DefaultCacheRoot(env(map[string]string{"XDG_CACHE_HOME": "rel"})); err == nil {
		t.Error("with a relative XDG_CACHE_HOME: want an error")
	}
}

func TestFindToolsDir(t *testing.T) {
	dir, err := FindToolsDir(".")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "kube-apiserver", "main.go")); err != nil {
		t.Errorf("FindToolsDir returned %q without kube-apiserver/main.go: %v", dir, err)
	}
	if _, err := FindToolsDir(t.TempDir()); err == nil || !strings.Contains(err.Error(), "tools/kube/go.mod") {
		t.Errorf("outside the repository: got %v, want an error naming tools/kube/go.mod", err)
	}
}

func TestStartServesTheAPIAndStopsOnCleanup(t *testing.T) {
	var s *Server
	var apiPid, etcdPid int
	t.Run("running", func(t *testing.T) {
		s = Start(t)
		apiPid, etcdPid = s.Pids()
		cs, err := kubernetes.NewForConfig(s.Config)
		if err != nil {
			t.Fatal(err)
		}
		v, err := cs.Discovery().ServerVersion()
		if err != nil {
			t.Fatalf("server version: %v", err)
		}
		if v.Major != "1" || v.Minor != "37" {
			t.Errorf("server version %s.%s, want 1.37 (the tools module pins k8s.io/kubernetes v1.37.2)", v.Major, v.Minor)
		}
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "kubetest"}}
		if _, err := cs.CoreV1().Namespaces().Create(t.Context(), ns, metav1.CreateOptions{}); err != nil {
			t.Fatalf("creating a namespace as the admin user: %v", err)
		}
		got, err := cs.CoreV1().Namespaces().Get(t.Context(), "kubetest", metav1.GetOptions{})
		if err != nil || got.Name != "kubetest" {
			t.Fatalf("reading the namespace back: %v", err)
		}

		bad := rest.CopyConfig(s.Config)
		bad.BearerToken = "not-the-token"
		badCS, err := kubernetes.NewForConfig(bad)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := badCS.CoreV1().Namespaces().List(t.Context(), metav1.ListOptions{}); !apierrors.IsUnauthorized(err) {
			t.Errorf("a wrong token: got %v, want 401 Unauthorized", err)
		}
		if _, err := os.Stat(s.Kubeconfig); err != nil {
			t.Errorf("kubeconfig: %v", err)
		}
	})
	if s == nil || apiPid == 0 || etcdPid == 0 {
		t.Fatal("the server did not start")
	}
	for _, pid := range []int{apiPid, etcdPid} {
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("process %d still exists after cleanup (kill -0: %v)", pid, err)
		}
	}
	for _, u := range []string{s.URL, s.EtcdURL} {
		host := u[strings.Index(u, "//")+2:]
		if c, err := net.DialTimeout("tcp", host, time.Second); err == nil {
			c.Close()
			t.Errorf("%s still accepts connections after cleanup", u)
		}
	}
}

// writeToyTools writes a tools module whose two mains build in a second, to
// exercise the build-and-cache logic with the real go tool.
func writeToyTools(t *testing.T, marker string) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"go.mod":                 "module example.com/toytools\n\ngo 1.26\n",
		"go.sum":                 "",
		"kube-apiserver/main.go": "package main\n\nfunc main() { println(\"" + marker + "\") }\n",
		"etcd/main.go":           "package main\n\nfunc main() {}\n",
	}
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

type lines struct{ b strings.Builder }

func (l *lines) Write(p []byte) (int, error) { return l.b.Write(p) }

func TestEnsureBinariesBuildsOnceAndRebuildsOnChange(t *testing.T) {
	cache := t.TempDir()
	tools := writeToyTools(t, "one")
	var log1 lines
	b1, err := EnsureBinaries(t.Context(), BuildOptions{ToolsDir: tools, CacheRoot: cache, Progress: &log1})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log1.b.String(), "building kube-apiserver and etcd") {
		t.Errorf("first call did not report a build: %q", log1.b.String())
	}
	for _, p := range []string{b1.APIServer, b1.Etcd} {
		if !strings.HasPrefix(p, cache+string(filepath.Separator)) {
			t.Errorf("binary %q is outside the cache %q", p, cache)
		}
		if st, err := os.Stat(p); err != nil || st.Mode().Perm()&0o100 == 0 {
			t.Errorf("binary %q missing or not executable: %v", p, err)
		}
	}

	var log2 lines
	b2, err := EnsureBinaries(t.Context(), BuildOptions{ToolsDir: tools, CacheRoot: cache, Progress: &log2})
	if err != nil {
		t.Fatal(err)
	}
	if b2 != b1 || log2.b.Len() != 0 {
		t.Errorf("second call rebuilt (%q) or moved the binaries (%v vs %v)", log2.b.String(), b2, b1)
	}

	if err := os.WriteFile(filepath.Join(tools, "kube-apiserver", "main.go"), []byte("package main\n\nfunc main() { println(\"two\") }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	b3, err := EnsureBinaries(t.Context(), BuildOptions{ToolsDir: tools, CacheRoot: cache})
	if err != nil {
		t.Fatal(err)
	}
	if b3.APIServer == b1.APIServer {
		t.Errorf("a changed main.go reused the old cache entry %q", b1.APIServer)
	}
	entries, _ := os.ReadDir(cache)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".building-") {
			t.Errorf("leftover build directory %q", e.Name())
		}
	}
}

func TestEnsureBinariesReportsBuildFailures(t *testing.T) {
	tools := writeToyTools(t, "x")
	if err := os.WriteFile(filepath.Join(tools, "etcd", "main.go"), []byte("package main\n\nfunc main() { undefinedThing() }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := EnsureBinaries(t.Context(), BuildOptions{ToolsDir: tools, CacheRoot: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "undefinedThing") || !strings.Contains(err.Error(), "make kube-bins") {
		t.Errorf("got %v, want the compiler's output and a hint", err)
	}

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = EnsureBinaries(ctx, BuildOptions{ToolsDir: writeToyTools(t, "y"), CacheRoot: t.TempDir()})
	if err == nil {
		t.Error("a cancelled build: want an error")
	}

	_, err = EnsureBinaries(t.Context(), BuildOptions{ToolsDir: tools, CacheRoot: t.TempDir(), GoCommand: "no-such-go-tool"})
	if err == nil || !strings.Contains(err.Error(), "no-such-go-tool") {
		t.Errorf("missing go tool: got %v", err)
	}
}
