package chartstest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/distribution/distribution/v3/configuration"
	"github.com/distribution/distribution/v3/registry/handlers"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/inmemory" // the registry's storage
	"github.com/sirupsen/logrus"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/registry"
	"helm.sh/helm/v3/pkg/repo"
	"sigs.k8s.io/yaml"
)

// Package packages the chart folder dir as Helm would ("helm package"),
// with its version set to version when not empty, and returns the archive.
func Package(t testing.TB, dir, version string) []byte {
	t.Helper()
	return PackageModified(t, dir, version, nil)
}

// PackageModified is [Package] with a change to the loaded chart (its
// metadata, values or files) before it is packaged.
func PackageModified(t testing.TB, dir, version string, modify func(*chart.Chart)) []byte {
	t.Helper()
	c, err := loader.LoadDir(dir)
	if err != nil {
		t.Fatalf("loading chart %q: %v", dir, err)
	}
	if version != "" {
		c.Metadata.Version = version
	}
	if modify != nil {
		modify(c)
	}
	out := t.TempDir()
	p, err := chartutil.Save(c, out)
	if err != nil {
		t.Fatalf("packaging chart %q: %v", dir, err)
	}
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("reading packaged chart: %v", err)
	}
	return data
}

// Repo is a Helm chart repository served over HTTP on loopback.
type Repo struct {
	// URL is the repository URL to put in charts.yaml.
	URL string

	mu       sync.Mutex
	index    *repo.IndexFile
	files    map[string][]byte // archive file name -> bytes served
	requests map[string]int    // path -> count
}

// NewRepo starts an empty chart repository.
func NewRepo(t testing.TB) *Repo {
	t.Helper()
	r := &Repo{index: repo.NewIndexFile(), files: map[string][]byte{}, requests: map[string]int{}}
	srv := httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(srv.Close)
	r.URL = srv.URL + "/charts"
	return r
}

func (r *Repo) serve(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	defer r.mu.Unlock()
	name := strings.TrimPrefix(req.URL.Path, "/charts/")
	r.requests[name]++
	if name == "index.yaml" {
		r.index.SortEntries()
		b, err := yaml.Marshal(r.index)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		_, _ = w.Write(b)
		return
	}
	data, ok := r.files[name]
	if !ok {
		http.NotFound(w, req)
		return
	}
	_, _ = w.Write(data)
}

// Add publishes archive under its chart's name and version, with its
// sha256 digest in index.yaml, and returns the archive's file name.
func (r *Repo) Add(t testing.TB, archive []byte) string {
	t.Helper()
	c, err := loader.LoadArchive(strings.NewReader(string(archive)))
	if err != nil {
		t.Fatalf("reading archive: %v", err)
	}
	fname := fmt.Sprintf("%s-%s.tgz", c.Name(), c.Metadata.Version)
	sum := sha256.Sum256(archive)
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.index.MustAdd(c.Metadata, fname, "", hex.EncodeToString(sum[:])); err != nil {
		t.Fatalf("indexing %s: %v", fname, err)
	}
	r.files[fname] = archive
	return fname
}

// Tamper replaces the bytes served for fname without touching index.yaml,
// as a compromised mirror would.
func (r *Repo) Tamper(fname string, data []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.files[fname] = data
}

// Republish replaces a published version's archive and its index digest,
// as a repository that rewrites history would.
func (r *Repo) Republish(t testing.TB, archive []byte) {
	t.Helper()
	c, err := loader.LoadArchive(strings.NewReader(string(archive)))
	if err != nil {
		t.Fatalf("reading archive: %v", err)
	}
	r.mu.Lock()
	vs := r.index.Entries[c.Name()]
	kept := vs[:0]
	for _, v := range vs {
		if v.Version != c.Metadata.Version {
			kept = append(kept, v)
		}
	}
	r.index.Entries[c.Name()] = kept
	r.mu.Unlock()
	r.Add(t, archive)
}

// Requests returns how many times path (relative to the repository URL,
// for example "index.yaml" or "demo-1.0.0.tgz") was requested.
func (r *Repo) Requests(path string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.requests[path]
}

// Registry is an OCI registry served over plain HTTP on loopback.
type Registry struct {
	// Host is host:port of the registry.
	Host string
	// URL is "oci://<host>/charts", the repository to put in charts.yaml.
	URL string

	client *registry.Client
}

// NewRegistry starts an empty in-memory OCI registry.
func NewRegistry(t testing.TB) *Registry {
	t.Helper()
	logrus.SetLevel(logrus.ErrorLevel)
	logrus.SetOutput(io.Discard)
	cfg := &configuration.Configuration{}
	cfg.Storage = configuration.Storage{"inmemory": configuration.Parameters{}}
	cfg.Log.AccessLog.Disabled = true
	app := handlers.NewApp(context.Background(), cfg)
	srv := httptest.NewServer(app)
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	c, err := registry.NewClient(registry.ClientOptPlainHTTP(), registry.ClientOptCredentialsFile(filepath.Join(t.TempDir(), "config.json")))
	if err != nil {
		t.Fatalf("creating registry client: %v", err)
	}
	return &Registry{Host: host, URL: "oci://" + host + "/charts", client: c}
}

// Push pushes archive as <host>/charts/<name>:<version> with Helm's registry
// client and returns the manifest digest.
func (g *Registry) Push(t testing.TB, archive []byte) string {
	t.Helper()
	c, err := loader.LoadArchive(strings.NewReader(string(archive)))
	if err != nil {
		t.Fatalf("reading archive: %v", err)
	}
	ref := fmt.Sprintf("%s/charts/%s:%s", g.Host, c.Name(), strings.ReplaceAll(c.Metadata.Version, "+", "_"))
	res, err := g.client.Push(archive, ref, registry.PushOptStrictMode(true))
	if err != nil {
		t.Fatalf("pushing %s: %v", ref, err)
	}
	return res.Manifest.Digest
}
