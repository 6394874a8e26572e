package e2e

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
)

// FieldManager is the server-side apply field manager of every request.
const FieldManager = "coderfleet-e2e"

var crdResource = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// Checker server-side applies objects to a real API server: CRDs and
// Namespaces for real, everything else as a dry run.
type Checker struct {
	dyn    dynamic.Interface
	disco  discovery.CachedDiscoveryInterface
	mapper *restmapper.DeferredDiscoveryRESTMapper

	// EstablishTimeout bounds the wait for an installed CRD to be
	// Established and served.
	EstablishTimeout time.Duration

	mu       sync.Mutex
	warnings map[string][]string
}

type warnKey struct{}

// NewChecker makes the dynamic client and discovery-backed RESTMapper for
// cfg. Server warnings (deprecations, unknown-field notes) are collected per
// object into the [Report].
func NewChecker(cfg *rest.Config) (*Checker, error) {
	c := &Checker{EstablishTimeout: 60 * time.Second, warnings: map[string][]string{}}
	cfg = rest.CopyConfig(cfg)
	cfg.WarningHandlerWithContext = c
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("making a dynamic client: %w", err)
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("making a discovery client: %w", err)
	}
	c.dyn = dyn
	c.disco = memory.NewMemCacheClient(dc)
	c.mapper = restmapper.NewDeferredDiscoveryRESTMapper(c.disco)
	return c, nil
}

// HandleWarningHeaderWithContext records a server warning against the object
// whose request produced it.
func (c *Checker) HandleWarningHeaderWithContext(ctx context.Context, code int, _ string, text string) {
	if code != 299 {
		return
	}
	key, _ := ctx.Value(warnKey{}).(string)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.warnings[key] = append(c.warnings[key], text)
}

func (c *Checker) takeWarnings(key string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	w := c.warnings[key]
	delete(c.warnings, key)
	return w
}

// LoadCRDs reads the CustomResourceDefinitions of every YAML file in fsys's
// top folder. Any other kind is an error naming the file.
func LoadCRDs(fsys fs.FS) ([]*unstructured.Unstructured, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("reading the CRD folder: %w", err)
	}
	var crds []*unstructured.Unstructured
	for _, e := range entries {
		if e.IsDir() || hidden(e.Name()) {
			continue
		}
		if ext := path.Ext(e.Name()); ext != ".yaml" && ext != ".yml" {
			continue
		}
		data, err := fs.ReadFile(fsys, e.Name())
		if err != nil {
			return nil, fmt.Errorf("reading CRD file %q: %w", e.Name(), err)
		}
		docs, err := DecodeObjects(data)
		if err != nil {
			return nil, fmt.Errorf("reading CRD file %q: %w", e.Name(), err)
		}
		for i, u := range docs {
			if u == nil {
				continue
			}
			if u.GroupVersionKind().GroupKind() != (schema.GroupKind{Group: "apiextensions.k8s.io", Kind: "CustomResourceDefinition"}) {
				return nil, fmt.Errorf("reading CRD file %q: document %d is a %s, not a CustomResourceDefinition", e.Name(), i+1, u.GetKind())
			}
			crds = append(crds, u)
		}
	}
	if len(crds) == 0 {
		return nil, errors.New("reading the CRD folder: it holds no CustomResourceDefinition; point CODERFLEET_CRDS_DIR at a folder of CRD YAML files")
	}
	return crds, nil
}

// InstallCRDs applies the CRDs for real and waits until every one is
// Established and its kinds are in discovery.
func (c *Checker) InstallCRDs(ctx context.Context, crds []*unstructured.Unstructured) error {
	for _, crd := range crds {
		if err := c.apply(ctx, crdResource, "", crd, false); err != nil {
			return fmt.Errorf("installing CRD %q: %w", crd.GetName(), err)
		}
	}
	for _, crd := range crds {
		if err := c.waitEstablished(ctx, crd); err != nil {
			return err
		}
	}
	return nil
}

func (c *Checker) waitEstablished(ctx context.Context, crd *unstructured.Unstructured) error {
	deadline := time.Now().Add(c.EstablishTimeout)
	name := crd.GetName()
	group, _, _ := unstructured.NestedString(crd.Object, "spec", "group")
	kind, _, _ := unstructured.NestedString(crd.Object, "spec", "names", "kind")
	versions, _, _ := unstructured.NestedSlice(crd.Object, "spec", "versions")
	var served []string
	for _, v := range versions {
		vm, _ := v.(map[string]any)
		if s, _ := vm["served"].(bool); s {
			served = append(served, fmt.Sprint(vm["name"]))
		}
	}
	for {
		got, err := c.dyn.Resource(crdResource).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("waiting for CRD %q: %w", name, err)
		}
		established, problem := crdConditions(got)
		if problem != "" {
			return fmt.Errorf("installing CRD %q: %s", name, problem)
		}
		if established {
			c.mapper.Reset()
			ok := true
			for _, v := range served {
				if _, err := c.mapper.RESTMapping(schema.GroupKind{Group: group, Kind: kind}, v); err != nil {
					ok = false
				}
			}
			if ok {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("installing CRD %q: not Established and served after %s", name, c.EstablishTimeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func crdConditions(crd *unstructured.Unstructured) (established bool, problem string) {
	conds, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
	for _, cond := range conds {
		m, _ := cond.(map[string]any)
		switch m["type"] {
		case "Established":
			established = m["status"] == "True"
		case "NamesAccepted":
			if m["status"] == "False" {
				problem = fmt.Sprintf("names not accepted: %v", m["message"])
			}
		}
	}
	return established, problem
}

// EnsureNamespaces creates namespaces that a real cluster has before Flux
// applies anything, such as flux-system (made by `flux bootstrap`), so the
// check models the cluster the manifests are applied to.
func (c *Checker) EnsureNamespaces(ctx context.Context, names ...string) error {
	gvr := schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}
	for _, name := range names {
		ns := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": name},
		}}
		if err := c.apply(ctx, gvr, "", ns, false); err != nil {
			return fmt.Errorf("creating baseline namespace %q: %w", name, err)
		}
	}
	return nil
}

// Rejection is an object the API server refused.
type Rejection struct {
	// Object is what was sent.
	Object Object
	// Message is the API server's reason.
	Message string
}

// Report is the outcome of [Checker.Check].
type Report struct {
	// Accepted counts accepted objects per tree/region (see Object.RegionKey).
	Accepted map[string]int
	// Rejected lists refusals in input order.
	Rejected []Rejection
	// Unchecked lists, per apiVersion/kind, the objects whose API group the
	// server does not serve (their CRD was not installed); they were not sent.
	Unchecked map[string][]Object
	// Warnings are the server's warnings per object (Object.String()).
	Warnings map[string][]string
}

// Err is nil when nothing was rejected; otherwise it lists every rejection
// with region, component, object and the API server's message.
func (r *Report) Err() error {
	if len(r.Rejected) == 0 {
		return nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "the API server rejected %d object(s):", len(r.Rejected))
	for _, rej := range r.Rejected {
		fmt.Fprintf(&b, "\n  %s: %s", rej.Object, rej.Message)
	}
	return errors.New(b.String())
}

// UncheckedKinds returns the apiVersion/kinds that could not be checked,
// sorted.
func (r *Report) UncheckedKinds() []string {
	kinds := make([]string, 0, len(r.Unchecked))
	for k := range r.Unchecked {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	return kinds
}

// Lines returns one line per region with its count of accepted objects, in
// sorted order, followed by one summary line.
func (r *Report) Lines() []string {
	keys := make([]string, 0, len(r.Accepted))
	for k := range r.Accepted {
		keys = append(keys, k)
	}
	rejectedBy := map[string]int{}
	for _, rej := range r.Rejected {
		k := rej.Object.RegionKey()
		if _, counted := r.Accepted[k]; !counted && rejectedBy[k] == 0 {
			keys = append(keys, k)
		}
		rejectedBy[k]++
	}
	sort.Strings(keys)
	var lines []string
	total := 0
	for _, k := range keys {
		total += r.Accepted[k]
		line := fmt.Sprintf("%s: %d objects accepted", k, r.Accepted[k])
		if n := rejectedBy[k]; n > 0 {
			line += fmt.Sprintf(", %d rejected", n)
		}
		lines = append(lines, line)
	}
	unchecked := 0
	for _, objs := range r.Unchecked {
		unchecked += len(objs)
	}
	summary := fmt.Sprintf("server-side dry-run: %d objects accepted, %d rejected, %d not checked, in %d regions", total, len(r.Rejected), unchecked, len(keys))
	if unchecked > 0 {
		summary += " (not checked: " + strings.Join(r.UncheckedKinds(), ", ") + ")"
	}
	return append(lines, summary)
}

// Check sends objs to the API server in dependency order: CRDs (applied for
// real, then waited for), Namespaces (applied for real, so the rest can be
// dry-run into them), then every other object as a server-side apply dry
// run with strict field validation. A refusal is recorded in the report, not
// returned; the error is for failures to talk to the server at all.
func (c *Checker) Check(ctx context.Context, objs []Object) (*Report, error) {
	r := &Report{Accepted: map[string]int{}, Unchecked: map[string][]Object{}, Warnings: map[string][]string{}}
	var crds, namespaces, rest []Object
	for _, o := range objs {
		switch o.Object.GroupVersionKind().GroupKind() {
		case schema.GroupKind{Group: "apiextensions.k8s.io", Kind: "CustomResourceDefinition"}:
			crds = append(crds, o)
		case schema.GroupKind{Kind: "Namespace"}:
			namespaces = append(namespaces, o)
		default:
			rest = append(rest, o)
		}
	}
	var installed []Object
	for _, o := range crds {
		ok, err := c.send(ctx, r, o, false)
		if err != nil {
			return r, err
		}
		if ok {
			installed = append(installed, o)
		}
	}
	for _, o := range installed {
		if err := c.waitEstablished(ctx, o.Object); err != nil {
			r.Rejected = append(r.Rejected, Rejection{Object: o, Message: err.Error()})
			r.Accepted[o.RegionKey()]--
		}
	}
	for _, o := range namespaces {
		if _, err := c.send(ctx, r, o, false); err != nil {
			return r, err
		}
	}
	for _, o := range rest {
		if _, err := c.send(ctx, r, o, true); err != nil {
			return r, err
		}
	}
	return r, nil
}

// send applies one object and records the outcome, reporting whether it was
// accepted; it returns an error only when the server could not be reached.
func (c *Checker) send(ctx context.Context, r *Report, o Object, dryRun bool) (bool, error) {
	gvk := o.Object.GroupVersionKind()
	mapping, err := c.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		if !meta.IsNoMatchError(err) {
			return false, fmt.Errorf("looking up the resource of %s: %w", o, err)
		}
		served, derr := c.groupServed(gvk.Group)
		if derr != nil {
			return false, derr
		}
		if served {
			r.Rejected = append(r.Rejected, Rejection{Object: o, Message: fmt.Sprintf("the server serves API group %q but not kind %s in version %q", gvk.Group, gvk.Kind, gvk.Version)})
		} else {
			key := gvk.GroupVersion().String() + "/" + gvk.Kind
			r.Unchecked[key] = append(r.Unchecked[key], o)
		}
		return false, nil
	}
	ns := ""
	if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
		ns = o.Object.GetNamespace()
		if ns == "" {
			ns = o.DefaultNamespace
		}
		if ns == "" {
			r.Rejected = append(r.Rejected, Rejection{Object: o, Message: fmt.Sprintf("%s is namespaced but the object has no metadata.namespace and its folder's kustomization.yaml sets none", gvk.Kind)})
			return false, nil
		}
	} else if o.Object.GetNamespace() != "" {
		r.Rejected = append(r.Rejected, Rejection{Object: o, Message: fmt.Sprintf("%s is cluster-scoped but the object sets metadata.namespace %q", gvk.Kind, o.Object.GetNamespace())})
		return false, nil
	}
	key := o.String()
	wctx := context.WithValue(ctx, warnKey{}, key)
	err = c.apply(wctx, mapping.Resource, ns, o.Object, dryRun)
	if w := c.takeWarnings(key); len(w) > 0 {
		r.Warnings[key] = append(r.Warnings[key], w...)
	}
	if err != nil {
		if ctx.Err() != nil || isTransport(err) {
			return false, fmt.Errorf("sending %s: %w", o, err)
		}
		r.Rejected = append(r.Rejected, Rejection{Object: o, Message: err.Error()})
		return false, nil
	}
	r.Accepted[o.RegionKey()]++
	return true, nil
}

func (c *Checker) apply(ctx context.Context, gvr schema.GroupVersionResource, ns string, u *unstructured.Unstructured, dryRun bool) error {
	obj := u.DeepCopy()
	if ns != "" {
		obj.SetNamespace(ns)
	}
	data, err := obj.MarshalJSON()
	if err != nil {
		return fmt.Errorf("encoding: %w", err)
	}
	force := true
	opts := metav1.PatchOptions{FieldManager: FieldManager, Force: &force, FieldValidation: metav1.FieldValidationStrict}
	if dryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	var ri dynamic.ResourceInterface = c.dyn.Resource(gvr)
	if ns != "" {
		ri = c.dyn.Resource(gvr).Namespace(ns)
	}
	_, err = ri.Patch(ctx, obj.GetName(), types.ApplyPatchType, data, opts)
	return err
}

func (c *Checker) groupServed(group string) (bool, error) {
	groups, err := c.disco.ServerGroups()
	if err != nil {
		return false, fmt.Errorf("listing the server's API groups: %w", err)
	}
	for _, g := range groups.Groups {
		if g.Name == group {
			return true, nil
		}
	}
	return false, nil
}

// isTransport tells a failure to reach the server from a refusal by it: a
// refusal is always an API status error.
func isTransport(err error) bool {
	var status interface{ Status() metav1.Status }
	return !errors.As(err, &status)
}
