package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/logging"
	"github.com/spf13/cobra"

	fleetconfig "github.com/coderfleet/coderfleet/config"
	"github.com/coderfleet/coderfleet/internal/coderapi"
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
	lockTimeout      time.Duration
	// out is the plan file sync plan --out writes.
	out string
	// autoApprove skips apply's confirmation (required without a terminal).
	autoApprove bool
	// reissueTokens re-issues lost Coder tokens and adopts same-named
	// Coder objects (sync.Options.ReissueTokens).
	reissueTokens bool
}

// getenv reads the environment; tests replace it.
var getenv = os.Getenv

// Coder's own CLI environment variables, which sync reads too.
const (
	envCoderURL   = "CODER_URL"
	envCoderToken = "CODER_SESSION_TOKEN"
)

// coderClient builds the client of the primary's coderd from CODER_URL and
// CODER_SESSION_TOKEN; nil without CODER_URL (the Coder part is skipped).
// CODER_URL without a token, or a URL that is not one, is a usage error.
func coderClient() (fleetsync.CoderAPI, error) {
	url, token := getenv(envCoderURL), getenv(envCoderToken)
	if url == "" {
		return nil, nil
	}
	if token == "" {
		return nil, &usageError{err: fmt.Errorf("%s is set but %s is not: both are needed to reach coderd (sync registers the workspace proxies and provisioner keys, status reads them) (hint: export %s=$(coder tokens create) with an Owner's login, or unset %s to skip the Coder part)",
			envCoderURL, envCoderToken, envCoderToken, envCoderURL)}
	}
	c, err := coderapi.New(url, token, nil)
	if err != nil {
		return nil, &usageError{err: fmt.Errorf("%s: %w (hint: the primary's access URL, such as https://coder.example.com)", envCoderURL, err)}
	}
	return c, nil
}

// coderSkipped writes the one line saying the Coder part was skipped, when
// it was, with what the desired state lists.
func coderSkipped(w io.Writer, p *fleetsync.Plan) {
	if p.Coder == nil || !p.Coder.Skipped {
		return
	}
	fmt.Fprintf(w, "Coder part skipped: %s is not set; the desired state lists %d workspace proxy(ies) and %d provisioner key(s) (hint: set %s and %s, an Owner's token, to register them)\n",
		envCoderURL, p.Coder.DesiredProxies, p.Coder.DesiredKeys, envCoderURL, envCoderToken)
}

func newSyncCommand() *cobra.Command {
	o := &syncOptions{}
	cmd := &cobra.Command{
		Use:   "sync",
		Short: "Plan and apply the AWS pieces (ACM certificates, Route53 health checks and records, IAM roles, Secrets Manager secrets) and the Coder proxies and provisioner keys",
		Long: `sync applies regions/<region>/aws/*.yaml, exactly as committed, to ACM,
Route53, IAM and Secrets Manager through the standard AWS configuration chain
(profiles, environment variables, AWS_ENDPOINT_URL; AWS_MAX_ATTEMPTS bounds the
retries of each call, 8 by default, each retry shown on stderr; missing
credentials or an endpoint that does not answer end in one line with the fix,
exit 4). It changes only what it owns: certificates, health checks, IAM roles
and secrets tagged by coderfleet and records with a coderfleet ownership TXT
record; it creates a secret without a value and never writes one, except the
Coder tokens below. It reads what the fleet owns in every AWS region it has
used (a registry TXT record in the hosted zone lists them), so the objects of a
region folder that was removed or renamed are listed under Notes; owned objects
that left the desired state are deleted only with --prune, and --region keeps
other regions' objects out of it.
A plan real Route53 would reject (say, a second latency record of one name, type
and AWS region) is refused before any call.

Coder is sync's second target: with CODER_URL and CODER_SESSION_TOKEN (the
Coder CLI's own variables; an Owner's token, and a Premium licence on the
deployment) it registers on the primary's coderd the workspace proxies and
provisioner keys of regions/<region>/aws/workspaceproxies.yaml and
provisionerkeys.yaml, and puts each one-time token straight into its Secrets
Manager secret (never printed, logged or written to disk). The plan shows,
for each proxy, whether it is registered and the status coderd reports. A
token whose secret lost its value is re-issued only with --reissue-tokens,
which also adopts a same-named proxy or key coderfleet does not own; without
it, both are conflicts. Without CODER_URL one line says the Coder part is
skipped; CODER_URL without CODER_SESSION_TOKEN is a usage error (64).

Before any AWS call, every file passes the secret guard that render runs
(with secretGuard.allow of overlays/fleet.yaml): a credential in a tag,
record or health check is refused with exit code 3, naming file and line.

After apply, the ARNs of the issued certificates are in overlays/<region>/outputs.yaml:
run coderfleet render and commit, so the Services use them. A region whose
overlays/<region>/ folder was removed while apply ran gets no outputs.yaml (one
line says so): it is being decommissioned.

One apply at a time: apply holds the lock file .coderfleet/sync.lock
(git-ignored), which records its pid, host, command and start time; a second
apply fails at once naming that holder (exit 4), before any AWS call, or waits
for it with --lock-timeout. The lock ends with its process. plan takes no lock.

-o json prints one document instead of the text (docs/json.md): schema
coderfleet.io/sync-plan/v1 for plan, coderfleet.io/sync-apply/v1 for apply
(a failed apply's document carries its diagnostics), coderfleet.io/error/v1
when the verb fails before it has a plan.`,
		Example: `  coderfleet sync plan --detailed-exitcode
  coderfleet sync apply --region us-west-2,eu-west-2
  CODER_URL=https://coder.example.com CODER_SESSION_TOKEN=$(coder tokens create) coderfleet sync plan`,
	}
	flags := func(c *cobra.Command) {
		addRepoFlag(c, &o.repo)
		addRegionFlag(c, &o.regions, "region folder to sync (default: every region)")
		c.Flags().BoolVar(&o.prune, "prune", false, "delete owned objects that are no longer in the desired state, those of removed region folders included")
		c.Flags().BoolVar(&o.reissueTokens, "reissue-tokens", false, "re-issue the token of a Coder workspace proxy or provisioner key whose token secret lost its value, and adopt a same-named one coderfleet does not own (re-issuing its token)")
		addOutputFlag(c, &o.output, []string{fleetsync.FormatText, fleetsync.FormatJSON})
	}
	plan := &cobra.Command{
		Use:   "plan",
		Short: "Show what sync apply would create, change and delete",
		Long: `plan shows what sync apply would create, change and delete, and makes no change.
Validation CNAMEs of certificates still to request are listed as "(known after
apply)" and counted apart in the summary line.

With --out FILE it also writes the plan to FILE (a versioned JSON document,
the same bytes for the same repository and AWS state; see docs/sync.md "Saved
plans"): coderfleet sync apply FILE then applies exactly that plan, without a
prompt, or refuses it if the repository or AWS changed since.

With CODER_URL and CODER_SESSION_TOKEN (an Owner's token) it also plans the
workspace proxies and provisioner keys on coderd and says, per proxy, whether
it is registered and what coderd reports; without CODER_URL one line says the
Coder part is skipped (see coderfleet sync --help).`,
		Example: `  coderfleet sync plan
  coderfleet sync plan --region us-west-2 -o json
  coderfleet sync plan --detailed-exitcode   # exit 2 unless converged, 0 when converged
  coderfleet sync plan -o json | jq '.summary'  # schema coderfleet.io/sync-plan/v1 (docs/json.md)
  coderfleet sync plan --out sync.plan        # review, then: coderfleet sync apply sync.plan
  coderfleet sync plan --reissue-tokens       # what re-issuing lost Coder tokens would do`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return runSyncPlan(c.Context(), o, c.OutOrStdout(), c.ErrOrStderr())
		},
	}
	flags(plan)
	plan.Flags().StringVar(&o.out, "out", "", "also write the plan to this file, for coderfleet sync apply FILE")
	plan.Flags().BoolVar(&o.detailedExitCode, "detailed-exitcode", false, "exit 2 unless AWS and outputs.yaml match (changes or an outputs.yaml to write, records waiting, conflicts), 0 when they do")
	apply := &cobra.Command{
		Use:   "apply [FILE]",
		Short: "Create, change and (with --prune) delete the AWS pieces to match regions/*/aws",
		Long: `apply shows the plan, asks for confirmation, makes the changes, waits for new
certificates to be ISSUED and writes overlays/<region>/outputs.yaml. The wait
checks at once, then after 1s, 2s, 4s, 8s and every 15s from then on, for at
most --timeout.

On a terminal it asks "Apply the changes above to AWS?" (listing the
--prune deletions again) and goes on only for "yes"; anything else cancels,
exit 1, nothing changed. Without a terminal (CI, a pipe) it goes on only with
--auto-approve; without it, it is a usage error (64).

apply FILE applies a plan saved by coderfleet sync plan --out FILE, without a
prompt (it was reviewed), with the plan's regions and --prune. It refuses the
plan (exit 4, nothing applied) when a repository file it was made from, or an
AWS object it would touch, changed since, naming what changed: run
coderfleet sync plan --out FILE again.

With CODER_URL and CODER_SESSION_TOKEN (an Owner's token) it also registers
the workspace proxies and provisioner keys on coderd and puts each one-time
token straight into its Secrets Manager secret, never printing it; without
CODER_URL one line says the Coder part is skipped (see coderfleet sync --help).`,
		Example: `  coderfleet sync apply
  coderfleet sync apply --region eu-west-2
  coderfleet sync apply --auto-approve       # without a terminal (CI)
  coderfleet sync apply sync.plan            # a plan saved with coderfleet sync plan --out sync.plan
  coderfleet sync apply --timeout 45m        # wait longer for ACM to issue new certificates
  coderfleet sync apply --prune              # after git rm -r overlays/<region> and coderfleet render
  coderfleet sync apply -o json              # schema coderfleet.io/sync-apply/v1 (docs/json.md)
  coderfleet sync apply --reissue-tokens     # re-issue Coder tokens whose secrets lost their value`,
		Args: planFileArg,
		RunE: func(c *cobra.Command, args []string) error {
			file := ""
			if len(args) == 1 {
				file = args[0]
				// --auto-approve is accepted and changes nothing: a saved
				// plan never prompts (terraform apply -auto-approve FILE).
				for _, f := range []string{"region", "prune", "reissue-tokens"} {
					if c.Flags().Changed(f) {
						return &usageError{err: fmt.Errorf("--%s cannot be given with a saved plan %s: the plan fixes its regions and --prune (hint: run coderfleet sync plan --out %s with the flags you want, then coderfleet sync apply %s)", f, file, file, file)}
					}
				}
			}
			return runSyncApply(c.Context(), o, file, c.OutOrStdout(), c.ErrOrStderr())
		},
	}
	flags(apply)
	apply.Flags().BoolVar(&o.autoApprove, "auto-approve", false, "apply without asking for confirmation (required without a terminal)")
	addLockTimeoutFlag(apply, &o.lockTimeout, syncLockFile)
	apply.Flags().DurationVar(&o.timeout, "timeout", 15*time.Minute, "how long to wait for new certificates to be ISSUED (a duration such as 90s, 30m or 1h)")
	cmd.AddCommand(plan, apply)
	return cmd
}

// syncLibOptions turns the flags into the library's options, with clients
// from the standard AWS configuration chain (whose credentials it also
// returns, for syncExit). AWS_MAX_ATTEMPTS, when set, bounds sync's own
// retries of each call.
func syncLibOptions(ctx context.Context, o *syncOptions) (fleetsync.Options, aws.CredentialsProvider, error) {
	if err := checkOutput(o.output, textOrJSON); err != nil {
		return fleetsync.Options{}, nil, err
	}
	coder, err := coderClient()
	if err != nil {
		return fleetsync.Options{}, nil, err
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
		ReissueTokens:    o.reissueTokens,
		Coder:            coder,
		SecretGuardAllow: allow,
		Clients:          fleetsync.NewClients(cfg),
		WriteFile: func(p string, data []byte) error {
			return repofs.WriteFile(filepath.Join(root, filepath.FromSlash(p)), data)
		},
	}, cfg.Credentials, nil
}

// syncRegions checks the regions asked for with --region against the
// region folders sync can act on, as render checks them against the fleet.
// A region of the fleet (overlays/<region>/region.yaml exists) that has no
// regions/<region>/aws/ yet is an input problem, exit 3: the repository
// must be rendered, the flag is right.
func syncRegions(ctx context.Context, repo fs.FS, requested []string) ([]string, error) {
	if len(requested) == 0 {
		return nil, nil
	}
	known, err := fleetsync.RegionFolders(repo)
	if err != nil {
		return nil, syncExit(ctx, err, nil)
	}
	names, err := render.SelectRegions(requested, known)
	var unknown *render.UnknownRegionError
	if errors.As(err, &unknown) {
		overlay := path.Join("overlays", unknown.Name, "region.yaml")
		if _, serr := fs.Stat(repo, overlay); serr == nil {
			return nil, &exitError{code: exitInput, err: &fleetsync.InputError{File: overlay,
				Msg:  fmt.Sprintf("region %s is not rendered yet: its overlay exists but regions/%s/aws/ does not", unknown.Name, unknown.Name),
				Hint: "run coderfleet render first, then coderfleet sync plan --region " + unknown.Name}}
		}
	}
	return names, err
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
	coderSkipped(stderr, p)
	if err := fleetsync.WritePlan(stdout, p, o.output); err != nil {
		return &exitError{code: exitRuntime, err: err}
	}
	if o.out != "" {
		data, err := p.Save()
		if err == nil {
			err = repofs.WriteFile(o.out, data)
		}
		if err != nil {
			return &exitError{code: exitRuntime, err: fmt.Errorf("writing the plan file %q: %w", o.out, err)}
		}
		fmt.Fprintf(stderr, "Saved the plan to %s: coderfleet sync apply %s applies exactly this plan.\n", o.out, o.out)
	}
	if o.detailedExitCode && !p.Converged() {
		return &exitError{code: exitChanges}
	}
	return nil
}

// runSyncApply applies the plan computed now, after confirmation (see
// confirmApply), or the saved plan file when file is set.
func runSyncApply(ctx context.Context, o *syncOptions, file string, stdout, stderr io.Writer) error {
	if o.timeout <= 0 {
		return &usageError{err: fmt.Errorf("--timeout %s: the wait for certificates must be positive (hint: pass a duration such as --timeout 30m; ACM usually validates a DNS-validated certificate within 30 minutes)", o.timeout)}
	}
	con := consoleFrom(ctx)
	if file == "" && !o.autoApprove && !con.isTerminal() {
		return &usageError{err: fmt.Errorf("sync apply asks for confirmation, and standard input is not a terminal (hint: pass --auto-approve to apply without asking, as in CI, or save a plan with coderfleet sync plan --out FILE, review it and run coderfleet sync apply FILE)")}
	}
	var saved *fleetsync.SavedPlan
	if file != "" {
		data, err := os.ReadFile(file)
		if err != nil {
			// Unreadable is an I/O failure (4); a file that is not a plan is
			// invalid input (3, below).
			return &exitError{code: exitRuntime, err: fmt.Errorf("reading the saved plan: %w (hint: write it with coderfleet sync plan --out %s)", err, file)}
		}
		if saved, err = fleetsync.LoadPlanFile(file, data); err != nil {
			return &exitError{code: exitInput, err: err}
		}
	}
	l, err := lockRepo(ctx, "coderfleet sync apply", o.repo, syncLockFile, o.lockTimeout, stderr)
	if err != nil {
		return err
	}
	defer l.Release()
	opts, creds, err := syncLibOptions(ctx, o)
	if err != nil {
		return err
	}
	opts.Saved = saved
	opts.CertificateTimeout = o.timeout
	opts.Progress = stderr
	opts.OnPlan = func(p *fleetsync.Plan) error {
		coderSkipped(stderr, p)
		if o.output == fleetsync.FormatText {
			// What waits is printed once, after applying (WriteResult).
			_ = fleetsync.WriteApplyPlan(stdout, p)
			fmt.Fprintln(stdout)
		}
		if file != "" || o.autoApprove || len(p.Changes) == 0 {
			return nil
		}
		if o.output != fleetsync.FormatText {
			// stdout is for the JSON result; the reviewer reads the plan here.
			_ = fleetsync.WritePlan(stderr, p, fleetsync.FormatText)
			fmt.Fprintln(stderr)
		}
		return confirmApply(con.in, stderr, p)
	}
	res, err := fleetsync.Apply(ctx, opts)
	var stale *fleetsync.StalePlanError
	if errors.As(err, &stale) {
		stale.File = file
		return &exitError{code: exitRuntime, err: err}
	}
	var cancelled *applyCancelled
	if errors.As(err, &cancelled) {
		return &exitError{code: exitDiffers, err: err}
	}
	if res != nil && err != nil {
		err = res.Failed(err)
	}
	if res != nil {
		if werr := fleetsync.WriteResult(stdout, res, o.output); werr != nil && err == nil {
			err = werr
		}
	}
	if err != nil {
		err = syncExit(ctx, err, creds)
		if res != nil && o.output == fleetsync.FormatJSON {
			err = &jsonReported{err: err} // the result's diagnostics carry it
		}
		return err
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
