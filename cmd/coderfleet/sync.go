package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/logging"
	"github.com/spf13/cobra"

	fleetconfig "github.com/coderfleet/coderfleet/config"
	"github.com/coderfleet/coderfleet/internal/repofs"
	"github.com/coderfleet/coderfleet/render"
	fleetsync "github.com/coderfleet/coderfleet/sync"
)

// syncOptions are the flags of coderfleet sync plan|apply.
type syncOptions struct {
	repo             string
	regions          []string
	prune            bool
	output           string
	detailedExitCode bool
	timeout          time.Duration
}

func newSyncCommand() *cobra.Command {
	o := &syncOptions{}
	cmd := &cobra.Command{
		Use:   "sync",
		Short: "Plan and apply the AWS pieces (ACM certificates, Route53 health checks and records)",
		Long: `sync applies regions/<region>/aws/*.yaml, exactly as committed, to ACM and Route53
through the standard AWS configuration chain (profiles, environment variables,
AWS_ENDPOINT_URL; AWS_MAX_ATTEMPTS bounds the retries of each call, 8 by
default, each retry shown on stderr; missing credentials or an endpoint that
does not answer end in one line with the fix, exit 4). It changes only what it owns: certificates and health checks
tagged by coderfleet and records with a coderfleet ownership TXT record. It reads
what the fleet owns in every AWS region it has used (a registry TXT record in the
hosted zone lists them), so the objects of a region folder that was removed or
renamed are listed under Notes; owned objects that left the desired state are
deleted only with --prune, and --region keeps other regions' objects out of it.
A plan real Route53 would reject (say, a second latency record of one name, type
and AWS region) is refused before any call.

Before any AWS call, every file passes the secret guard that render runs
(with secretGuard.allow of overlays/fleet.yaml): a credential in a tag,
record or health check is refused with exit code 3, naming file and line.

After apply, the ARNs of the issued certificates are in overlays/<region>/outputs.yaml:
run coderfleet render and commit, so the Services use them.`,
		Example: `  coderfleet sync plan --detailed-exitcode
  coderfleet sync apply --region us-west-2,eu-west-2`,
	}
	flags := func(c *cobra.Command) {
		addRepoFlag(c, &o.repo)
		addRegionFlag(c, &o.regions, "region folder to sync (default: every region)")
		c.Flags().BoolVar(&o.prune, "prune", false, "delete owned objects that are no longer in the desired state, those of removed region folders included")
		addOutputFlag(c, &o.output, []string{fleetsync.FormatText, fleetsync.FormatJSON})
	}
	plan := &cobra.Command{
		Use:   "plan",
		Short: "Show what sync apply would create, change and delete",
		Example: `  coderfleet sync plan
  coderfleet sync plan --region us-west-2 -o json
  coderfleet sync plan --detailed-exitcode   # exit 2 unless converged, 0 when converged`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return runSyncPlan(c.Context(), o, c.OutOrStdout(), c.ErrOrStderr())
		},
	}
	flags(plan)
	plan.Flags().BoolVar(&o.detailedExitCode, "detailed-exitcode", false, "exit 2 unless AWS and outputs.yaml match (changes or an outputs.yaml to write, records waiting, conflicts), 0 when they do")
	apply := &cobra.Command{
		Use:   "apply",
		Short: "Create, change and (with --prune) delete the AWS pieces to match regions/*/aws",
		Example: `  coderfleet sync apply
  coderfleet sync apply --region eu-west-2
  coderfleet sync apply --timeout 45m        # wait longer for ACM to issue new certificates
  coderfleet sync apply --prune              # after git rm -r overlays/<region> and coderfleet render`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return runSyncApply(c.Context(), o, c.OutOrStdout(), c.ErrOrStderr())
		},
	}
	flags(apply)
	apply.Flags().DurationVar(&o.timeout, "timeout", 15*time.Minute, "how long to wait for new certificates to be ISSUED (a duration such as 90s, 30m or 1h)")
	cmd.AddCommand(plan, apply)
	return cmd
}

// syncLibOptions turns the flags into the library's options, with clients
// from the standard AWS configuration chain (whose credentials it also
// returns, for syncExit). AWS_MAX_ATTEMPTS, when set, bounds sync's own
// retries of each call.
func syncLibOptions(ctx context.Context, o *syncOptions) (fleetsync.Options, aws.CredentialsProvider, error) {
	if o.output != fleetsync.FormatText && o.output != fleetsync.FormatJSON {
		return fleetsync.Options{}, nil, &usageError{err: fmt.Errorf("unknown --output %q: use text or json", o.output)}
	}
	// The root closes with the process (os.Root's finalizer): the plan
	// and apply that follow read through it.
	fsys, err := repofs.Open(o.repo)
	if err != nil {
		return fleetsync.Options{}, nil, err
	}
	allow, err := secretGuardAllow(fsys)
	if err != nil {
		return fleetsync.Options{}, nil, err
	}
	// The SDK's log lines never reach the terminal (see fleetsync.NewClients).
	cfg, err := config.LoadDefaultConfig(ctx, config.WithLogger(logging.Nop{}))
	var noProfile config.SharedConfigProfileNotExistError
	if errors.As(err, &noProfile) {
		err = fmt.Errorf("profile %q (AWS_PROFILE) is not in %s (hint: create it with `aws configure sso --profile %s` or `aws configure --profile %s`, or set AWS_PROFILE to one of `aws configure list-profiles`)",
			noProfile.Profile, strings.Join(noProfile.Filename, " or "), noProfile.Profile, noProfile.Profile)
	}
	if err != nil {
		return fleetsync.Options{}, nil, &exitError{code: exitRuntime, err: fmt.Errorf("loading AWS configuration: %w", err)}
	}
	retry := fleetsync.DefaultRetryPolicy
	if cfg.RetryMaxAttempts > 0 {
		retry.MaxAttempts = cfg.RetryMaxAttempts
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1" // Route53 is global; ACM and ELB get their region per call
	}
	root := o.repo
	repo := fsys.IOFS()
	regions, err := syncRegions(ctx, repo, o.regions)
	if err != nil {
		return fleetsync.Options{}, nil, err
	}
	return fleetsync.Options{
		Retry:            retry,
		Repo:             repo,
		Regions:          regions,
		Prune:            o.prune,
		SecretGuardAllow: allow,
		Clients:          fleetsync.NewClients(cfg),
		WriteFile: func(p string, data []byte) error {
			return writeFileAtomic(filepath.Join(root, filepath.FromSlash(p)), data)
		},
	}, cfg.Credentials, nil
}

// syncRegions checks the regions asked for with --region against the
// region folders sync can act on, as render checks them against the fleet.
func syncRegions(ctx context.Context, repo fs.FS, requested []string) ([]string, error) {
	if len(requested) == 0 {
		return nil, nil
	}
	known, err := fleetsync.RegionFolders(repo)
	if err != nil {
		return nil, syncExit(ctx, err, nil)
	}
	return render.SelectRegions(requested, known)
}

// secretGuardAllow reads the secret guard's allowances from the
// repository's configuration, as render does: a region's effective
// secretGuard.allow, and fleet.yaml's for a region folder whose overlay is
// gone. A repository without overlays/fleet.yaml allows nothing; a
// configuration that does not load is the error render would report.
func secretGuardAllow(fsys *repofs.FS) (fleetsync.AllowFunc, error) {
	if !fsys.Exists(filepath.Join(fsys.Dir(), filepath.FromSlash(fleetconfig.FleetFile))) {
		return nil, nil
	}
	cfg, err := fleetconfig.Load(fsys, fsys.Dir(), fleetconfig.LoadOptions{})
	if err != nil {
		return nil, err
	}
	return func(region string) []fleetconfig.Allowance {
		if r := cfg.Region(region); r != nil {
			return r.Settings.SecretGuard.Allow
		}
		return cfg.Fleet.SecretGuard.Allow
	}, nil
}

func runSyncPlan(ctx context.Context, o *syncOptions, stdout, stderr io.Writer) error {
	opts, creds, err := syncLibOptions(ctx, o)
	if err != nil {
		return err
	}
	opts.Progress = stderr // retries
	p, err := fleetsync.PlanChanges(ctx, opts)
	if err != nil {
		return syncExit(ctx, err, creds)
	}
	if err := fleetsync.WritePlan(stdout, p, o.output); err != nil {
		return &exitError{code: exitRuntime, err: err}
	}
	if o.detailedExitCode && !p.Converged() {
		return &exitError{code: exitChanges}
	}
	return nil
}

func runSyncApply(ctx context.Context, o *syncOptions, stdout, stderr io.Writer) error {
	if o.timeout <= 0 {
		return &usageError{err: fmt.Errorf("--timeout %s: the wait for certificates must be positive (hint: pass a duration such as --timeout 30m; ACM usually validates a DNS-validated certificate within 30 minutes)", o.timeout)}
	}
	opts, creds, err := syncLibOptions(ctx, o)
	if err != nil {
		return err
	}
	opts.CertificateTimeout = o.timeout
	opts.Progress = stderr
	if o.output == fleetsync.FormatText {
		opts.OnPlan = func(p *fleetsync.Plan) {
			_ = fleetsync.WritePlan(stdout, p, fleetsync.FormatText)
			fmt.Fprintln(stdout)
		}
	}
	res, err := fleetsync.Apply(ctx, opts)
	if res != nil && err != nil {
		err = res.Failed(err)
	}
	if res != nil {
		if werr := fleetsync.WriteResult(stdout, res, o.output); werr != nil && err == nil {
			err = werr
		}
	}
	if err != nil {
		return syncExit(ctx, err, creds)
	}
	return nil
}

// syncExit maps sync errors to exit codes: a file to fix is 3, anything
// else 4. Missing credentials and an endpoint that cannot be reached are
// told in one line with the fix (see awsEnvError), not as the SDK's chain.
func syncExit(ctx context.Context, err error, creds aws.CredentialsProvider) error {
	var in *fleetsync.InputError
	if errors.As(err, &in) {
		return &exitError{code: exitInput, err: err}
	}
	return &exitError{code: exitRuntime, err: awsEnvError(ctx, err, creds)}
}

// awsEnvError rewrites a failed AWS call whose fix is in the user's
// environment rather than in the repository: no credentials (creds, the
// configuration chain's provider, is nil or fails), or an endpoint that
// does not answer. The result keeps sync's own context ("reading AWS state:
// looking up hosted zone ... (after 8 attempts)") and replaces the SDK's
// text with the cause and a hint naming AWS_PROFILE, aws sso login or
// AWS_ENDPOINT_URL. Any other error, an answer from AWS included, is
// returned as it is.
func awsEnvError(ctx context.Context, err error, creds aws.CredentialsProvider) error {
	var op *smithy.OperationError
	var api smithy.APIError
	if !errors.As(err, &op) || errors.As(err, &api) {
		return err
	}
	where, ok := strings.CutSuffix(err.Error(), ": "+op.Error())
	if !ok {
		where = op.Service() + " " + op.Operation()
	}
	noCreds := creds == nil
	if !noCreds {
		_, cerr := creds.Retrieve(ctx)
		noCreds = cerr != nil
	}
	if noCreds {
		hint := "set AWS_PROFILE to a profile of ~/.aws/config and run `aws sso login` if it uses IAM Identity Center, or export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
		if p := os.Getenv("AWS_PROFILE"); p != "" {
			hint = fmt.Sprintf("AWS_PROFILE is %q: run `aws sso login --profile %s` if it uses IAM Identity Center, or give it credentials in ~/.aws/config or ~/.aws/credentials", p, p)
		}
		return fmt.Errorf("%s: no AWS credentials found (environment, AWS_PROFILE, shared config and credentials files, SSO and instance metadata were tried) (hint: %s)", where, hint)
	}
	if endpoint, cause, ok := fleetsync.Unreachable(err); ok {
		if endpoint == "" {
			endpoint = "for " + op.Service()
		}
		hint := fmt.Sprintf("check the network, proxy (HTTPS_PROXY) and firewall on the way to %s; for another endpoint, set AWS_ENDPOINT_URL", endpoint)
		if e := os.Getenv("AWS_ENDPOINT_URL"); e != "" {
			hint = fmt.Sprintf("AWS_ENDPOINT_URL is %q: start the service there or correct it, or unset it to use AWS itself", e)
		}
		return fmt.Errorf("%s: cannot reach the AWS endpoint %s: %s (hint: %s)", where, endpoint, cause, hint)
	}
	return err
}

// writeFileAtomic writes data next to path and renames it into place.
func writeFileAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
