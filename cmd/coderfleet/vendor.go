package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/coderfleet/coderfleet/charts"
	"github.com/coderfleet/coderfleet/config"
	"github.com/coderfleet/coderfleet/internal/jsonout"
	"github.com/coderfleet/coderfleet/internal/repofs"
)

// vendorOptions are the flags of vendor.
type vendorOptions struct {
	repo           string
	check          bool
	plainHTTP      bool
	registryConfig string
	output         string
	// lockTimeout is how long vendor waits for the repository's lock.
	lockTimeout time.Duration
}

func newVendorCommand() *cobra.Command {
	o := &vendorOptions{}
	c := &cobra.Command{
		Use:   "vendor",
		Short: "Pull the Helm charts listed in templates/charts/charts.yaml and lock them",
		Long: `vendor pulls every chart listed in templates/charts/charts.yaml (from an
https:// chart repository or an oci:// registry), verifies its digest, name,
version and packaged dependencies, unpacks it under templates/charts/<name>/<version>/, removes other
versions and unlisted charts, and writes templates/charts/charts.lock (the
sha256 of each archive, a digest of each unpacked tree, the Helm version).
Every chart is pulled again on every run; nothing is cached by name. A name and
version already locked keep their archive, whatever the repository is called
now: a different archive stops vendor (exit 3).

With --check it makes no network request and changes nothing: it compares the
vendored files with charts.lock and charts.yaml, lists every mismatch and exits 1
if there is one. Every render makes the same check and fails on a mismatch.

vendor (not --check) holds the repository's lock file .coderfleet/render.lock
while it runs, as render does, so a render never reads a half-vendored chart:
with another render or vendor running it fails at once naming the holder
(exit 4), or waits for it with --lock-timeout.

Versions must be exact (1.2.3, v1.18.2): ranges such as ^1.2 are refused.
See docs/charts.md. -o json prints one document, schema ` + vendorSchema + `
(docs/json.md), with the same exit codes.`,
		Example: `  # Vendor the charts after editing templates/charts/charts.yaml
  coderfleet vendor

  # In CI: fail when vendored charts were edited or a version change was not vendored
  coderfleet vendor --check
  coderfleet vendor --check -o json | jq -r '.problems[]'

  # Vendor a fleet elsewhere, from a registry on plain HTTP (a local test registry)
  coderfleet vendor --repo ~/src/platform --plain-http`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if !o.check {
				// Render reads templates/charts/: it must not see a half-vendored chart.
				l, err := lockRepo(c.Context(), c.CommandPath(), o.repo, renderLockFile, o.lockTimeout, c.ErrOrStderr())
				if err != nil {
					return err
				}
				defer l.Release()
			}
			return runVendor(c.Context(), o, c.OutOrStdout())
		},
	}
	addRepoFlag(c, &o.repo)
	addLockTimeoutFlag(c, &o.lockTimeout, renderLockFile)
	c.Flags().BoolVar(&o.check, "check", false, "only compare the vendored charts with charts.lock (no network); exit 1 on a mismatch")
	c.Flags().BoolVar(&o.plainHTTP, "plain-http", false, "talk to oci:// registries over plain HTTP")
	c.Flags().StringVar(&o.registryConfig, "registry-config", "", "registry credentials file (default: Helm's, then Docker's)")
	addOutputFlag(c, &o.output, textOrJSON)
	return c
}

func runVendor(ctx context.Context, o *vendorOptions, out io.Writer) error {
	if err := checkOutput(o.output, textOrJSON); err != nil {
		return err
	}
	fsys, err := repofs.Open(o.repo)
	if err != nil {
		return &exitError{code: exitRuntime, err: err}
	}
	defer fsys.Close()
	repo := fsys.Dir()
	templatesDir := filepath.Join(repo, "templates")
	if !fsys.IsDir(templatesDir) {
		return &exitError{code: exitInput, err: fmt.Errorf("%q has no templates folder: point --repo at the fleet repository's root", repo)}
	}
	if o.check {
		return runVendorCheck(fsys, templatesDir, out, o.output)
	}
	fetcher, err := charts.NewHelmFetcher(charts.FetcherOptions{PlainHTTP: o.plainHTTP, RegistryConfig: o.registryConfig})
	if err != nil {
		return &exitError{code: exitRuntime, err: err}
	}
	res, err := charts.Vendor(ctx, charts.VendorOptions{FS: fsys, TemplatesDir: templatesDir, Fetcher: fetcher})
	if err != nil {
		return classifyChartsError(err)
	}
	if o.output == outputJSON {
		return jsonout.Encode(out, newVendorDocument(repo, res))
	}
	if res.LockPath == "" {
		fmt.Fprintln(out, "no charts are listed in templates/charts/charts.yaml: nothing to vendor (see docs/charts.md)")
		return nil
	}
	for _, ch := range res.Charts {
		switch ch.Status {
		case charts.StatusUpdated:
			fmt.Fprintf(out, "updated    %s %s (was %s)\n", ch.Name, ch.Version, ch.Previous)
		default:
			fmt.Fprintf(out, "%-10s %s %s\n", ch.Status, ch.Name, ch.Version)
		}
	}
	for _, p := range res.Removed {
		fmt.Fprintf(out, "removed    %s\n", relTo(repo, p))
	}
	fmt.Fprintf(out, "wrote %s (%d chart(s))\n", relTo(repo, res.LockPath), len(res.Charts))
	if len(res.Charts) > 0 || len(res.Removed) > 0 {
		fmt.Fprintln(out, "next: run `coderfleet render`, review `git diff -- templates/charts regions/`, then commit both.")
	}
	return nil
}

func runVendorCheck(fsys filesys.FileSystem, templatesDir string, out io.Writer, output string) error {
	problems, err := charts.Check(fsys, templatesDir)
	if err != nil {
		return classifyChartsError(err)
	}
	if output == outputJSON {
		if err := jsonout.Encode(out, newVendorCheckDocument(problems)); err != nil {
			return err
		}
		if len(problems) > 0 {
			return &exitError{code: exitDiffers}
		}
		return nil
	}
	if len(problems) == 0 {
		fmt.Fprintln(out, "vendored charts match templates/charts/charts.lock")
		return nil
	}
	fmt.Fprintln(out, "vendored charts do not match templates/charts/charts.lock:")
	for _, p := range problems {
		fmt.Fprintf(out, "  - %s\n", p)
	}
	fmt.Fprintln(out, "run `coderfleet vendor` to vendor the charts listed in templates/charts/charts.yaml again, then review the diff")
	return &exitError{code: exitDiffers}
}

// classifyChartsError maps a charts error to its exit code: a file to fix
// is invalid input (3), anything else (network, I/O) a runtime failure (4).
func classifyChartsError(err error) error {
	if charts.IsInputError(err) || config.IsInputError(err) {
		return &exitError{code: exitInput, err: err}
	}
	return &exitError{code: exitRuntime, err: err}
}

func relTo(base, p string) string {
	if r, err := filepath.Rel(base, p); err == nil {
		return r
	}
	return p
}

// vendorSchema names the JSON document of `vendor -o json`.
var vendorSchema = jsonout.Schema("vendor")

// vendorDocument is `vendor -o json`, for a vendoring run (mode "vendor")
// and for --check (mode "check").
type vendorDocument struct {
	SchemaVersion string `json:"schemaVersion"`
	// Mode is "vendor" or "check".
	Mode string `json:"mode"`
	// Status: "vendored" or "nothing-listed" (mode vendor), "match" or
	// "mismatch" (mode check, exit 1).
	Status  string `json:"status"`
	Summary struct {
		Charts    int `json:"charts"`
		Added     int `json:"added"`
		Updated   int `json:"updated"`
		Unchanged int `json:"unchanged"`
		Removed   int `json:"removed"`
		Problems  int `json:"problems"`
	} `json:"summary"`
	// Charts are the vendored charts, sorted by name ([] for check).
	Charts []vendoredChart `json:"charts"`
	// Removed are the folders removed, relative to the repository.
	Removed []string `json:"removed"`
	// Lock is the lock file written, relative to the repository; null
	// when none was (nothing listed, or check).
	Lock *string `json:"lock"`
	// Problems are check's mismatches, as text lists them.
	Problems []string `json:"problems"`
}

type vendoredChart struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	// Status is "added", "updated" or "unchanged".
	Status string `json:"status"`
	// Previous is the version an updated chart had; null otherwise.
	Previous *string `json:"previous"`
}

func newVendorDocument(repo string, res *charts.VendorResult) vendorDocument {
	d := vendorDocument{SchemaVersion: vendorSchema, Mode: "vendor", Status: "vendored",
		Charts: make([]vendoredChart, 0, len(res.Charts)), Removed: []string{}, Problems: []string{}}
	if res.LockPath == "" {
		d.Status = "nothing-listed"
	} else {
		lock := relTo(repo, res.LockPath)
		d.Lock = &lock
	}
	for _, ch := range res.Charts {
		vc := vendoredChart{Name: ch.Name, Version: ch.Version, Status: string(ch.Status)}
		switch ch.Status {
		case charts.StatusAdded:
			d.Summary.Added++
		case charts.StatusUpdated:
			d.Summary.Updated++
			prev := ch.Previous
			vc.Previous = &prev
		case charts.StatusUnchanged:
			d.Summary.Unchanged++
		}
		d.Charts = append(d.Charts, vc)
	}
	for _, p := range res.Removed {
		d.Removed = append(d.Removed, relTo(repo, p))
	}
	d.Summary.Charts, d.Summary.Removed = len(d.Charts), len(d.Removed)
	return d
}

func newVendorCheckDocument(problems []string) vendorDocument {
	d := vendorDocument{SchemaVersion: vendorSchema, Mode: "check", Status: "match",
		Charts: []vendoredChart{}, Removed: []string{}, Problems: append([]string{}, problems...)}
	if len(problems) > 0 {
		d.Status = "mismatch"
	}
	d.Summary.Problems = len(problems)
	return d
}
