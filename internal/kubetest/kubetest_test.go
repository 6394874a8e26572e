package kubetest

import (
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
