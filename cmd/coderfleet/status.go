package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/coderfleet/coderfleet/internal/coderapi"
	"github.com/coderfleet/coderfleet/internal/diag"
	fleetsync "github.com/coderfleet/coderfleet/sync"
)

// statusClock gives coderfleet status --watch its time and waits; tests
// replace it with a fake clock (no real sleeps).
var statusClock fleetsync.Clock = fleetsync.RealClock{}

// statusClients, when set, wraps the AWS clients status reads through
// (tests use it to report a failing health check, which moto cannot).
var statusClients func(fleetsync.Clients) fleetsync.Clients

// statusInterval is the wait between two rounds of status --watch.
const statusInterval = 15 * time.Second

// statusOptions are the flags of coderfleet status.
type statusOptions struct {
	sync         syncOptions
	watch        bool
	watchTimeout time.Duration
}

func newStatusCommand() *cobra.Command {
	o := &statusOptions{}
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show whether each region serves: certificates, load balancers, records, health checks, IAM roles, Coder proxies and provisioners",
		Long: `status reads, and never changes, the AWS state of each region against the
committed desired state (regions/<region>/aws/*.yaml), through the same AWS
configuration chain and retry policy as sync, reading regions in parallel.
For each region it shows:

  - certificates: ACM status, ARN, days to expiry, whether
    overlays/<region>/outputs.yaml holds that ARN, and whether the Service
    its records alias, as committed in regions/<region>/, names it in its
    service.beta.kubernetes.io/aws-load-balancer-ssl-cert annotation (not:
    degraded once its NLB exists; run coderfleet render and commit); a
    validation CNAME whose value was edited in place is seen only by sync
    plan;
  - load balancers (found by the AWS Load Balancer Controller's tags, as sync
    finds them): state (active, provisioning, failed), DNS name, and whether
    the region's alias records point at them;
  - records: each desired record in-sync, missing, drifted (the fields as in
    sync plan), waiting for its load balancer or in conflict with a foreign one; for a record with a health
    check, Route53's checkers that find it healthy out of all, and the last
    failure reported (GetHealthCheckStatus);
  - IAM roles: in-sync, missing, drifted (the fields as in sync plan: trust,
    inline or managed policies, tags; not the description, which only sync
    plan compares), waiting for their EKS cluster or in conflict (a role
    coderfleet does not own has the name);
  - Coder, when CODER_URL and CODER_SESSION_TOKEN are set (an Owner's
    token): coderd's version; the region's workspace proxy
    (workspaceproxies.yaml): in coderd or not, coderd's status and version
    (a proxy region serves only once it is ok); and per workspace namespace
    (provisionerkeys.yaml) the provisioner daemons connected with its key's
    tags (none: degraded). Without CODER_URL one line says Coder was not read;

and a verdict: "serving", "degraded (<what>)" or "not yet serving (<next
step>)", the next step worded as the "Next:" lines of sync plan. Roles
waiting for their cluster come before records waiting for its load
balancers; a cluster that exists without an IAM OIDC provider makes its
region "not yet serving (create the cluster's IAM OIDC provider: eksctl
...)" while the other regions are judged as usual.

Exit codes: 0 every region serves; 2 a region is degraded or not yet
serving; 3 the repository's files are invalid; 4 reading AWS or Coder failed;
64 CODER_URL without CODER_SESSION_TOKEN.

--watch reads again every 15s, printing a progress line on stderr after each
round, until every region serves (exit 0) or --watch-timeout passes (exit 2);
it then prints the last status.

-o json prints one document (schema coderfleet.io/status/v1, docs/json.md).`,
		Example: `  coderfleet status
  coderfleet status --region ap-south-1 --watch     # after onboarding: wait until it serves
  coderfleet status --watch --watch-timeout 30m
  coderfleet status -o json | jq '.regions[] | {region, verdict, reason}'`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return runStatus(c.Context(), o, c.OutOrStdout(), c.ErrOrStderr())
		},
	}
	addRepoFlag(cmd, &o.sync.repo)
	addRegionFlag(cmd, &o.sync.regions, "region folder to report (default: every region)")
	addOutputFlag(cmd, &o.sync.output, []string{fleetsync.FormatText, fleetsync.FormatJSON})
	cmd.Flags().BoolVar(&o.watch, "watch", false, "read again every 15s until every region serves or --watch-timeout passes")
	cmd.Flags().DurationVar(&o.watchTimeout, "watch-timeout", 15*time.Minute, "how long --watch waits for every region to serve (a duration such as 90s, 30m or 1h)")
	return cmd
}

func runStatus(ctx context.Context, o *statusOptions, stdout, stderr io.Writer) error {
	if o.watch && o.watchTimeout <= 0 {
		return &usageError{err: fmt.Errorf("--watch-timeout %s: the wait must be positive (hint: pass a duration such as --watch-timeout 15m)", o.watchTimeout)}
	}
	opts, creds, err := syncLibOptions(ctx, &o.sync)
	if err != nil {
		return err
	}
	opts.Progress = stderr // retries
	opts.Clock = statusClock
	opts.WriteFile = nil // status never writes
	if statusClients != nil {
		opts.Clients = statusClients(opts.Clients)
	}
	coder, err := statusCoderClient()
	if err != nil {
		return err
	}
	deadline := statusClock.Now().Add(o.watchTimeout)
	var st *fleetsync.FleetStatus
	for round := 1; ; round++ {
		st, err = fleetsync.ReadStatus(ctx, opts)
		if err != nil {
			return syncExit(ctx, err, creds)
		}
		if coder == nil {
			st.Coder = &fleetsync.CoderStatus{Reason: fleetsync.CoderSkipped}
		} else if err := fleetsync.ReadCoderStatus(ctx, coder, opts, st); err != nil {
			return statusCoderExit(coder, err)
		}
		if !o.watch {
			break
		}
		fmt.Fprintf(stderr, "status round %d: %s\n", round, st.ProgressLine())
		if st.Serving() || !statusClock.Now().Before(deadline) {
			break
		}
		if err := statusClock.Sleep(ctx, min(statusInterval, deadline.Sub(statusClock.Now()))); err != nil {
			return &exitError{code: exitRuntime, err: err}
		}
	}
	if o.watch && !st.Serving() {
		// Say why the watch ended, so exit 2 does not read as a failure to read AWS.
		fmt.Fprintf(stderr, "status: --watch-timeout %s passed before every region served; the last status follows\n", o.watchTimeout)
	}
	if err := fleetsync.WriteStatus(stdout, st, o.sync.output); err != nil {
		return &exitError{code: exitRuntime, err: err}
	}
	if !st.Serving() {
		return &exitError{code: exitChanges}
	}
	return nil
}

// statusCoderClient returns the Coder client of CODER_URL and
// CODER_SESSION_TOKEN (the Coder CLI's variables), nil without CODER_URL;
// CODER_URL without a token is a usage error.
func statusCoderClient() (*coderapi.Client, error) {
	u := os.Getenv("CODER_URL")
	if u == "" {
		return nil, nil
	}
	tok := os.Getenv("CODER_SESSION_TOKEN")
	if tok == "" {
		return nil, &usageError{err: fmt.Errorf("CODER_URL is set but CODER_SESSION_TOKEN is not (hint: set CODER_SESSION_TOKEN to an Owner's token, from coder tokens create, or unset CODER_URL to leave Coder out)")}
	}
	c, err := coderapi.New(u, tok, nil)
	if err != nil {
		return nil, &usageError{err: fmt.Errorf("CODER_URL %q: %w", u, err)}
	}
	return c, nil
}

// statusCoderExit words a failed read of Coder: an invalid desired-state
// file is exit 3, anything else (coderd's answer, the network) exit 4.
func statusCoderExit(c *coderapi.Client, err error) error {
	var de *diag.Error
	if errors.As(err, &de) {
		return syncExit(context.Background(), err, nil)
	}
	msg := fmt.Sprintf("reading Coder at %s: %v", c.URL(), err)
	var ce *coderapi.Error
	if errors.As(err, &ce) && ce.Hint() != "" && !strings.Contains(msg, ce.Hint()) {
		msg += " (hint: " + ce.Hint() + ")"
	}
	return &exitError{code: exitRuntime, err: errors.New(msg)}
}
