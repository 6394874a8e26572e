// Package fleet wires the renderer together the way the CLI runs it: the
// render options every verb shares (the AWS desired state of
// regions/<region>/aws/ comes from the templates) and how outputs.yaml is
// read back.
package fleet

import (
	"crypto/sha256"
	"encoding/hex"
	"path/filepath"
	"strings"
	"time"

	jsonnet "github.com/google/go-jsonnet"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/coderfleet/coderfleet/awsstate"
	"github.com/coderfleet/coderfleet/charts"
	"github.com/coderfleet/coderfleet/config"
	"github.com/coderfleet/coderfleet/internal/diag"
	"github.com/coderfleet/coderfleet/internal/version"
	"github.com/coderfleet/coderfleet/render"
)

// RenderOptions configures the renderer the way the CLI uses it, for the
// repository at repo inside fsys; regions limits the render (empty: all).
// It does not give templates the vendored Helm charts: Prepare does.
func RenderOptions(fsys filesys.FileSystem, repo string, regions []string) render.Options {
	return render.Options{
		FS:           fsys,
		Repo:         repo,
		Regions:      regions,
		Version:      version.Version,
		ParseOutputs: ParseOutputs,
		AWS:          true,
		MaxStack:     DefaultMaxStack,
		EvalTimeout:  DefaultEvalTimeout,
	}
}

// Prepare is RenderOptions plus the vendored Helm charts: it verifies
// templates/charts against charts.lock, so every render fails on a tampered
// chart or a forgotten `coderfleet vendor`, gives the templates
// `helmTemplate`, and mixes the lock into every region's inputs digest.
func Prepare(fsys filesys.FileSystem, repo string, regions []string) (render.Options, error) {
	opts := RenderOptions(fsys, repo, regions)
	templates := filepath.Join(repo, render.TemplatesDir)
	r, err := charts.NewRenderer(fsys, templates)
	if err != nil {
		return render.Options{}, err
	}
	opts.NativeFunctions = []*jsonnet.NativeFunction{r.NativeFunction()}
	if data, err := fsys.ReadFile(filepath.Join(templates, "charts", "charts.lock")); err == nil {
		sum := sha256.Sum256(data)
		opts.ExtraDigest = "charts.lock:" + hex.EncodeToString(sum[:])
	}
	return opts, nil
}

// Evaluation limits of the CLI (flags --max-stack and --eval-timeout).
const (
	DefaultMaxStack    = 500
	DefaultEvalTimeout = 2 * time.Minute
)

// ParseOutputs reads overlays/<region>/outputs.yaml for config.Load.
func ParseOutputs(file string, data []byte) (map[string]string, error) {
	o, err := awsstate.ParseOutputs(file, data)
	if err != nil {
		const hint = "this file is written by `coderfleet sync apply`; delete it and run sync again if it was edited by hand"
		problems := diag.All(err)
		if len(problems) == 0 {
			return nil, &config.Error{File: file, Err: err, Hint: hint}
		}
		out := make(config.ErrorList, len(problems))
		for i, p := range problems {
			e := *p
			e.BareKey = false // placed as config places its keys
			e.Hint = strings.TrimPrefix(e.Hint+"; "+hint, "; ")
			out[i] = &e
		}
		return nil, out
	}
	return o.Certificates, nil
}
