package main

import (
	"bytes"
	_ "embed"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/coderfleet/coderfleet/config"
	"github.com/coderfleet/coderfleet/internal/fleet"
	"github.com/coderfleet/coderfleet/internal/version"
	"github.com/coderfleet/coderfleet/render"
)

// splitJsonnet is the pipeline's entry point (see split.jsonnet).
//
//go:embed split.jsonnet
var splitJsonnet []byte

// measurePipeline measures the one-process-per-step pipeline on the fleet
// at dir, after coderfleet rendered it (regions/ is current): per region,
// the go-jsonnet CLI writes one file per object, then, for a region with a
// kustomization.yaml, `kubectl kustomize` applies its overlay. The
// regions' template inputs are produced once, up front, outside the timing.
func measurePipeline(r *runner, o *options, sr *sizeResult, dir, split string) error {
	cfg, err := config.Load(filesys.MakeFsOnDisk(), dir, config.LoadOptions{ParseOutputs: fleet.ParseOutputs})
	if err != nil {
		return fmt.Errorf("loading the fleet for the pipeline: %w", err)
	}
	pdir := dir + "-pipeline"
	inputs := filepath.Join(pdir, "inputs")
	if err := os.RemoveAll(pdir); err != nil {
		return err
	}
	if err := os.MkdirAll(inputs, 0o755); err != nil {
		return err
	}
	for _, reg := range cfg.Regions {
		data, err := render.TemplateInputJSON(cfg, reg, version.Version)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(inputs, reg.Region.Name+".json"), data, 0o644); err != nil {
			return err
		}
	}
	templates := filepath.Join(dir, "templates")
	out := filepath.Join(pdir, "out")
	for range o.pipelineReps {
		if err := os.RemoveAll(out); err != nil {
			return err
		}
		run := sample{}
		var js, ks sample
		procs, jn, kn := 0, 0, 0
		start := time.Now()
		for _, reg := range cfg.Regions {
			name := reg.Region.Name
			base := filepath.Join(out, name, "base")
			if err := os.MkdirAll(base, 0o755); err != nil {
				return err
			}
			s, err := r.must(0, o.jsonnet, "-J", templates, "--tla-code-file", "config="+filepath.Join(inputs, name+".json"),
				"-S", "-m", base+string(filepath.Separator), split)
			if err != nil {
				return fmt.Errorf("region %s: %w", name, err)
			}
			procs++
			jn++
			js.wall += s.wall
			js.cpu += s.cpu
			run.cpu += s.cpu
			js.rssKB = max(js.rssKB, s.rssKB)
			run.rssKB = max(run.rssKB, s.rssKB)
			overlay := filepath.Join(out, name, "overlay")
			ok, err := prepareOverlay(filepath.Join(dir, filepath.FromSlash(reg.Dir)), overlay)
			if err != nil {
				return fmt.Errorf("region %s: %w", name, err)
			}
			if !ok {
				continue
			}
			s, err = r.must(0, o.kubectl, "kustomize", overlay, "-o", filepath.Join(out, name, "out.yaml"))
			if err != nil {
				return fmt.Errorf("region %s: %w", name, err)
			}
			procs++
			kn++
			ks.wall += s.wall
			ks.cpu += s.cpu
			run.cpu += s.cpu
			ks.rssKB = max(ks.rssKB, s.rssKB)
			run.rssKB = max(run.rssKB, s.rssKB)
		}
		run.wall = time.Since(start)
		sr.pipeline = append(sr.pipeline, run)
		sr.jsonnetTime = append(sr.jsonnetTime, js)
		sr.kustomizeTime = append(sr.kustomizeTime, ks)
		sr.pipelineProcs, sr.jsonnetProcs, sr.kustomizeProcs = procs, jn, kn
	}

	// Both tools must have produced the same objects, or the comparison
	// compares different work.
	total := 0
	for _, reg := range cfg.Regions {
		name := reg.Region.Name
		got, err := pipelineObjects(filepath.Join(out, name))
		if err != nil {
			return fmt.Errorf("region %s: %w", name, err)
		}
		want, err := renderedObjects(filepath.Join(dir, "regions", name))
		if err != nil {
			return fmt.Errorf("region %s: %w", name, err)
		}
		if got != want {
			return fmt.Errorf("region %s: the pipeline produced %d objects, coderfleet %d: they do not do the same work", name, got, want)
		}
		total += got
	}
	sr.objects = total
	return nil
}

// prepareOverlay copies the region's overlay folder to dst as a
// kustomization over ../base, as a user's shell script would: everything
// but coderfleet's own region.yaml and outputs.yaml. It reports false
// when the region has no kustomization.yaml.
func prepareOverlay(src, dst string) (bool, error) {
	k, err := os.ReadFile(filepath.Join(src, render.KustomizationFile))
	if os.IsNotExist(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if bytes.Contains(k, []byte("\nresources:")) {
		return false, fmt.Errorf("%q already lists resources; the pipeline only adds ../base to overlays without them", filepath.Join(src, render.KustomizationFile))
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return false, err
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		return false, err
	}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || name == config.RegionFile || name == config.OutputsFile {
			continue
		}
		data, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			return false, err
		}
		if name == render.KustomizationFile {
			data = append(data, "resources:\n  - ../base\n"...)
		}
		if err := os.WriteFile(filepath.Join(dst, name), data, 0o644); err != nil {
			return false, err
		}
	}
	return true, nil
}

// pipelineObjects counts the objects the pipeline produced for a region:
// the documents of kustomize's output, or the files jsonnet wrote.
func pipelineObjects(dir string) (int, error) {
	if data, err := os.ReadFile(filepath.Join(dir, "out.yaml")); err == nil {
		return len(splitDocs(data)), nil
	}
	entries, err := os.ReadDir(filepath.Join(dir, "base"))
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range entries {
		if e.Name() != render.KustomizationFile {
			n++
		}
	}
	return n, nil
}

// renderedObjects counts the Kubernetes objects coderfleet wrote for a
// region: one per file, outside aws/ and review/, not counting the
// components' kustomization.yaml and the marker.
func renderedObjects(dir string) (int, error) {
	n := 0
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if rel == render.AWSDir || rel == render.ReviewDir {
				return filepath.SkipDir
			}
			return nil
		}
		if d.Name() == render.KustomizationFile || d.Name() == render.MarkerFile || !strings.HasSuffix(d.Name(), ".yaml") {
			return nil
		}
		n += len(splitDocs(mustRead(p)))
		return nil
	})
	return n, err
}

func mustRead(p string) []byte {
	data, _ := os.ReadFile(p)
	return data
}

// splitDocs splits a YAML stream into its non-empty documents.
func splitDocs(data []byte) [][]byte {
	var docs [][]byte
	for _, d := range bytes.Split(append([]byte("\n"), data...), []byte("\n---")) {
		if len(bytes.TrimSpace(stripComments(d))) > 0 {
			docs = append(docs, d)
		}
	}
	return docs
}

func stripComments(d []byte) []byte {
	var out []byte
	for _, l := range bytes.Split(d, []byte("\n")) {
		if t := bytes.TrimSpace(l); len(t) > 0 && t[0] != '#' {
			out = append(out, l...)
			out = append(out, '\n')
		}
	}
	return out
}
