package render

import (
	"bytes"
	"fmt"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	yaml3 "go.yaml.in/yaml/v3"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/provider"
	"sigs.k8s.io/kustomize/api/resmap"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/coderfleet/coderfleet/config"
)

// KustomizationFile is the optional overlay of a region.
const KustomizationFile = "kustomization.yaml"

// overlayInputs are the files of overlays/<region>/ that belong to
// coderfleet itself and are never handed to kustomize.
var overlayInputs = map[string]bool{config.RegionFile: true, config.OutputsFile: true}

// In-memory layout kustomize runs on: the rendered base and a copy of the
// region's overlay folder, side by side. Nothing else exists there, so an
// overlay cannot read outside its folder and the base.
const (
	memRoot    = "/coderfleet"
	memBase    = memRoot + "/base"
	memOverlay = memRoot + "/overlay"
)

// overlay applies overlays/<region>/kustomization.yaml over objs. It
// returns objs unchanged and ran false when the region has no
// kustomization, and kustomize's output and ran true otherwise.
func overlay(fs filesys.FileSystem, repo, region, dir string, objs []map[string]any) (out []map[string]any, ran bool, err error) {
	kfile := path.Join(dir, KustomizationFile)
	data, err := fs.ReadFile(filepath.Join(repo, filepath.FromSlash(kfile)))
	if err != nil {
		if !fs.Exists(filepath.Join(repo, filepath.FromSlash(kfile))) {
			return objs, false, nil
		}
		return nil, false, fmt.Errorf("reading %q: %w", kfile, err)
	}
	fail := func(value, msg, hint string) error {
		return &Error{Region: region, File: kfile, Line: lineOf(data, value), Msg: msg, Hint: hint}
	}
	var k types.Kustomization
	if err := yaml.UnmarshalStrict(data, &k); err != nil {
		return nil, false, &Error{Region: region, File: kfile, Line: errorLine(data, err.Error()), Msg: "invalid kustomization", Err: err,
			Hint: "see https://kubectl.docs.kubernetes.io/references/kustomize/kustomization/ for its fields"}
	}
	if err := checkKustomization(&k, fail); err != nil {
		return nil, false, err
	}

	mem := filesys.MakeFsInMemory()
	var base bytes.Buffer
	for _, o := range objs {
		y, err := marshalObject(o)
		if err != nil {
			return nil, false, fmt.Errorf("region %s: marshalling the base: %w", region, err)
		}
		base.WriteString("---\n")
		base.Write(y)
	}
	if err := mem.MkdirAll(memBase); err != nil {
		return nil, false, err
	}
	if err := mem.WriteFile(memBase+"/objects.yaml", base.Bytes()); err != nil {
		return nil, false, err
	}
	if err := mem.WriteFile(memBase+"/"+KustomizationFile, []byte("resources:\n- objects.yaml\n")); err != nil {
		return nil, false, err
	}
	if err := copyOverlay(fs, filepath.Join(repo, filepath.FromSlash(dir)), mem); err != nil {
		return nil, false, fmt.Errorf("region %s: copying %q: %w", region, dir, err)
	}
	// The rendered base is always the first resource of the overlay.
	k.Resources = append([]string{"../base"}, k.Resources...)
	kdata, err := yaml.Marshal(&k)
	if err != nil {
		return nil, false, err
	}
	if err := mem.WriteFile(memOverlay+"/"+KustomizationFile, kdata); err != nil {
		return nil, false, err
	}

	opts := krusty.MakeDefaultOptions()
	rm, err := krusty.MakeKustomizer(opts).Run(mem, memOverlay)
	if err != nil {
		msg := strings.ReplaceAll(err.Error(), memOverlay, dir)
		msg = strings.ReplaceAll(msg, memBase, "<rendered base>")
		line := 0
		for _, p := range overlayPaths(&k) {
			if p != "../base" && strings.Contains(msg, p) {
				line = lineOf(data, p)
				break
			}
		}
		if line == 0 {
			line = patchLine(mem, &k, data, msg)
		}
		return nil, false, &Error{Region: region, File: kfile, Line: line, Msg: "applying the overlay: " + msg,
			Hint: "patches must target objects the templates render (see regions/" + region + "/) or resources inside the overlay folder"}
	}
	if err := checkTargetsMatch(mem, &k, kfile, region, data, base.Bytes(), rm); err != nil {
		return nil, false, err
	}
	out = make([]map[string]any, 0, rm.Size())
	for _, r := range rm.Resources() {
		m, err := r.Map()
		if err != nil {
			return nil, false, fmt.Errorf("region %s: reading kustomize output: %w", region, err)
		}
		out = append(out, m)
	}
	return out, true, nil
}

// checkTargetsMatch fails when a patch with a target selector matches no
// object: kustomize skips such a patch silently, which hides typos and
// patches left behind by a template change. Targets are matched against
// the rendered base plus the overlay's own resources (everything but the
// patches).
func checkTargetsMatch(mem filesys.FileSystem, k *types.Kustomization, kfile, region string, data, base []byte, result resmap.ResMap) error {
	var targeted []types.Patch
	for _, p := range append(append([]types.Patch{}, k.Patches...), k.PatchesJson6902...) {
		if p.Target == nil {
			continue
		}
		// Patches rarely rename what they patch: a target found in the
		// result was there before. Only the others need the input built.
		if found, err := result.Select(*p.Target); err == nil && len(found) > 0 {
			continue
		}
		targeted = append(targeted, p)
	}
	if len(targeted) == 0 {
		return nil
	}
	rm, err := selectable(mem, k, base)
	if err != nil {
		return nil // the real run reports it
	}
	for _, p := range targeted {
		found, err := rm.Select(*p.Target)
		if err != nil {
			return &Error{Region: region, File: kfile, Msg: "invalid patch target", Err: err}
		}
		if len(found) == 0 {
			what := p.Path
			if what == "" {
				what = p.Target.Kind + "/" + p.Target.Name
			}
			line := lineOf(data, p.Target.Name)
			if p.Path != "" {
				line = lineOf(data, p.Path)
			}
			return &Error{Region: region, File: kfile, Line: line,
				Msg:  fmt.Sprintf("patch %s matches no object (target kind=%q name=%q namespace=%q)", what, p.Target.Kind, p.Target.Name, p.Target.Namespace),
				Hint: "check the target against the objects in regions/" + region + "/; a patch that matches nothing would be skipped silently"}
		}
	}
	return nil
}

// selectable builds what patch targets select from: the rendered base plus
// the overlay's own resources. When those are plain files (the common
// case) it parses them directly; otherwise it builds the overlay without
// its patches with krusty.
func selectable(mem filesys.FileSystem, k *types.Kustomization, base []byte) (resmap.ResMap, error) {
	all := append([]byte{}, base...)
	plain := true
	for _, r := range k.Resources {
		p := memOverlay + "/" + path.Clean(r)
		if r == "../base" {
			continue
		}
		if mem.IsDir(p) {
			plain = false
			break
		}
		data, err := mem.ReadFile(p)
		if err != nil {
			return nil, err
		}
		all = append(append(all, "\n---\n"...), data...)
	}
	if plain {
		return resmap.NewFactory(provider.NewDepProvider().GetResourceFactory()).NewResMapFromBytes(all)
	}
	bare := *k
	bare.Patches, bare.PatchesJson6902, bare.PatchesStrategicMerge = nil, nil, nil
	bare.Replacements, bare.Images, bare.Replicas = nil, nil, nil
	kdata, err := yaml.Marshal(&bare)
	if err != nil {
		return nil, err
	}
	const dir = memOverlay + "/.coderfleet-targets"
	if err := mem.MkdirAll(dir); err != nil {
		return nil, err
	}
	defer mem.RemoveAll(dir)
	// Same folder depth as the overlay, so relative paths resolve alike.
	kdata = bytes.ReplaceAll(kdata, []byte("- ../base\n"), []byte("- ../../base\n"))
	if err := mem.WriteFile(dir+"/"+KustomizationFile, kdata); err != nil {
		return nil, err
	}
	return krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(mem, dir)
}

// checkKustomization refuses what would let an overlay reach outside its
// folder or run code: remote resources, paths escaping the folder, Helm
// inflation, plugins, and generated Secrets (Secrets never carry values).
func checkKustomization(k *types.Kustomization, fail func(value, msg, hint string) error) error {
	refuse := func(field string, present bool, hint string) error {
		if present {
			return fail(field+":", field+" is not allowed in a coderfleet overlay", hint)
		}
		return nil
	}
	for _, c := range []struct {
		field   string
		present bool
		hint    string
	}{
		{"helmCharts", len(k.HelmCharts) > 0 || k.HelmGlobals != nil || len(k.HelmChartInflationGenerator) > 0, "vendor charts with `coderfleet vendor` and use them from templates"},
		{"generators", len(k.Generators) > 0, "kustomize plugins run code; write the objects as resources instead"},
		{"transformers", len(k.Transformers) > 0, "kustomize plugins run code; use patches instead"},
		{"validators", len(k.Validators) > 0, "kustomize plugins run code"},
		{"secretGenerator", len(k.SecretGenerator) > 0, "rendered output never carries secret values; create Secrets out of band (see README, Secrets)"},
		{"bases", len(k.Bases) > 0, "the rendered base is included automatically; list extra files under resources"},
		{"openapi", len(k.OpenAPI) > 0, "schemas are built in"},
	} {
		if err := refuse(c.field, c.present, c.hint); err != nil {
			return err
		}
	}
	for _, p := range overlayPaths(k) {
		if isRemote(p) {
			return fail(p, fmt.Sprintf("remote resource %q is not allowed", p),
				"an overlay may only use files inside its own folder; copy what you need into it and review it")
		}
		clean := path.Clean(p)
		if path.IsAbs(p) || filepath.IsAbs(p) || clean == ".." || strings.HasPrefix(clean, "../") {
			return fail(p, fmt.Sprintf("path %q is outside the overlay folder", p),
				"an overlay may only use files inside its own folder; the rendered base is included automatically")
		}
	}
	return nil
}

// overlayPaths lists every file or folder a kustomization refers to.
func overlayPaths(k *types.Kustomization) []string {
	var paths []string
	paths = append(paths, k.Resources...)
	paths = append(paths, k.Components...)
	paths = append(paths, k.Crds...)
	paths = append(paths, k.Configurations...)
	for _, p := range k.Patches {
		if p.Path != "" {
			paths = append(paths, p.Path)
		}
	}
	for _, p := range k.PatchesJson6902 {
		if p.Path != "" {
			paths = append(paths, p.Path)
		}
	}
	for _, p := range k.PatchesStrategicMerge {
		if s := string(p); !strings.Contains(s, "\n") {
			paths = append(paths, s)
		}
	}
	for _, g := range k.ConfigMapGenerator {
		for _, f := range append(append([]string{}, g.FileSources...), g.EnvSources...) {
			if _, file, ok := strings.Cut(f, "="); ok {
				f = file
			}
			paths = append(paths, f)
		}
	}
	for _, r := range k.Replacements {
		if r.Path != "" {
			paths = append(paths, r.Path)
		}
	}
	return paths
}

func isRemote(p string) bool {
	l := strings.ToLower(p)
	for _, prefix := range []string{"http://", "https://", "git@", "git::", "ssh://", "github.com/", "gitlab.com/", "bitbucket.org/", "file://", "oci://"} {
		if strings.HasPrefix(l, prefix) {
			return true
		}
	}
	return strings.Contains(l, "://") || strings.Contains(l, "?ref=")
}

// copyOverlay copies the overlay folder (minus coderfleet's own files) into
// the in-memory filesystem.
func copyOverlay(fs filesys.FileSystem, src string, mem filesys.FileSystem) error {
	return copyDir(fs, src, mem, memOverlay, true)
}

func copyDir(fs filesys.FileSystem, src string, mem filesys.FileSystem, dst string, top bool) error {
	entries, err := fs.ReadDir(src)
	if err != nil {
		return err
	}
	sort.Strings(entries)
	if err := mem.MkdirAll(dst); err != nil {
		return err
	}
	for _, e := range entries {
		if top && (overlayInputs[e] || e == KustomizationFile) {
			continue
		}
		s := filepath.Join(src, e)
		if fs.IsDir(s) {
			if err := copyDir(fs, s, mem, dst+"/"+e, false); err != nil {
				return err
			}
			continue
		}
		data, err := fs.ReadFile(s)
		if err != nil {
			return err
		}
		if err := mem.WriteFile(dst+"/"+e, data); err != nil {
			return err
		}
	}
	return nil
}

// lineOf finds the line of the first scalar in a YAML document equal to
// value (or a key "field:"), for pointing errors at a line; 0 when absent.
func lineOf(data []byte, value string) int {
	var doc yaml3.Node
	if err := yaml3.Unmarshal(data, &doc); err != nil {
		return 0
	}
	key := strings.TrimSuffix(value, ":")
	line := 0
	var walk func(n *yaml3.Node)
	walk = func(n *yaml3.Node) {
		if line != 0 || n == nil {
			return
		}
		if n.Kind == yaml3.ScalarNode && (n.Value == value || n.Value == key) {
			line = n.Line
			return
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(&doc)
	return line
}

var (
	yamlLineRE   = regexp.MustCompile(`line (\d+)`)
	unknownKeyRE = regexp.MustCompile(`unknown field "([^"]+)"`)
)

// errorLine finds the line an error message is about: a "line N" in it, or
// the line of an unknown field it names; 0 when neither.
func errorLine(data []byte, msg string) int {
	if m := unknownKeyRE.FindStringSubmatch(msg); m != nil {
		return lineOf(data, m[1])
	}
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		n, _ := strconv.Atoi(m[1])
		return n
	}
	return 0
}

var smpTargetRE = regexp.MustCompile(`strategic merge patch "[^"/]*/([^"]+)"`)

// patchLine finds the kustomization line of the strategic-merge patch a
// kustomize error is about: the message names the patch's target
// (Kind.version.group/name.namespace), and the patch file is the one that
// names that object.
func patchLine(mem filesys.FileSystem, k *types.Kustomization, data []byte, msg string) int {
	m := smpTargetRE.FindStringSubmatch(msg)
	if m == nil {
		return 0
	}
	name := m[1]
	if i := strings.LastIndex(name, "."); i > 0 {
		name = name[:i] // drop the namespace
	}
	for _, p := range overlayPaths(k) {
		content, err := mem.ReadFile(memOverlay + "/" + path.Clean(p))
		if err != nil {
			continue
		}
		if regexp.MustCompile(`(?m)^\s*name:\s*["']?` + regexp.QuoteMeta(name) + `["']?\s*$`).Match(content) {
			return lineOf(data, p)
		}
	}
	return 0
}
