package charts

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"
	"helm.sh/helm/v3/pkg/getter"
	"helm.sh/helm/v3/pkg/registry"
	"helm.sh/helm/v3/pkg/repo"
	"sigs.k8s.io/yaml"
)

// FetcherOptions configures [NewHelmFetcher].
type FetcherOptions struct {
	// Transport is the HTTP transport for chart repositories; nil uses
	// Helm's default (proxy from the environment).
	Transport *http.Transport
	// HTTPClient is the client for OCI registries; nil uses Helm's default.
	HTTPClient *http.Client
	// PlainHTTP talks to OCI registries over plain HTTP (a registry on
	// loopback, like "helm pull --plain-http").
	PlainHTTP bool
	// RegistryConfig is the registry credentials file; empty uses Helm's
	// default (~/.config/helm/registry/config.json, then Docker's).
	RegistryConfig string
	// Timeout bounds each HTTP request to a chart repository; 0 means 2 minutes.
	Timeout time.Duration
}

// HelmFetcher fetches charts with Helm's own getters: a chart repository's
// index.yaml and archive URLs for https:// repositories, Helm's registry
// client for oci:// ones.
type HelmFetcher struct {
	http     getter.Getter
	registry *registry.Client
}

// NewHelmFetcher builds the real [Fetcher]. It is meant for the edge of the
// program (the CLI); tests point it at servers on loopback.
func NewHelmFetcher(opts FetcherOptions) (*HelmFetcher, error) {
	timeout := opts.Timeout
	if timeout == 0 {
		timeout = 2 * time.Minute
	}
	gopts := []getter.Option{getter.WithTimeout(timeout), getter.WithUserAgent("coderfleet")}
	if opts.Transport != nil {
		gopts = append(gopts, getter.WithTransport(opts.Transport))
	}
	hg, err := getter.NewHTTPGetter(gopts...)
	if err != nil {
		return nil, fmt.Errorf("creating chart repository client: %w", err)
	}
	ropts := []registry.ClientOption{registry.ClientOptEnableCache(true)}
	if opts.PlainHTTP {
		ropts = append(ropts, registry.ClientOptPlainHTTP())
	}
	if opts.HTTPClient != nil {
		ropts = append(ropts, registry.ClientOptHTTPClient(opts.HTTPClient))
	}
	if opts.RegistryConfig != "" {
		ropts = append(ropts, registry.ClientOptCredentialsFile(opts.RegistryConfig))
	}
	rc, err := registry.NewClient(ropts...)
	if err != nil {
		return nil, fmt.Errorf("creating OCI registry client: %w", err)
	}
	return &HelmFetcher{http: hg, registry: rc}, nil
}

// Fetch implements [Fetcher].
func (f *HelmFetcher) Fetch(ctx context.Context, ch Chart) (*Archive, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if ch.IsOCI() {
		return f.fetchOCI(ch)
	}
	return f.fetchHTTP(ch)
}

func (f *HelmFetcher) fetchOCI(ch Chart) (*Archive, error) {
	// OCI tags cannot hold '+', so Helm stores build metadata as '_'.
	ref := strings.TrimSuffix(strings.TrimPrefix(ch.Repository, "oci://"), "/") + "/" + ch.Name + ":" + strings.ReplaceAll(ch.Version, "+", "_")
	res, err := f.registry.Pull(ref, registry.PullOptWithChart(true))
	if err != nil {
		return nil, fmt.Errorf("pulling %s: %w", ref, err)
	}
	if res.Chart == nil || len(res.Chart.Data) == 0 {
		return nil, fmt.Errorf("pulling %s: the manifest has no chart layer", ref)
	}
	if !sameDigest(res.Chart.Digest, res.Chart.Data) {
		return nil, fmt.Errorf("pulling %s: the chart layer's content does not match its digest %s", ref, res.Chart.Digest)
	}
	return &Archive{Data: res.Chart.Data, ManifestDigest: res.Manifest.Digest}, nil
}

func (f *HelmFetcher) fetchHTTP(ch Chart) (*Archive, error) {
	base := strings.TrimSuffix(ch.Repository, "/")
	indexURL := base + "/index.yaml"
	buf, err := f.http.Get(indexURL)
	if err != nil {
		return nil, fmt.Errorf("downloading %s: %w", indexURL, err)
	}
	var idx repo.IndexFile
	if err := yaml.Unmarshal(buf.Bytes(), &idx); err != nil {
		return nil, fmt.Errorf("parsing %s: %w", indexURL, err)
	}
	if idx.APIVersion == "" {
		return nil, fmt.Errorf("parsing %s: no apiVersion: is this a Helm chart repository?", indexURL)
	}
	cv := findVersion(idx.Entries[ch.Name], ch.Version)
	if cv == nil {
		return nil, fmt.Errorf("%s has no chart %q at version %s (check the name and version in %s)", indexURL, ch.Name, ch.Version, ConfigFile)
	}
	if len(cv.URLs) == 0 {
		return nil, fmt.Errorf("%s lists chart %q %s without a download URL", indexURL, ch.Name, ch.Version)
	}
	archiveURL, err := repo.ResolveReferenceURL(base, cv.URLs[0])
	if err != nil {
		return nil, fmt.Errorf("resolving the URL of chart %q %s: %w", ch.Name, ch.Version, err)
	}
	data, err := f.http.Get(archiveURL)
	if err != nil {
		return nil, fmt.Errorf("downloading %s: %w", archiveURL, err)
	}
	if cv.Digest != "" && !sameDigest(cv.Digest, data.Bytes()) {
		return nil, fmt.Errorf("%s does not match the digest %s published in %s (got %s)", archiveURL, cv.Digest, indexURL, sha256Digest(data.Bytes()))
	}
	return &Archive{Data: data.Bytes()}, nil
}

// findVersion returns the entry whose version is exactly version, or, failing
// that, semantically equal to it (1.2.3 and v1.2.3); never a range match.
func findVersion(vs repo.ChartVersions, version string) *repo.ChartVersion {
	for _, cv := range vs {
		if cv != nil && cv.Metadata != nil && cv.Version == version {
			return cv
		}
	}
	want, err := semver.NewVersion(version)
	if err != nil {
		return nil
	}
	for _, cv := range vs {
		if cv == nil || cv.Metadata == nil {
			continue
		}
		if got, err := semver.NewVersion(cv.Version); err == nil && got.Equal(want) && got.Metadata() == want.Metadata() {
			return cv
		}
	}
	return nil
}
