package sync

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	gosync "sync"
	"sync/atomic"
	"time"
)

// Options configure Plan and Apply. The CLI fills them from flags; tests fill
// them with fakes.
type Options struct {
	// Repo is the repository root (regions/ and overlays/ inside it).
	Repo fs.FS
	// Regions limits the run to these region folders; empty means all.
	Regions []string
	// SecretGuardAllow gives each region's secret guard allowances
	// (secretGuard.allow in overlays/fleet.yaml); nil allows nothing. The
	// guard itself always runs over the desired-state files.
	SecretGuardAllow AllowFunc
	// Prune allows deleting owned objects that left the desired state.
	Prune bool
	// Clients are the AWS clients.
	Clients Clients
	// Coder is the primary region's coderd, on which sync registers the
	// desired workspace proxies and provisioner keys; nil skips the Coder
	// part (Plan.Coder.Skipped): nothing of Coder is read or changed.
	Coder CoderAPI
	// ReissueTokens allows re-issuing the token of a Coder object whose
	// token secret lost its value, and adopting a Coder object of a desired
	// name that no token secret of the fleet names (--reissue-tokens).
	ReissueTokens bool
	// Clock gives time and sleeps; nil means the wall clock.
	Clock Clock
	// Progress receives progress lines while applying; nil discards them.
	Progress io.Writer
	// WriteFile writes a file below the repository root (slash-separated
	// path), used for overlays/<region>/outputs.yaml. Required by Apply.
	WriteFile func(path string, data []byte) error
	// Retry bounds the retries of each AWS call; zero means DefaultRetryPolicy.
	Retry RetryPolicy
	// Limits bound one Route53 change batch; zero means DefaultBatchLimits.
	Limits BatchLimits
	// CertificateTimeout bounds the wait for certificates to become ISSUED;
	// zero means 15 minutes.
	CertificateTimeout time.Duration
	// PollInterval is the longest wait between two checks of the
	// certificates still pending while Apply waits for them to be ISSUED:
	// the waits start at one second and double up to it (by default 1s,
	// 2s, 4s, 8s, then 15s each); zero means 15 seconds.
	PollInterval time.Duration
	// ChangeTimeout bounds the wait for a Route53 change to be INSYNC; zero means 10 minutes.
	ChangeTimeout time.Duration
	// RecordPageSize is the MaxItems of ListResourceRecordSets; zero means 300.
	RecordPageSize int32
	// OnPlan, when set, is called by Apply with the plan before any change
	// is made; an error it returns stops Apply, which returns that error
	// and a nil *Result (the CLI's confirmation prompt uses it).
	OnPlan func(*Plan) error
	// Saved, when set, is the plan file to apply (sync apply FILE): Apply
	// runs with its regions and --prune, and refuses with a
	// *StalePlanError, before any change, when the repository files, the
	// AWS objects it touches or the plan computed anew differ from it;
	// record changes that appear while applying (other than validation
	// CNAMEs, known only then) stop it too.
	Saved *SavedPlan
}

type syncer struct {
	opts    Options
	clock   Clock
	retries atomic.Int64
	// share, set by ReadStatus, is the read cache its per-region readers
	// share; with it, reads of independent objects run at once (each).
	share *readCache
	// progressMu keeps concurrent progress lines whole.
	progressMu gosync.Mutex
	// requested holds the certificates this run requested, by AWS region:
	// reads find them even before the tagging API lists them.
	requested   map[string][]ownedCert
	requestedMu gosync.Mutex
	// roleListingMin is the number of roles above which readIAM reads the
	// account's roles in one listing instead of role by role (see
	// roleListingMin; tests set it to compare both reads).
	roleListingMin int
	// noteNoProvider makes readClusters mark a cluster without an IAM OIDC
	// provider (Cluster.NoProvider) instead of failing: status judges it
	// per region.
	noteNoProvider bool
	// certSummaries makes readCertificates take what it can from the
	// ListCertificates summaries (ReadStatus): see certFromSummary.
	certSummaries bool
	// rolesFromListing makes readIAM take every role from the account's
	// GetAccountAuthorizationDetails listing alone, without ListRoles
	// (ReadStatus): the listing lacks descriptions, so the roles it builds
	// have Role.DescriptionUnread set.
	rolesFromListing bool
}

func newSyncer(opts Options) (*syncer, error) {
	if opts.Repo == nil {
		return nil, fmt.Errorf("sync: Options.Repo is not set")
	}
	if opts.Clients.Route53 == nil || opts.Clients.ACM == nil || opts.Clients.Tagging == nil || opts.Clients.ELB == nil {
		return nil, fmt.Errorf("sync: Options.Clients is incomplete")
	}
	s := &syncer{opts: opts, clock: opts.Clock, requested: map[string][]ownedCert{}, roleListingMin: roleListingMin}
	if s.clock == nil {
		s.clock = RealClock{}
	}
	if s.opts.Limits == (BatchLimits{}) {
		s.opts.Limits = DefaultBatchLimits
	}
	if s.opts.CertificateTimeout == 0 {
		s.opts.CertificateTimeout = 15 * time.Minute
	}
	if s.opts.PollInterval == 0 {
		s.opts.PollInterval = 15 * time.Second
	}
	if s.opts.RecordPageSize == 0 {
		s.opts.RecordPageSize = 300
	}
	if s.opts.ChangeTimeout == 0 {
		s.opts.ChangeTimeout = 10 * time.Minute
	}
	return s, nil
}

// bound makes the read calls of sync plan and apply go through a read
// cache that keeps nothing and bounds the calls in flight per service
// (readBounds): their reads run in parallel.
func (s *syncer) bound() {
	s.opts.Clients = newReadCache(false).wrap(s.opts.Clients)
}

func (s *syncer) progressf(format string, args ...any) {
	if s.opts.Progress != nil {
		s.progressMu.Lock()
		defer s.progressMu.Unlock()
		fmt.Fprintf(s.opts.Progress, format, args...)
	}
}

// PlanChanges reads the desired state from the repository and the actual state from
// AWS and returns what Apply would do. It makes no change. A plan that real
// Route53 would reject (see checkRoute53Rules) is an *InputError.
func PlanChanges(ctx context.Context, opts Options) (*Plan, error) {
	s, err := newSyncer(opts)
	if err != nil {
		return nil, err
	}
	s.bound()
	d, err := LoadDesired(opts.Repo, opts.Regions, opts.SecretGuardAllow)
	if err != nil {
		return nil, err
	}
	a, err := s.read(ctx, d)
	if err != nil {
		return nil, fmt.Errorf("reading AWS state: %w", err)
	}
	pol := Policy{Prune: opts.Prune, ReissueTokens: opts.ReissueTokens}
	p := Compute(d, a, pol)
	if err := checkRoute53Rules(p, a, d, pol); err != nil {
		return nil, err
	}
	planOutputs(p, opts.Repo, d, a)
	p.basis = &planBasis{d: d, a: a, pol: pol, regions: opts.Regions, repo: opts.Repo}
	return p, nil
}
