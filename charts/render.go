package charts

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"helm.sh/helm/v3/pkg/releaseutil"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// HookMode says what happens to a chart's Helm hooks.
type HookMode string

// The hook modes. Test hooks (helm.sh/hook: test, test-success,
// test-failure) are always dropped, and so are hooks that fire only on
// delete or rollback: nothing runs them outside Helm.
const (
	// HooksInclude keeps hooks that fire on install or upgrade as ordinary
	// objects, with their helm.sh/hook* annotations removed (what
	// "helm template" would print, minus annotations no one acts on). It is
	// the default.
	HooksInclude HookMode = "include"
	// HooksExclude drops every hook ("helm template --no-hooks").
	HooksExclude HookMode = "exclude"
)

// Request is one render of a vendored chart.
type Request struct {
	// ReleaseName is .Release.Name.
	ReleaseName string
	// Chart is the chart's name in charts.yaml.
	Chart string
	// Values override the chart's values.yaml.
	Values map[string]any
	// Namespace is .Release.Namespace, and is set on every namespaced object
	// that does not name its own.
	Namespace string
	// KubeVersion is .Capabilities.KubeVersion (for example "1.31.0"); it is
	// also checked against the chart's kubeVersion constraint.
	KubeVersion string
	// APIVersions are added to Helm's built-in set of API versions for
	// .Capabilities.APIVersions.Has (as "helm template --api-versions").
	APIVersions []string
	// ExcludeCRDs leaves out the files of the chart's crds/ folder.
	ExcludeCRDs bool
	// Hooks is the hook mode; empty means HooksInclude.
	Hooks HookMode
	// ClusterScopedKinds names kinds, besides the built-in cluster-scoped
	// ones and those of the chart's own cluster-scoped CRDs, that get no
	// namespace.
	ClusterScopedKinds []string
}

// ChartInfo describes the vendored chart a result came from.
type ChartInfo struct {
	Name           string   `json:"name"`
	Version        string   `json:"version"`
	Repository     string   `json:"repository"`
	Delivery       Delivery `json:"delivery"`
	OCI            bool     `json:"oci"`
	ArchiveDigest  string   `json:"archiveDigest"`
	ManifestDigest string   `json:"manifestDigest,omitempty"`
}

// Result is a rendered chart: plain Kubernetes objects, sorted by kind,
// namespace and name.
type Result struct {
	// Chart describes the chart rendered.
	Chart ChartInfo `json:"chart"`
	// Resources are the chart's objects, hooks and CRDs excluded.
	Resources []map[string]any `json:"resources"`
	// CRDs are every CustomResourceDefinition: those of the crds/ folders
	// (of the chart and its subcharts) and any the templates produce. The
	// caller puts them in a component of their own, applied first.
	CRDs []map[string]any `json:"crds"`
}

// Renderer renders vendored charts. It is safe for concurrent use, and
// renders each distinct request once: later identical requests, from any
// region or goroutine, get the memoized result.
type Renderer struct {
	v *Vendored
	// folder is the charts folder as the repository names it
	// ("templates/charts"), for messages.
	folder string

	mu      sync.Mutex
	memo    map[string]*memoEntry
	renders atomic.Int64
}

type memoEntry struct {
	once sync.Once
	out  []byte // JSON of the Result
	err  error
}

// NewRenderer verifies templates/charts against charts.lock (see [Verify])
// and returns a renderer over the verified files. It fails with a
// *MismatchError when they do not match, so every render checks the lock.
func NewRenderer(fsys filesys.FileSystem, templatesDir string) (*Renderer, error) {
	v, err := Verify(fsys, templatesDir)
	if err != nil {
		return nil, err
	}
	return &Renderer{v: v, folder: displayFolder(templatesDir), memo: map[string]*memoEntry{}}, nil
}

// Template renders req, or returns the memoized result of an identical
// request. The result is the caller's to modify.
func (r *Renderer) Template(req Request) (*Result, error) {
	data, err := r.templateJSON(req)
	if err != nil {
		return nil, err
	}
	var res Result
	if err := json.Unmarshal(data, &res); err != nil {
		return nil, fmt.Errorf("decoding memoized render: %w", err)
	}
	return &res, nil
}

func (r *Renderer) templateJSON(req Request) ([]byte, error) {
	if req.Hooks == "" {
		req.Hooks = HooksInclude
	}
	if err := r.checkRequest(req); err != nil {
		return nil, err
	}
	key, err := r.memoKey(req)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	e, ok := r.memo[key]
	if !ok {
		e = &memoEntry{}
		r.memo[key] = e
	}
	r.mu.Unlock()
	e.once.Do(func() {
		r.renders.Add(1)
		var res *Result
		res, e.err = r.render(req)
		if e.err == nil {
			e.out, e.err = json.Marshal(res)
		}
	})
	return e.out, e.err
}

func (r *Renderer) checkRequest(req Request) error {
	if req.ReleaseName == "" {
		return fmt.Errorf("rendering chart %q: the release name is empty", req.Chart)
	}
	if err := chartutil.ValidateReleaseName(req.ReleaseName); err != nil {
		return fmt.Errorf("rendering chart %q: release name %q: %w", req.Chart, req.ReleaseName, err)
	}
	if _, ok := r.v.trees[req.Chart]; !ok {
		names := make([]string, 0, len(r.v.trees))
		for n := range r.v.trees {
			names = append(names, n)
		}
		sort.Strings(names)
		return fmt.Errorf("rendering release %q: chart %q is not vendored (vendored: %s); list it in %s and run \"coderfleet vendor\"",
			req.ReleaseName, req.Chart, strings.Join(names, ", "), path.Join(r.folder, ConfigFile))
	}
	if req.Namespace == "" {
		return fmt.Errorf("rendering chart %q (release %q): the namespace is empty", req.Chart, req.ReleaseName)
	}
	if req.KubeVersion == "" {
		return fmt.Errorf("rendering chart %q (release %q): the Kubernetes version is empty: pass the region's version, such as \"1.31.0\"", req.Chart, req.ReleaseName)
	}
	if _, err := chartutil.ParseKubeVersion(req.KubeVersion); err != nil {
		return fmt.Errorf("rendering chart %q (release %q): Kubernetes version %q: %w", req.Chart, req.ReleaseName, req.KubeVersion, err)
	}
	switch req.Hooks {
	case HooksInclude, HooksExclude:
	default:
		return fmt.Errorf("rendering chart %q (release %q): hooks %q is not %q or %q", req.Chart, req.ReleaseName, req.Hooks, HooksInclude, HooksExclude)
	}
	return nil
}

// memoKey identifies a render: the chart's tree digest plus every input.
func (r *Renderer) memoKey(req Request) (string, error) {
	lc, _ := r.v.Lock.Lookup(req.Chart)
	k := struct {
		Tree string
		Req  Request
	}{lc.TreeDigest, req}
	k.Req.APIVersions = sortedUnique(req.APIVersions)
	k.Req.ClusterScopedKinds = sortedUnique(req.ClusterScopedKinds)
	b, err := json.Marshal(k) // map keys are sorted, so equal values give equal bytes
	if err != nil {
		return "", fmt.Errorf("rendering chart %q (release %q): values are not JSON: %w", req.Chart, req.ReleaseName, err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// Renders returns how many renders the renderer actually ran (memoized
// requests are not counted).
func (r *Renderer) Renders() int64 { return r.renders.Load() }

// Charts returns what the renderer knows of each vendored chart, sorted by name.
func (r *Renderer) Charts() []ChartInfo {
	var out []ChartInfo
	for _, ch := range r.v.Config.Charts {
		out = append(out, r.info(ch.Name))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func (r *Renderer) info(name string) ChartInfo {
	ch, _ := r.v.Config.Lookup(name)
	lc, _ := r.v.Lock.Lookup(name)
	return ChartInfo{
		Name: ch.Name, Version: ch.Version, Repository: ch.Repository, Delivery: ch.Delivery, OCI: ch.IsOCI(),
		ArchiveDigest: lc.ArchiveDigest, ManifestDigest: lc.ManifestDigest,
	}
}

func (r *Renderer) render(req Request) (*Result, error) {
	label := fmt.Sprintf("chart %q (release %q)", req.Chart, req.ReleaseName)
	// Load a fresh chart for every render: dependency processing edits it.
	c, err := r.load(req.Chart)
	if err != nil {
		return nil, fmt.Errorf("loading %s: %w", label, err)
	}
	if strings.EqualFold(c.Metadata.Type, "library") {
		return nil, fmt.Errorf("%s is a library chart and cannot be rendered", label)
	}
	caps, err := capabilities(req)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", label, err)
	}
	if kv := c.Metadata.KubeVersion; kv != "" && !chartutil.IsCompatibleRange(kv, caps.KubeVersion.String()) {
		return nil, fmt.Errorf("%s requires Kubernetes %s, but the region's version is %s", label, kv, caps.KubeVersion.String())
	}
	vals := req.Values
	if vals == nil {
		vals = map[string]any{}
	}
	if err := checkDependencies(c); err != nil {
		return nil, fmt.Errorf("%s: %w", label, err)
	}
	if err := chartutil.ProcessDependenciesWithMerge(c, vals); err != nil {
		return nil, fmt.Errorf("processing the dependencies of %s: %w", label, err)
	}
	top, err := chartutil.ToRenderValuesWithSchemaValidation(c, vals, chartutil.ReleaseOptions{
		Name: req.ReleaseName, Namespace: req.Namespace, Revision: 1, IsInstall: true,
	}, caps, true)
	if err != nil {
		return nil, fmt.Errorf("preparing the values of %s: %w", label, err)
	}
	coalesced, err := jsonShape(top["Values"])
	if err != nil {
		return nil, fmt.Errorf("preparing the values of %s: %w", label, err)
	}
	if err := validateValues(c, coalesced, req.ReleaseName); err != nil {
		return nil, err
	}

	// No client: "lookup" returns an empty map, as in "helm template"; DNS
	// lookups are off. Render twice: a chart that generates random secrets,
	// certificates or timestamps would make every render differ.
	vendored := r.vendoredPaths(req.Chart)
	files, err := engine.Engine{}.Render(c, top)
	if err != nil {
		return nil, fmt.Errorf("rendering %s: %s%s", label, vendored.Replace(err.Error()), templateHint)
	}
	again, err := engine.Engine{}.Render(c, top)
	if err != nil {
		return nil, fmt.Errorf("rendering %s: %s%s", label, vendored.Replace(err.Error()), templateHint)
	}
	for name, content := range files {
		if again[name] != content {
			return nil, fmt.Errorf("rendering %s: %s renders differently each time (random values, generated certificates or the time): set the values that make it stable", label, vendored.Replace(name))
		}
	}

	res := &Result{Chart: r.info(req.Chart), Resources: []map[string]any{}, CRDs: []map[string]any{}}
	if !req.ExcludeCRDs {
		for _, crd := range c.CRDObjects() {
			objs, err := parseManifests(vendored.Replace(crd.Filename), string(crd.File.Data))
			if err != nil {
				return nil, fmt.Errorf("%s: %w", label, err)
			}
			res.CRDs = append(res.CRDs, objs...)
		}
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if strings.HasSuffix(name, "NOTES.txt") || strings.TrimSpace(files[name]) == "" {
			continue
		}
		objs, err := parseManifests(vendored.Replace(name), files[name])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", label, err)
		}
		for _, o := range objs {
			keep, err := applyHookRule(o, req.Hooks)
			if err != nil {
				return nil, fmt.Errorf("%s: %s: %w", label, vendored.Replace(name), err)
			}
			if !keep {
				continue
			}
			if o["kind"] == "CustomResourceDefinition" {
				res.CRDs = append(res.CRDs, o)
			} else {
				res.Resources = append(res.Resources, o)
			}
		}
	}

	scoped := clusterScoped(res.CRDs, req.ClusterScopedKinds)
	for _, o := range res.Resources {
		kind, _ := o["kind"].(string)
		md := o["metadata"].(map[string]any)
		if ns, _ := md["namespace"].(string); ns == "" && !scoped[kind] {
			md["namespace"] = req.Namespace
		}
	}
	if err := sortObjects(res.Resources); err != nil {
		return nil, fmt.Errorf("%s: %w", label, err)
	}
	if err := sortObjects(res.CRDs); err != nil {
		return nil, fmt.Errorf("%s: %w", label, err)
	}
	return res, nil
}

// templateHint ends the message of a chart template that fails to render.
const templateHint = " (hint: check the values the template passes against the chart's values.yaml and templates;" +
	" the vendored files are the chart's own, restored by \"coderfleet vendor\")"

// vendoredPaths rewrites the paths Helm's engine names
// ("<chart>/templates/x.yaml", "<chart>/charts/<sub>/templates/y.yaml")
// into the vendored files' paths in the repository
// ("templates/charts/<chart>/<version>/templates/x.yaml"), the files a
// user can open.
func (r *Renderer) vendoredPaths(name string) *strings.Replacer {
	ch, _ := r.v.Config.Lookup(name)
	dir := path.Join(r.folder, ch.Name, ch.Version)
	var pairs []string
	for _, sub := range []string{"templates/", "charts/", "crds/"} {
		pairs = append(pairs, ch.Name+"/"+sub, dir+"/"+sub)
	}
	return strings.NewReplacer(pairs...)
}

// load builds the chart from its verified files.
func (r *Renderer) load(name string) (*chart.Chart, error) {
	tree := r.v.trees[name]
	bfs := make([]*loader.BufferedFile, 0, len(tree))
	for _, f := range tree {
		bfs = append(bfs, &loader.BufferedFile{Name: f.Name, Data: f.Data})
	}
	return loader.LoadFiles(bfs)
}

func capabilities(req Request) (*chartutil.Capabilities, error) {
	kv, err := chartutil.ParseKubeVersion(req.KubeVersion)
	if err != nil {
		return nil, err
	}
	caps := chartutil.DefaultCapabilities.Copy()
	caps.KubeVersion = *kv
	caps.APIVersions = chartutil.VersionSet(sortedUnique(append(append([]string(nil), chartutil.DefaultVersionSet...), req.APIVersions...)))
	// Only the Helm version itself: the Go version and git state of this
	// build must not leak into manifests.
	caps.HelmVersion.GoVersion = ""
	caps.HelmVersion.GitCommit = ""
	caps.HelmVersion.GitTreeState = ""
	return caps, nil
}

// checkDependencies fails when Chart.yaml names a dependency that the chart
// does not carry in its charts/ folder (Helm's install makes the same
// check); vendor runs it on the archive, render on the vendored files.
func checkDependencies(c *chart.Chart) error {
	var missing []string
	for _, req := range c.Metadata.Dependencies {
		found := false
		for _, d := range c.Dependencies() {
			if d.Name() == req.Name {
				found = true
				break
			}
		}
		if !found {
			missing = append(missing, req.Name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("dependencies %s are in Chart.yaml but not in the chart's charts/ folder", strings.Join(missing, ", "))
	}
	return nil
}

// jsonShape returns v as plain JSON data (maps, slices, float64, string,
// bool, nil), whatever map types Helm built it from.
func jsonShape(v any) (map[string]any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	out := map[string]any{}
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// parseManifests splits a rendered file into objects; empty documents are skipped.
func parseManifests(name, content string) ([]map[string]any, error) {
	docs := releaseutil.SplitManifests(content)
	keys := make([]string, 0, len(docs))
	for k := range docs {
		keys = append(keys, k)
	}
	sort.Sort(releaseutil.BySplitManifestsOrder(keys))
	var out []map[string]any
	for i, k := range keys {
		j, err := yaml.YAMLToJSON([]byte(docs[k]))
		if err != nil {
			return nil, fmt.Errorf("%s: document %d is not valid YAML: %w", name, i+1, err)
		}
		if bytes.Equal(bytes.TrimSpace(j), []byte("null")) {
			continue
		}
		var obj map[string]any
		if err := json.Unmarshal(j, &obj); err != nil {
			return nil, fmt.Errorf("%s: document %d is not a Kubernetes object (a YAML mapping)", name, i+1)
		}
		av, _ := obj["apiVersion"].(string)
		kind, _ := obj["kind"].(string)
		md, _ := obj["metadata"].(map[string]any)
		mdName, _ := md["name"].(string)
		if av == "" || kind == "" || mdName == "" {
			return nil, fmt.Errorf("%s: document %d lacks apiVersion, kind or metadata.name", name, i+1)
		}
		out = append(out, obj)
	}
	return out, nil
}

// hookAnnotations are the annotations that only Helm acts on.
var hookAnnotations = []string{
	"helm.sh/hook", "helm.sh/hook-weight", "helm.sh/hook-delete-policy", "helm.sh/hook-output-log-policy",
}

// applyHookRule applies the documented hook rule to o and reports whether it is kept.
func applyHookRule(o map[string]any, mode HookMode) (bool, error) {
	md := o["metadata"].(map[string]any)
	ann, _ := md["annotations"].(map[string]any)
	raw, isHook := ann["helm.sh/hook"]
	if !isHook {
		return true, nil
	}
	hook, _ := raw.(string)
	installOrUpgrade := false
	for _, ev := range strings.Split(hook, ",") {
		switch strings.ToLower(strings.TrimSpace(ev)) {
		case "pre-install", "post-install", "pre-upgrade", "post-upgrade":
			installOrUpgrade = true
		case "test", "test-success", "test-failure":
			return false, nil // tests never reach the cluster
		case "pre-delete", "post-delete", "pre-rollback", "post-rollback":
		default:
			return false, fmt.Errorf("%s %q has unknown hook %q", o["kind"], md["name"], hook)
		}
	}
	if mode == HooksExclude || !installOrUpgrade {
		return false, nil
	}
	for _, a := range hookAnnotations {
		delete(ann, a)
	}
	if len(ann) == 0 {
		delete(md, "annotations")
	}
	return true, nil
}

// builtinClusterScoped are the cluster-scoped kinds of Kubernetes itself.
var builtinClusterScoped = []string{
	"APIService", "CertificateSigningRequest", "ClusterRole", "ClusterRoleBinding", "ClusterTrustBundle",
	"ComponentStatus", "CSIDriver", "CSINode", "CustomResourceDefinition", "DeviceClass", "FlowSchema",
	"IngressClass", "IPAddress", "MutatingAdmissionPolicy", "MutatingAdmissionPolicyBinding",
	"MutatingWebhookConfiguration", "Namespace", "Node", "PersistentVolume", "PodSecurityPolicy",
	"PriorityClass", "PriorityLevelConfiguration", "ResourceSlice", "RuntimeClass", "ServiceCIDR",
	"StorageClass", "StorageVersionMigration", "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding",
	"ValidatingWebhookConfiguration", "VolumeAttachment", "VolumeAttributesClass",
}

// clusterScoped returns the kinds that get no namespace.
func clusterScoped(crds []map[string]any, extra []string) map[string]bool {
	out := map[string]bool{}
	for _, k := range builtinClusterScoped {
		out[k] = true
	}
	for _, k := range extra {
		out[k] = true
	}
	for _, crd := range crds {
		spec, _ := crd["spec"].(map[string]any)
		if scope, _ := spec["scope"].(string); scope != "Cluster" {
			continue
		}
		names, _ := spec["names"].(map[string]any)
		if kind, _ := names["kind"].(string); kind != "" {
			out[kind] = true
		}
	}
	return out
}

// objectID is what makes an object unique in a cluster.
func objectID(o map[string]any) (group, kind, ns, name string) {
	av, _ := o["apiVersion"].(string)
	if i := strings.Index(av, "/"); i >= 0 {
		group = av[:i]
	}
	kind, _ = o["kind"].(string)
	md, _ := o["metadata"].(map[string]any)
	ns, _ = md["namespace"].(string)
	name, _ = md["name"].(string)
	return group, kind, ns, name
}

// sortObjects sorts by kind, namespace, name and group, and fails on two
// objects with the same identity.
func sortObjects(objs []map[string]any) error {
	sort.SliceStable(objs, func(i, j int) bool {
		gi, ki, ni, mi := objectID(objs[i])
		gj, kj, nj, mj := objectID(objs[j])
		if ki != kj {
			return ki < kj
		}
		if ni != nj {
			return ni < nj
		}
		if mi != mj {
			return mi < mj
		}
		return gi < gj
	})
	for i := 1; i < len(objs); i++ {
		g1, k1, n1, m1 := objectID(objs[i-1])
		g2, k2, n2, m2 := objectID(objs[i])
		if g1 == g2 && k1 == k2 && n1 == n2 && m1 == m2 {
			return fmt.Errorf("the chart renders %s %s/%s twice", k1, n1, m1)
		}
	}
	return nil
}

func sortedUnique(in []string) []string {
	if len(in) == 0 {
		return nil
	}
	s := append([]string(nil), in...)
	sort.Strings(s)
	out := s[:1]
	for _, v := range s[1:] {
		if v != out[len(out)-1] {
			out = append(out, v)
		}
	}
	return out
}
