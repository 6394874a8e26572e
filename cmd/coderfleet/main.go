// Command coderfleet renders a multi-region Coder platform into the git
// tree Flux applies, and syncs its AWS pieces. See README.md.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/coderfleet/coderfleet/internal/jsonout"
	"github.com/coderfleet/coderfleet/internal/version"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes the CLI with args and returns the process exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRootCommand(stdout, stderr)
	root.SetArgs(args)
	c, err := root.ExecuteContextC(ctx)
	if err == nil {
		return exitOK
	}
	code := exitCode(err)
	var ee *exitError
	if errors.As(err, &ee) && ee.err == nil {
		return code // an outcome (like "stale"), already reported
	}
	if isUsageError(err) {
		code = exitUsage
	}
	writeErrorDocument(c, stdout, code, err)
	fmt.Fprintf(stderr, "error: %v\n", err)
	return code
}

// newRootCommand builds the command tree writing to stdout and stderr (set
// before cobra's completion command, which keeps the writer it is built with).
func newRootCommand(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "coderfleet",
		Short: "Render and sync a multi-region Coder platform the GitOps way",
		Long: `coderfleet renders overlays/ (what you edit) and templates/ into regions/
(what Flux applies), checks that the committed tree is current, and applies the
AWS pieces (ACM certificates, Route53 records) that Kubernetes cannot make.

Exit codes: 0 success; 1 differences found (check, diff --exit-code);
2 changes pending (sync plan --detailed-exitcode; status: not all serving); 3 invalid input (fix a file);
4 runtime failure (I/O, AWS, network); 64 usage error.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version.Version,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	// A hidden flag for profiling the hot paths (see bench/results.md).
	var cpuProfile string
	root.PersistentFlags().StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile to this file")
	_ = root.PersistentFlags().MarkHidden("cpuprofile")
	var profile *os.File
	root.PersistentPreRunE = func(c *cobra.Command, _ []string) error {
		if err := resolveRepoFlag(c); err != nil {
			return err
		}
		if cpuProfile == "" {
			return nil
		}
		f, err := os.Create(cpuProfile)
		if err != nil {
			return err
		}
		profile = f
		return pprof.StartCPUProfile(f)
	}
	root.PersistentPostRun = func(*cobra.Command, []string) {
		if profile != nil {
			pprof.StopCPUProfile()
			profile.Close()
		}
	}
	root.SetFlagErrorFunc(flagError)
	root.AddCommand(newRenderCommand(), newCheckCommand(), newSyncCommand(), newVersionCommand())
	root.AddCommand(newVendorCommand(), newDiffCommand(), newRegionCommand(), newStatusCommand())
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	enforceArgs(root)
	return root
}

// usageError is a problem with flags or arguments.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func isUsageError(err error) bool {
	var ue *usageError
	return errors.As(err, &ue)
}

// versionSchema names the JSON document of `version -o json`.
var versionSchema = jsonout.Schema("version")

func newVersionCommand() *cobra.Command {
	var output string
	c := &cobra.Command{
		Use:   "version",
		Short: "Print coderfleet's version",
		Long: `version prints coderfleet's version. -o json prints
{"schemaVersion": "` + versionSchema + `", "summary": {}, "version": "..."}
(docs/json.md).`,
		Example: `  coderfleet version
  coderfleet version -o json | jq -r .version`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := checkOutput(output, textOrJSON); err != nil {
				return err
			}
			if output == outputJSON {
				return jsonout.Encode(c.OutOrStdout(), struct {
					SchemaVersion string   `json:"schemaVersion"`
					Summary       struct{} `json:"summary"`
					Version       string   `json:"version"`
				}{SchemaVersion: versionSchema, Version: version.Version})
			}
			fmt.Fprintf(c.OutOrStdout(), "coderfleet %s\n", version.Version)
			return nil
		},
	}
	addOutputFlag(c, &output, textOrJSON)
	return c
}
