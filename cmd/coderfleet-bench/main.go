package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
)

// Exit codes, as the coderfleet CLI uses them.
const (
	exitRuntime = 4
	exitUsage   = 64
)

// options are the harness's flags.
type options struct {
	coderfleet   string
	jsonnet      string
	kubectl      string
	src          string
	sizes        []int
	reps         int
	pipelineReps int
	work         string
	out          string
	gobench      string
	gobenchAWS   string
	commit       string
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run parses args, measures and reports; it returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "coderfleet-bench: %v\n", err)
		return exitUsage
	}
	res, err := measureAll(ctx, o, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "coderfleet-bench: %v\n", err)
		return exitRuntime
	}
	if o.gobench != "" {
		data, err := os.ReadFile(o.gobench)
		switch {
		case err == nil:
			res.gobench = parseGoBench(data)
			res.gobenchFile = o.gobench
		case errors.Is(err, os.ErrNotExist):
			fmt.Fprintf(stderr, "coderfleet-bench: note: %q does not exist; the report has no Go benchmark section (run `make bench`)\n", o.gobench)
		default:
			fmt.Fprintf(stderr, "coderfleet-bench: reading %q: %v\n", o.gobench, err)
			return exitRuntime
		}
	}
	if o.gobenchAWS != "" {
		if res.aws, err = readAWSBench(o.gobenchAWS, stderr); err != nil {
			fmt.Fprintf(stderr, "coderfleet-bench: %v\n", err)
			return exitRuntime
		}
		res.awsFile = o.gobenchAWS
	}
	md := report(res)
	fmt.Fprint(stdout, md)
	if o.out != "" {
		old, err := os.ReadFile(o.out)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			fmt.Fprintf(stderr, "coderfleet-bench: reading the report: %v\n", err)
			return exitRuntime
		}
		if err := os.WriteFile(o.out, []byte(keepHandWritten(md, old)), 0o644); err != nil {
			fmt.Fprintf(stderr, "coderfleet-bench: writing the report: %v\n", err)
			return exitRuntime
		}
		fmt.Fprintf(stderr, "coderfleet-bench: wrote %q\n", o.out)
	}
	return 0
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("coderfleet-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.coderfleet, "coderfleet", "", "the coderfleet binary to measure (required; `make bench` builds it)")
	fs.StringVar(&o.jsonnet, "jsonnet", "", "the go-jsonnet CLI for the comparison pipeline (required; go install github.com/google/go-jsonnet/cmd/jsonnet@v0.22.0)")
	fs.StringVar(&o.kubectl, "kubectl", "kubectl", "kubectl, for `kubectl kustomize` in the comparison pipeline")
	fs.StringVar(&o.src, "src", ".", "the example repository the synthetic fleets are made from (overlays/fleet.yaml, templates/)")
	sizes := fs.String("sizes", "1,10,100", "comma-separated fleet sizes (regions)")
	fs.IntVar(&o.reps, "reps", 5, "repetitions of each coderfleet measurement")
	fs.IntVar(&o.pipelineReps, "pipeline-reps", 3, "repetitions of the comparison pipeline")
	fs.StringVar(&o.work, "work", "", "scratch folder (default: a new temporary folder, removed at the end)")
	fs.StringVar(&o.out, "out", "", "write the Markdown report here too (e.g. bench/results.md)")
	fs.StringVar(&o.gobench, "gobench", "", "`go test -bench` output to summarise in the report (e.g. bench/gobench.txt)")
	fs.StringVar(&o.gobenchAWS, "gobench-aws", "", "`go test -bench` output of the AWS benchmarks for the report's AWS section (e.g. bench/gobench-aws.txt, from make bench-aws)")
	fs.StringVar(&o.commit, "commit", "", "the commit measured, for the report")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q: all inputs are flags (see -h)", fs.Arg(0))
	}
	for _, s := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("-sizes: %q is not a positive number of regions", s)
		}
		o.sizes = append(o.sizes, n)
	}
	if o.reps < 1 || o.pipelineReps < 1 {
		return nil, errors.New("-reps and -pipeline-reps must be at least 1")
	}
	for _, t := range []struct{ flag, val, hint string }{
		{"-coderfleet", o.coderfleet, "build it with `go build -o bin/coderfleet ./cmd/coderfleet` or run `make bench`"},
		{"-jsonnet", o.jsonnet, "install it with `GOBIN=$PWD/bin go install github.com/google/go-jsonnet/cmd/jsonnet@v0.22.0` or run `make bench`"},
		{"-kubectl", o.kubectl, "kubectl (with kustomize) must be on PATH or named with -kubectl"},
	} {
		if t.val == "" {
			return nil, fmt.Errorf("%s is required: %s", t.flag, t.hint)
		}
		p, err := exec.LookPath(t.val)
		if err != nil {
			return nil, fmt.Errorf("%s %q: %v; %s", t.flag, t.val, err, t.hint)
		}
		abs, err := filepath.Abs(p)
		if err != nil {
			return nil, err
		}
		switch t.flag {
		case "-coderfleet":
			o.coderfleet = abs
		case "-jsonnet":
			o.jsonnet = abs
		case "-kubectl":
			o.kubectl = abs
		}
	}
	src, err := filepath.Abs(o.src)
	if err != nil {
		return nil, err
	}
	o.src = src
	return o, nil
}

// handWrittenMarker is the line of bench/results.md after which the text is
// written by hand (measurements made outside the harness, profiles) and
// kept when the harness rewrites the report above it.
const handWrittenMarker = "<!-- Below this line: written by hand; make bench keeps it. -->"

// keepHandWritten returns the new report followed by the hand-written part
// of the old one (from handWrittenMarker on), or the report alone when the
// old one has no marker.
func keepHandWritten(report string, old []byte) string {
	i := bytes.Index(old, []byte(handWrittenMarker))
	if i < 0 {
		return report
	}
	return strings.TrimRight(report, "\n") + "\n\n" + string(old[i:])
}
