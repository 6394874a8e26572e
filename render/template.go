package render

import (
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	jsonnet "github.com/google/go-jsonnet"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/coderfleet/coderfleet/config"
)

// TemplatesDir is where the Jsonnet templates live, relative to the
// repository; imports never resolve outside it.
const TemplatesDir = "templates"

// EntryPoint is the template evaluated for every region.
const EntryPoint = TemplatesDir + "/main.jsonnet"

// importer resolves Jsonnet imports inside templates/ only. Files are read
// once and shared by every VM (and goroutine) of a render.
type importer struct {
	fs   filesys.FileSystem
	repo string

	mu    sync.Mutex
	files map[string]*importedFile // by repository-relative path
}

type importedFile struct {
	contents jsonnet.Contents
	data     []byte
	err      error
}

func newImporter(fs filesys.FileSystem, repo string) *importer {
	return &importer{fs: fs, repo: repo, files: map[string]*importedFile{}}
}

// resolve turns an import into a repository-relative path under templates/.
func resolve(importedFrom, importedPath string) (string, error) {
	if path.IsAbs(importedPath) || filepath.IsAbs(importedPath) {
		return "", fmt.Errorf("import of absolute path %q is not allowed: templates import only files inside %s/", importedPath, TemplatesDir)
	}
	dir := TemplatesDir
	if importedFrom != "" {
		dir = path.Dir(importedFrom)
	}
	p := path.Clean(path.Join(dir, importedPath))
	if p != TemplatesDir && !strings.HasPrefix(p, TemplatesDir+"/") {
		return "", fmt.Errorf("import %q escapes %s/ (resolves to %q): templates import only files inside %s/", importedPath, TemplatesDir, p, TemplatesDir)
	}
	return p, nil
}

// Import implements jsonnet.Importer.
func (im *importer) Import(importedFrom, importedPath string) (jsonnet.Contents, string, error) {
	p, err := resolve(importedFrom, importedPath)
	if err != nil {
		return jsonnet.Contents{}, "", err
	}
	f := im.read(p)
	return f.contents, p, f.err
}

func (im *importer) read(p string) *importedFile {
	im.mu.Lock()
	defer im.mu.Unlock()
	if f, ok := im.files[p]; ok {
		return f
	}
	f := &importedFile{}
	data, err := im.fs.ReadFile(filepath.Join(im.repo, filepath.FromSlash(p)))
	var ce *config.Error
	switch {
	case errors.As(err, &ce):
		f.err = ce
	case err != nil:
		f.err = fmt.Errorf("cannot read %q", p)
	default:
		f.data = data
		f.contents = jsonnet.MakeContentsRaw(data)
	}
	im.files[p] = f
	return f
}

// Output is what templates/main.jsonnet returns for one region.
type Output struct {
	// Components maps a component name to its objects.
	Components map[string][]map[string]any `json:"components"`
	// Review maps a file name to objects written to
	// regions/<region>/review/<file> for reviewers only (Flux never reads
	// that folder).
	Review map[string][]map[string]any `json:"review"`
	// Owned lists the names coderfleet owns, by the settings key path where
	// a user could choose one (see Owned).
	Owned map[string]Owned `json:"owned"`
	// AWS is the region's AWS desired state: {hostedZone, certificates,
	// healthChecks, records, roles?, secrets?}, each item in the format of
	// docs/sync.md; read when Options.AWS is set (see parseAWS).
	AWS json.RawMessage `json:"aws"`
}

// evaluator evaluates the entry point for one region at a time. It is not
// safe for concurrent use: each worker has its own, and keeps its VM (and
// so the VM's cache of parsed templates) from one region to the next.
type evaluator struct {
	imp      *importer
	maxStack int
	timeout  time.Duration
	natives  []*jsonnet.NativeFunction
	vm       *jsonnet.VM
}

func (ev *evaluator) machine() *jsonnet.VM {
	if ev.vm == nil {
		vm := jsonnet.MakeVM()
		vm.Importer(ev.imp)
		if ev.maxStack > 0 {
			vm.MaxStack = ev.maxStack
		}
		for _, f := range ev.natives {
			vm.NativeFunction(f)
		}
		vm.StringOutput = false
		ev.vm = vm
	}
	return ev.vm
}

// dependencies lists the template files the entry point imports,
// transitively (imports are string literals, so this is static), sorted.
func (ev *evaluator) dependencies() ([]string, error) {
	deps, err := ev.machine().FindDependencies("", []string{"main.jsonnet"})
	if err != nil {
		return nil, err
	}
	return append([]string{EntryPoint}, deps...), nil
}

func (ev *evaluator) evaluate(region string, input []byte) (*Output, error) {
	vm := ev.machine()
	vm.TLAReset()
	vm.TLACode("config", string(input))
	contents, foundAt, err := ev.imp.Import("", "main.jsonnet")
	if err != nil {
		return nil, &Error{Region: region, File: EntryPoint, Msg: err.Error(), Hint: "every fleet needs templates/main.jsonnet"}
	}
	type result struct {
		out string
		err error
	}
	done := make(chan result, 1)
	go func() {
		out, err := vm.EvaluateAnonymousSnippet(foundAt, contents.String())
		done <- result{out, err}
	}()
	var timeout <-chan time.Time
	if ev.timeout > 0 {
		t := time.NewTimer(ev.timeout)
		defer t.Stop()
		timeout = t.C
	}
	var r result
	select {
	case r = <-done:
	case <-timeout:
		// The evaluation cannot be interrupted; abandon it and its VM.
		ev.vm = nil
		return nil, &Error{Region: region, File: EntryPoint, Msg: fmt.Sprintf("template evaluation did not finish within %s", ev.timeout),
			Hint: "a template that never terminates (unbounded recursion or a huge std.range); if it is only slow, raise --eval-timeout"}
	}
	out, err := r.out, r.err
	if err != nil {
		return nil, jsonnetError(region, err)
	}
	var o Output
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(&o); err != nil {
		return nil, &Error{Region: region, File: EntryPoint, Msg: "the template's result has the wrong shape", Err: err,
			Hint: "main.jsonnet must return {components: {<name>: [objects]}, review?: {<file>: [objects]}, owned?: {<settings key>: {hint, names}}, aws: {hostedZone, certificates, healthChecks, records, roles?, secrets?}}"}
	}
	return &o, nil
}

var jsonnetLocRE = regexp.MustCompile(`(templates/[^\s:]+):(\d+):\d+`)

// jsonnetError turns a go-jsonnet error into an Error naming the file and
// line of the innermost frame inside templates/.
func jsonnetError(region string, err error) error {
	msg := strings.TrimSpace(err.Error())
	e := &Error{Region: region, Msg: "template evaluation failed: " + msg}
	if m := jsonnetLocRE.FindStringSubmatch(msg); m != nil {
		e.File = m[1]
		e.Line, _ = strconv.Atoi(m[2])
	}
	return e
}
