package validate

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/agnivade/levenshtein"
	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
	kjson "sigs.k8s.io/json"
)

// kindInfo is what the strict decoder knows about one apiVersion/kind.
type kindInfo struct {
	newObj     func() any
	prerelease bool // a built-in alpha or beta version: accepted only when allowed
}

// registry holds the strict decoders, built once per process.
type registry struct {
	kinds    map[schema.GroupVersionKind]kindInfo
	versions map[string][]string // kind -> known apiVersions, for hints
}

var (
	registryOnce sync.Once
	theRegistry  *registry
)

func decoders() *registry {
	registryOnce.Do(func() { theRegistry = buildRegistry() })
	return theRegistry
}

func buildRegistry() *registry {
	r := &registry{kinds: map[schema.GroupVersionKind]kindInfo{}, versions: map[string][]string{}}
	builtin := runtime.NewScheme()
	// client-go's scheme lacks the aggregator's APIService, which charts
	// such as metrics-server render.
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, apiextensionsv1.AddToScheme, apiregistrationv1.AddToScheme} {
		if err := add(builtin); err != nil {
			panic(fmt.Sprintf("building the Kubernetes scheme: %v", err))
		}
	}
	addScheme(r, builtin, true)
	flux := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{kustomizev1.AddToScheme, sourcev1.AddToScheme, helmv2.AddToScheme} {
		if err := add(flux); err != nil {
			panic(fmt.Sprintf("building the Flux scheme: %v", err))
		}
	}
	addScheme(r, flux, false)
	for gvk, newObj := range esoKinds {
		r.add(gvk, kindInfo{newObj: newObj})
	}
	for k := range r.versions {
		sort.Strings(r.versions[k])
	}
	return r
}

// addScheme registers the scheme's persisted kinds: types with ObjectMeta.
// Lists, options and events are not objects one writes to git.
func addScheme(r *registry, s *runtime.Scheme, builtin bool) {
	for gvk := range s.AllKnownTypes() {
		if gvk.Version == runtime.APIVersionInternal {
			continue
		}
		probe, err := s.New(gvk)
		if err != nil {
			continue
		}
		if _, ok := probe.(metav1.Object); !ok {
			continue
		}
		g := gvk
		r.add(gvk, kindInfo{
			newObj: func() any {
				o, _ := s.New(g)
				return o
			},
			prerelease: builtin && (strings.Contains(gvk.Version, "alpha") || strings.Contains(gvk.Version, "beta")),
		})
	}
}

func (r *registry) add(gvk schema.GroupVersionKind, info kindInfo) {
	r.kinds[gvk] = info
	if !info.prerelease {
		r.versions[gvk.Kind] = append(r.versions[gvk.Kind], gvk.GroupVersion().String())
	}
}

// schema decodes the object strictly into its Go type and returns the typed
// value, or nil when the object could not be decoded or has no known type.
func (c *objectCheck) schema(allowKinds, crdKinds map[string]bool) any {
	apiVersion, kind := str(c.obj, "apiVersion"), str(c.obj, "kind")
	key := apiVersion + "/" + kind
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil || apiVersion == "" || kind == "" {
		c.add(CheckKind, "apiVersion", "every object needs apiVersion (group/version) and kind", "invalid apiVersion %q or kind %q", apiVersion, kind)
		return nil
	}
	reg := decoders()
	info, known := reg.kinds[gv.WithKind(kind)]
	switch {
	case known && info.prerelease && !allowKinds[key]:
		c.add(CheckKind, "apiVersion", kindHint(reg, kind, key), "%s %s is a pre-release API version", apiVersion, kind)
		return nil
	case !known && (allowKinds[key] || crdKinds[key]):
		// A custom resource whose CustomResourceDefinition the region
		// renders, or a kind the fleet allows: no schema to decode into.
		return nil
	case !known:
		field := "apiVersion"
		if len(reg.versions[kind]) == 0 {
			field = "kind"
		}
		c.add(CheckKind, field, kindHint(reg, kind, key), "unknown apiVersion/kind %s %s", apiVersion, kind)
		return nil
	}
	data, err := marshal(c.obj)
	if err != nil {
		c.add(CheckSchema, "", "the template produced a value JSON cannot hold", "encoding the object: %v", err)
		return nil
	}
	return c.decode(info, apiVersion, kind, data)
}

// decode decodes the object's JSON strictly: case-sensitive, unknown and
// duplicate fields are errors.
func (c *objectCheck) decode(info kindInfo, apiVersion, kind string, data []byte) any {
	target := info.newObj()
	strictErrs, err := kjson.UnmarshalStrict(data, target)
	if err != nil {
		field, msg := typeError(err)
		c.add(CheckSchema, namedPath(c.obj, field), fmt.Sprintf("compare with the %s %s API reference", apiVersion, kind), "%s", msg)
		return nil
	}
	for _, se := range strictErrs {
		path := ""
		if fe, ok := se.(interface{ FieldPath() string }); ok {
			path = fe.FieldPath()
		}
		what := strings.SplitN(se.Error(), " \"", 2)[0] // "unknown field" or "duplicate field"
		c.add(CheckSchema, namedPath(c.obj, path), fmt.Sprintf("remove it or check its spelling and level against the %s %s API (field names are case-sensitive)", apiVersion, kind),
			"%s %q", what, lastSegment(path))
	}
	if v, ok := target.(interface{ validate() []fieldError }); ok {
		for _, fe := range v.validate() {
			c.add(CheckSchema, namedPath(c.obj, fe.path), fe.hint, "%s", fe.msg)
		}
	}
	if len(strictErrs) > 0 {
		return nil
	}
	return target
}

// kindHint suggests the apiVersions under which kind is known.
func kindHint(r *registry, kind, key string) string {
	allow := fmt.Sprintf("or render its CustomResourceDefinition in this region, or list %q in validation.allowKinds in overlays/fleet.yaml (docs/validation.md)", key)
	if vs := r.versions[kind]; len(vs) > 0 {
		return fmt.Sprintf("%s is known as apiVersion %s; use that %s", kind, strings.Join(vs, ", "), allow)
	}
	if near := nearestKind(r, kind); near != "" {
		return fmt.Sprintf("did you mean %s (apiVersion %s)? Otherwise %s", near, strings.Join(r.versions[near], ", "), allow)
	}
	return "check apiVersion and kind for typos " + allow
}

// nearestKind returns the known kind closest to kind by edit distance, when
// it is close enough to be a typo.
func nearestKind(r *registry, kind string) string {
	best, bestDist := "", 3
	for k := range r.versions {
		if d := levenshtein.ComputeDistance(strings.ToLower(k), strings.ToLower(kind)); d < bestDist || (d == bestDist && best != "" && k < best) {
			best, bestDist = k, d
		}
	}
	return best
}

// fieldError is a finding of a typed subset's own validation.
type fieldError struct {
	path, msg, hint string
}

var typeErrorRE = regexp.MustCompile(`^json: cannot unmarshal (.+) into Go struct field [A-Za-z0-9_]*\.(\S+) of type (\S+)$`)

// typeError turns a decoding error into a field path and a message.
func typeError(err error) (field, msg string) {
	if m := typeErrorRE.FindStringSubmatch(err.Error()); m != nil {
		return m[2], fmt.Sprintf("wrong type: got %s, want %s", m[1], goTypeName(m[3]))
	}
	return "", "decoding: " + strings.TrimPrefix(err.Error(), "json: ")
}

// goTypeName says a Go type the way an API reference would.
func goTypeName(t string) string {
	switch {
	case strings.HasPrefix(t, "[]"):
		return "a list"
	case strings.HasPrefix(t, "map["):
		return "a map"
	case strings.Contains(t, "int"), strings.Contains(t, "float"):
		return "a number"
	case t == "string":
		return "a string"
	case t == "bool":
		return "a boolean"
	}
	return "an object (" + t + ")"
}

func lastSegment(path string) string {
	if i := strings.LastIndexAny(path, ".]"); i >= 0 && i+1 < len(path) {
		return path[i+1:]
	}
	return path
}

// namedPath rewrites a decoder path (a.b[0].c) into this package's form,
// naming list items by their "name" field where they have one.
func namedPath(obj map[string]any, path string) string {
	if path == "" {
		return ""
	}
	var segs []string // keys, or "[i]"
	for _, part := range strings.Split(path, ".") {
		for part != "" {
			i := strings.IndexByte(part, '[')
			switch {
			case i < 0:
				segs = append(segs, part)
				part = ""
			case i > 0:
				segs = append(segs, part[:i])
				part = part[i:]
			default:
				j := strings.IndexByte(part, ']')
				if j < 0 {
					segs = append(segs, part)
					part = ""
					continue
				}
				segs = append(segs, part[:j+1])
				part = part[j+1:]
			}
		}
	}
	var out strings.Builder
	var cur any = obj
	for k := 0; k < len(segs); k++ {
		s := segs[k]
		if strings.HasPrefix(s, "[") {
			idx, err := strconv.Atoi(strings.Trim(s, "[]"))
			list, ok := cur.([]any)
			if err != nil || !ok || idx < 0 || idx >= len(list) {
				out.WriteString(s)
				cur = nil
				continue
			}
			cur = list[idx]
			out.WriteString(itemSegment(cur, idx))
			continue
		}
		m, _ := cur.(map[string]any)
		key := s
		// Map keys may contain dots (annotations): take the longest match.
		for j := len(segs) - 1; j > k && m != nil; j-- {
			if strings.ContainsAny(strings.Join(segs[k+1:j+1], ""), "[") {
				continue
			}
			if cand := strings.Join(segs[k:j+1], "."); m[cand] != nil {
				key, k = cand, j
				break
			}
		}
		out.WriteString(keySegment(key, out.Len() == 0))
		if m != nil {
			cur = m[key]
		} else {
			cur = nil
		}
	}
	return out.String()
}

var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)

// keySegment writes one map key of a field path.
func keySegment(key string, first bool) string {
	if !identRE.MatchString(key) {
		return "[" + strconv.Quote(key) + "]"
	}
	if first {
		return key
	}
	return "." + key
}

// itemSegment writes one list item of a field path: [name] or [index].
func itemSegment(item any, idx int) string {
	if m, ok := item.(map[string]any); ok {
		if n, ok := m["name"].(string); ok && n != "" && !strings.ContainsAny(n, "[]") {
			return "[" + n + "]"
		}
	}
	return "[" + strconv.Itoa(idx) + "]"
}
