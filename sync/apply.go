package sync

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"slices"
	"strings"
	gosync "sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/acm"
	acmtypes "github.com/aws/aws-sdk-go-v2/service/acm/types"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"
	"golang.org/x/sync/semaphore"

	"github.com/coderfleet/coderfleet/awsstate"
	"github.com/coderfleet/coderfleet/internal/awsrules"
)

// Result is what Apply did.
type Result struct {
	// Plan is the plan computed before anything was changed.
	Plan *Plan `json:"plan"`
	// Applied lists the changes made, in order.
	Applied []Change `json:"applied"`
	// Final is the plan computed after applying: what is still waiting,
	// conflicting or kept.
	Final *Plan `json:"final"`
	// Outputs lists the outputs files written.
	Outputs []string `json:"outputs"`
	// Retries counts retried AWS calls.
	Retries int `json:"retries"`
	// Error is why Apply stopped, as Failed words it; empty when it
	// completed.
	Error string `json:"error,omitempty"`
}

// Failed records that Apply stopped with err after making r.Applied, and
// returns err wrapped as "apply failed after N added, M changed, K
// destroyed: <err>", so that a failure never reads as a completed apply.
// errors.As still finds err's own types.
func (r *Result) Failed(err error) error {
	err = fmt.Errorf("apply failed after %s: %w", r.CountsText(), err)
	r.Error = err.Error()
	return err
}

// Counts returns the number of applied creates, updates and deletes of the
// objects the plan knew, and apart from them the number of validation
// CNAMEs that were known only after apply (see Plan.KnownAfterApply), so
// that add equals the plan's "to add" when everything was made.
func (r *Result) Counts() (add, change, destroy, known int) {
	planned := map[string]bool{}
	if r.Plan != nil {
		for _, c := range r.Plan.Changes {
			planned[c.Address] = true
		}
	}
	var knew []Change
	for _, c := range r.Applied {
		if c.Action == Create && c.rec != nil && c.rec.validation && !planned[c.Address] {
			known++
			continue
		}
		knew = append(knew, c)
	}
	add, change, destroy = (&Plan{Changes: knew}).Counts()
	return add, change, destroy, known
}

// CountsText words Counts as "N added, M changed, K destroyed", followed by
// ", J validation record(s) known after apply added" when J > 0.
func (r *Result) CountsText() string {
	add, change, destroy, known := r.Counts()
	s := fmt.Sprintf("%d added, %d changed, %d destroyed", add, change, destroy)
	if known > 0 {
		s += fmt.Sprintf(", %d validation record(s) known after apply added", known)
	}
	return s
}

// ConflictError reports desired records that collide with records coderfleet
// does not own. Apply returns it after making every other change.
type ConflictError struct {
	Conflicts []Conflict
}

// Error lists the conflicting records.
func (e *ConflictError) Error() string {
	var b strings.Builder
	what := "record(s) conflict with records"
	for _, c := range e.Conflicts {
		if c.Resource != "" {
			what = "object(s) conflict with objects"
		}
	}
	fmt.Fprintf(&b, "%d %s coderfleet does not own:", len(e.Conflicts), what)
	for _, c := range e.Conflicts {
		fmt.Fprintf(&b, "\n  %s", c)
	}
	return b.String()
}

// CertificateTimeoutError reports certificates that were not ISSUED in time
// (Options.CertificateTimeout, the CLI's --timeout). Apply returns it after
// making every change and writing the outputs of the issued certificates.
type CertificateTimeoutError struct {
	// Pending names the certificates still waiting, as region/name.
	Pending []string
	// Timeout is the bound that passed.
	Timeout time.Duration
}

// Error names the pending certificates, then a hint: ACM usually validates
// a DNS-validated certificate within 30 minutes of its validation CNAMEs
// being in place (ACM User Guide, "DNS validation").
func (e *CertificateTimeoutError) Error() string {
	return fmt.Sprintf("certificates not ISSUED after %s: %s; their validation records are in place (hint: ACM usually validates within 30 minutes; check that the validation CNAMEs exist with coderfleet sync plan, then run coderfleet sync apply again later, or with a longer --timeout)",
		e.Timeout, strings.Join(e.Pending, ", "))
}

var errReplan = errors.New("a change batch met a state that differs from the plan")

// Apply makes the changes of the plan: certificates and health checks first,
// then records zone by zone, then deletions; it waits for the certificates to
// be ISSUED and writes their ARNs to overlays/<region>/outputs.yaml.
func Apply(ctx context.Context, opts Options) (*Result, error) {
	s, err := newSyncer(opts)
	if err != nil {
		return nil, err
	}
	if opts.WriteFile == nil {
		return nil, fmt.Errorf("sync: Options.WriteFile is not set")
	}
	s.bound()
	if opts.Saved != nil {
		opts.Regions, opts.Prune, opts.ReissueTokens = opts.Saved.Regions, opts.Saved.Prune, opts.Saved.ReissueTokens
	}
	d, err := LoadDesired(opts.Repo, opts.Regions, opts.SecretGuardAllow)
	if err != nil {
		return nil, err
	}
	pol := Policy{Prune: opts.Prune, ReissueTokens: opts.ReissueTokens}
	a, err := s.read(ctx, d)
	if err != nil {
		return nil, fmt.Errorf("reading AWS state: %w", err)
	}
	plan := Compute(d, a, pol)
	// A plan real Route53 would reject is refused before any call.
	if err := checkRoute53Rules(plan, a, d, pol); err != nil {
		return nil, err
	}
	planOutputs(plan, opts.Repo, d, a)
	plan.basis = &planBasis{d: d, a: a, pol: pol, regions: opts.Regions, repo: opts.Repo}
	if opts.Saved != nil {
		changed, err := opts.Saved.stale(plan)
		if err != nil {
			return nil, err
		}
		if len(changed) > 0 {
			return nil, &StalePlanError{Changed: changed,
				NothingToApply: len(plan.Changes)+len(plan.KnownAfterApply)+len(plan.Outputs) == 0}
		}
	}
	if opts.OnPlan != nil {
		if err := opts.OnPlan(plan); err != nil {
			return nil, err
		}
	}
	res := &Result{Plan: plan, Applied: []Change{}, Outputs: []string{}}
	defer func() { res.Retries = int(s.retries.Load()) }()

	// The registry of AWS regions comes first: once a certificate exists in
	// an AWS region, the registry must name it, or a later run that lost the
	// region folder could not find the certificate.
	registry := &Plan{}
	for _, c := range plan.Changes {
		if c.rec != nil && c.rec.registry {
			registry.Changes = append(registry.Changes, c)
		}
	}
	if err := s.applyRecords(ctx, registry, res, true); err != nil {
		return res, err
	}

	// Certificates and health checks come first: records need their IDs and
	// validation names. They are made in parallel, then the IAM roles, also
	// in parallel; secrets and Coder objects follow one by one, in plan
	// order.
	early, err := s.applyCertificatesAndHealthChecks(ctx, plan, res)
	if err != nil {
		return res, err
	}
	roles, err := s.applyRoles(ctx, plan, res)
	early += roles
	if err != nil {
		return res, err
	}
	for _, c := range plan.Changes {
		if c.Action == Delete || c.Resource != ResourceSecret && c.Resource != ResourceWorkspaceProxy && c.Resource != ResourceProvisionerKey {
			continue
		}
		var err error
		switch c.Resource {
		case ResourceSecret:
			err = s.applySecret(ctx, c)
		case ResourceWorkspaceProxy, ResourceProvisionerKey:
			err = s.applyCoder(ctx, c.coder)
		}
		if err != nil {
			return res, err
		}
		s.progressf("%s %s %s: done\n", c.Action, c.Resource, c.Address)
		res.Applied = append(res.Applied, c)
		early++
	}

	// Records; a batch that met an unexpected state (a retried request that
	// had in fact succeeded) makes us read the zone again and re-plan.
	cur := plan
	for round := 0; ; round++ {
		if early > 0 || round > 0 {
			if a, err = s.read(ctx, d); err != nil {
				return res, fmt.Errorf("reading AWS state: %w", err)
			}
			cur = Compute(d, a, pol)
			if err := checkRoute53Rules(cur, a, d, pol); err != nil {
				return res, err
			}
			if extra := opts.Saved.unreviewed(cur); len(extra) > 0 {
				return res, fmt.Errorf("AWS changed while applying the saved plan: %s (hint: run coderfleet sync plan again and review it)", strings.Join(extra, "; "))
			}
		}
		err := s.applyRecords(ctx, cur, res, false)
		if errors.Is(err, errReplan) && round < 2 {
			s.progressf("  re-reading the hosted zone: %v\n", err)
			continue
		}
		if err != nil {
			return res, err
		}
		break
	}

	// Deletions of health checks and certificates, after the records that used them.
	for _, c := range cur.Changes {
		if c.Action != Delete || c.Resource == ResourceRecord {
			continue
		}
		var err error
		switch c.Resource {
		case ResourceHealthCheck:
			err = s.deleteHealthCheck(ctx, c.hc.actual.ID)
		case ResourceCertificate:
			err = s.deleteCertificate(ctx, c.cert)
		case ResourceRole:
			err = s.applyRole(ctx, c)
		case ResourceSecret:
			err = s.applySecret(ctx, c)
		case ResourceWorkspaceProxy, ResourceProvisionerKey:
			err = s.applyCoder(ctx, c.coder)
		}
		if err != nil {
			return res, err
		}
		s.progressf("delete %s %s: done\n", c.Resource, c.Address)
		res.Applied = append(res.Applied, c)
	}

	// What was applied is read again; with nothing applied the first read
	// still holds (the certificates still pending are polled below).
	if len(res.Applied) > 0 {
		if a, err = s.read(ctx, d); err != nil {
			return res, fmt.Errorf("reading AWS state: %w", err)
		}
	}
	res.Final = Compute(d, a, pol)
	if err := s.finishCertificates(ctx, d, a, res); err != nil {
		return res, err
	}
	if len(res.Final.Conflicts) > 0 {
		return res, &ConflictError{Conflicts: res.Final.Conflicts}
	}
	return res, nil
}

// Calls in flight while apply creates certificates and health checks and
// polls the certificates' status. ACM throttles each API per account and
// AWS region (ACM User Guide, "Quotas", "API rate quotas": RequestCertificate
// 5 requests per second, DescribeCertificate 10), Route53 per account (Route
// 53 Developer Guide, "Quotas", "Quotas on Route 53 API requests": 5
// requests per second). A bound on calls in flight keeps the bursts below
// those rates without bounding the rate itself: a throttled call is retried
// with the retry policy's jittered backoff (syncer.call). The polls of the
// certificate wait also pass the read bound on ACM (readBounds).
const (
	// requestCertificateInFlight bounds RequestCertificate calls per AWS region.
	requestCertificateInFlight = 2
	// describeCertificateInFlight bounds the certificate wait's
	// DescribeCertificate calls per AWS region.
	describeCertificateInFlight = 4
	// healthCheckInFlight bounds the health checks being created or
	// updated (and tagged) at once in the account, as readBounds bounds
	// Route53's reads.
	healthCheckInFlight = 2
	// roleInFlight bounds the IAM roles being created or updated at once
	// in the account; each holds its slot for all its calls (CreateRole,
	// PutRolePolicy, AttachRolePolicy, tags), so at most this many IAM
	// calls are in flight. IAM is one endpoint for the account, and its
	// quotas (IAM User Guide, "IAM and AWS STS quotas") bound the objects,
	// not the request rate, which AWS does not publish for IAM's API: the
	// account's callers share it, and a throttled call is retried with the
	// retry policy's backoff. Four, as readBounds allows IAM's reads.
	roleInFlight = 4
)

// slots bounds the calls in flight per key (an API, and its AWS region for
// the regional ones).
type slots struct {
	mu   gosync.Mutex
	sems map[string]*semaphore.Weighted
}

func newSlots() *slots { return &slots{sems: map[string]*semaphore.Weighted{}} }

// do runs fn while holding one of the n slots of key; it returns ctx's
// error when ctx ends while it waits for a slot.
func (l *slots) do(ctx context.Context, key string, n int, fn func() error) error {
	l.mu.Lock()
	sem := l.sems[key]
	if sem == nil {
		sem = semaphore.NewWeighted(int64(n))
		l.sems[key] = sem
	}
	l.mu.Unlock()
	if err := sem.Acquire(ctx, 1); err != nil {
		return err
	}
	defer sem.Release(1)
	return fn()
}

// applyCertificatesAndHealthChecks requests the certificates and creates or
// updates the health checks that p creates or changes, all at once within
// the in-flight bounds (requestCertificateInFlight per AWS region,
// healthCheckInFlight), each call with the retry policy. Each keeps its
// crash-safe form: a certificate is tagged in its request and carries an
// idempotency token, a health check's caller reference is derived from its
// configuration. Lines, res.Applied, errors and the count returned are
// applyAtOnce's: in plan order, all attempted even when one fails.
func (s *syncer) applyCertificatesAndHealthChecks(ctx context.Context, p *Plan, res *Result) (int, error) {
	return s.applyAtOnce(p, res, func(c Change) bool {
		return c.Action != Delete && (c.Resource == ResourceCertificate || c.Resource == ResourceHealthCheck)
	}, func(c Change, lim *slots) error {
		if c.Resource == ResourceCertificate {
			return s.requestCertificate(ctx, c.cert, lim)
		}
		return lim.do(ctx, "route53", healthCheckInFlight, func() error { return s.putHealthCheck(ctx, c.hc) })
	})
}

// applyRoles creates or updates the IAM roles that p creates or changes,
// all at once within roleInFlight, as applyCertificatesAndHealthChecks
// makes the certificates: "done" lines and res.Applied in plan order, every
// role attempted even when one fails, the error the first failure in plan
// order naming the others. Each keeps its crash-safe form (applyRole: an
// EntityAlreadyExists after an ambiguous CreateRole is the role made, a
// NoSuchEntity right after it is retried). It returns the number of roles
// made.
func (s *syncer) applyRoles(ctx context.Context, p *Plan, res *Result) (int, error) {
	return s.applyAtOnce(p, res, func(c Change) bool {
		return c.Action != Delete && c.Resource == ResourceRole
	}, func(c Change, lim *slots) error {
		return lim.do(ctx, "iam role", roleInFlight, func() error { return s.applyRole(ctx, c) })
	})
}

// applyAtOnce makes the changes of p that pick selects, each with apply in
// its own goroutine; apply bounds its calls in flight with the slots it is
// given, shared by the changes of this call. The changes made are appended
// to res.Applied, and their "done" lines printed, in plan order, whatever
// order they finished in. All run even when one fails, so what is made and
// what the error says do not depend on which call finished first: the
// error is the first failure in plan order, followed by the addresses of
// the others that failed. It returns the number of changes made.
func (s *syncer) applyAtOnce(p *Plan, res *Result, pick func(Change) bool, apply func(Change, *slots) error) (int, error) {
	var todo []Change
	for _, c := range p.Changes {
		if pick(c) {
			todo = append(todo, c)
		}
	}
	lim := newSlots()
	errs := make([]error, len(todo))
	var wg gosync.WaitGroup
	for i, c := range todo {
		wg.Go(func() { errs[i] = apply(c, lim) })
	}
	wg.Wait()
	var first error
	var others []string
	for i, c := range todo {
		switch {
		case errs[i] == nil:
			s.progressf("%s %s %s: done\n", c.Action, c.Resource, c.Address)
			res.Applied = append(res.Applied, c)
		case first == nil:
			first = errs[i]
		default:
			others = append(others, c.Resource+" "+c.Address)
		}
	}
	if first == nil {
		return len(todo), nil
	}
	if len(others) > 0 {
		first = fmt.Errorf("%w (%d more failed: %s)", first, len(others), strings.Join(others, ", "))
	}
	return len(todo) - 1 - len(others), first
}

// requestCertificate requests the certificate of op, within the
// RequestCertificate bound of its AWS region in lim, and waits for ACM to
// list its DNS validation records.
func (s *syncer) requestCertificate(ctx context.Context, op *certOp, lim *slots) error {
	c := op.desired
	client := s.opts.Clients.ACM(c.AWSRegion)
	tagMap := map[string]string{}
	maps.Copy(tagMap, c.Tags)
	if _, set := tagMap[TagCertificateNames]; !set && len(tagMap) < awsrules.MaxTagsACM {
		tagMap[TagCertificateNames] = certificateNames(c.DomainName, c.SubjectAlternativeNames)
	}
	var tags []acmtypes.Tag
	for _, k := range slices.Sorted(maps.Keys(tagMap)) {
		tags = append(tags, acmtypes.Tag{Key: ptr(k), Value: ptr(tagMap[k])})
	}
	in := &acm.RequestCertificateInput{
		DomainName: ptr(c.DomainName), ValidationMethod: acmtypes.ValidationMethodDns, Tags: tags,
		IdempotencyToken: ptr(certificateToken(op.fleet, op.region, c.Name, append([]string{c.DomainName}, c.SubjectAlternativeNames...))),
	}
	if len(c.SubjectAlternativeNames) > 0 {
		in.SubjectAlternativeNames = append([]string{c.DomainName}, c.SubjectAlternativeNames...)
	}
	var out *acm.RequestCertificateOutput
	err := lim.do(ctx, "acm RequestCertificate "+c.AWSRegion, requestCertificateInFlight, func() error {
		_, err := s.call(ctx, "requesting certificate "+op.region+"/"+c.Name, func(ctx context.Context) (err error) {
			out, err = client.RequestCertificate(ctx, in)
			return err
		})
		return err
	})
	if err != nil {
		return err
	}
	arn := deref(out.CertificateArn)
	s.requestedMu.Lock()
	s.requested[c.AWSRegion] = append(s.requested[c.AWSRegion], ownedCert{arn: arn, region: c.Tags[awsstate.TagRegion], name: c.Tags[awsstate.TagName]})
	s.requestedMu.Unlock()
	// ACM fills in the validation records a few seconds after the request.
	err = s.waitFor(ctx, validationRecordsTimeout, func(ctx context.Context) (bool, error) {
		cert, err := s.describeCertificate(ctx, client, arn)
		return cert != nil && len(cert.Validation) > 0, err
	})
	if errors.Is(err, errWaitTimeout) {
		return fmt.Errorf("certificate %s (%s) has no DNS validation records after %s (hint: check it in the ACM console, then run coderfleet sync apply again)", op.region+"/"+c.Name, arn, validationRecordsTimeout)
	}
	return err
}

// validationRecordsTimeout bounds the wait for ACM to list the DNS
// validation records of a requested certificate, usually a few seconds.
const validationRecordsTimeout = 2 * time.Minute

func (s *syncer) putHealthCheck(ctx context.Context, op *hcOp) error {
	h := op.desired
	r53 := s.opts.Clients.Route53
	id := ""
	if op.actual != nil {
		id = op.actual.ID
		in := &route53.UpdateHealthCheckInput{
			HealthCheckId: ptr(id), HealthCheckVersion: ptr(op.actual.Version),
			FullyQualifiedDomainName: ptr(h.FQDN), Port: ptr(h.Port), ResourcePath: ptr(h.ResourcePath),
			FailureThreshold: ptr(h.FailureThreshold),
		}
		if _, err := s.call(ctx, "updating health check "+id, func(ctx context.Context) error {
			_, err := r53.UpdateHealthCheck(ctx, in)
			return err
		}); err != nil {
			return err
		}
	} else {
		cfg := &r53types.HealthCheckConfig{
			Type: r53types.HealthCheckType(h.Type), FullyQualifiedDomainName: ptr(h.FQDN), Port: ptr(h.Port),
			ResourcePath: ptr(h.ResourcePath), RequestInterval: ptr(h.RequestInterval),
			FailureThreshold: ptr(h.FailureThreshold), MeasureLatency: ptr(h.MeasureLatency),
		}
		if h.Type == "HTTPS" {
			cfg.EnableSNI = ptr(true)
		}
		for attempt := 0; ; attempt++ {
			ref := healthCheckRef(op.fleet, op.region, h.Name, hcConfigString(h), attempt)
			var out *route53.CreateHealthCheckOutput
			_, err := s.call(ctx, "creating health check "+op.region+"/"+h.Name, func(ctx context.Context) (err error) {
				out, err = r53.CreateHealthCheck(ctx, &route53.CreateHealthCheckInput{CallerReference: ptr(ref), HealthCheckConfig: cfg})
				return err
			})
			if errorCode(err) == "HealthCheckAlreadyExists" && attempt+1 < maxRefAttempts {
				continue // the reference belonged to a deleted check
			}
			if err != nil {
				return err
			}
			id = deref(out.HealthCheck.Id)
			break
		}
	}
	var add []r53types.Tag
	for _, k := range slices.Sorted(maps.Keys(h.Tags)) {
		add = append(add, r53types.Tag{Key: ptr(k), Value: ptr(h.Tags[k])})
	}
	if op.actual != nil && sameTags(op.actual.Config.Tags, h.Tags) {
		return nil
	}
	_, err := s.call(ctx, "tagging health check "+id, func(ctx context.Context) error {
		_, err := r53.ChangeTagsForResource(ctx, &route53.ChangeTagsForResourceInput{ResourceId: ptr(id), ResourceType: r53types.TagResourceTypeHealthcheck, AddTags: add})
		return err
	})
	return err
}

func (s *syncer) deleteHealthCheck(ctx context.Context, id string) error {
	_, err := s.call(ctx, "deleting health check "+id, func(ctx context.Context) error {
		_, err := s.opts.Clients.Route53.DeleteHealthCheck(ctx, &route53.DeleteHealthCheckInput{HealthCheckId: ptr(id)})
		return err
	})
	if errorCode(err) == "NoSuchHealthCheck" {
		return nil
	}
	return err
}

func (s *syncer) deleteCertificate(ctx context.Context, op *certOp) error {
	_, err := s.call(ctx, "deleting certificate "+op.arn, func(ctx context.Context) error {
		_, err := s.opts.Clients.ACM(op.desired.AWSRegion).DeleteCertificate(ctx, &acm.DeleteCertificateInput{CertificateArn: ptr(op.arn)})
		return err
	})
	if errorCode(err) == "ResourceNotFoundException" {
		return nil
	}
	return err
}

// applyRecords sends the record changes of p zone by zone in as few batches
// as the limits allow and waits for each batch to be INSYNC: the registry
// changes when registry is true, the others otherwise.
func (s *syncer) applyRecords(ctx context.Context, p *Plan, res *Result, registry bool) error {
	type zoneWork struct {
		groups  [][]r53types.Change
		changes []Change
	}
	work := map[string]*zoneWork{}
	for _, c := range p.Changes {
		if c.Resource != ResourceRecord || c.rec.registry != registry {
			continue
		}
		if c.rec.pending {
			return fmt.Errorf("record %s still needs a health check that does not exist: run coderfleet sync apply again", c.Address)
		}
		w := work[c.rec.zoneID]
		if w == nil {
			w = &zoneWork{}
			work[c.rec.zoneID] = w
		}
		w.groups = append(w.groups, c.rec.changes)
		w.changes = append(w.changes, c)
	}
	for _, zoneID := range slices.Sorted(maps.Keys(work)) {
		w := work[zoneID]
		bs := batches(w.groups, s.opts.Limits)
		for i, b := range bs {
			in := &route53.ChangeResourceRecordSetsInput{HostedZoneId: ptr(zoneID), ChangeBatch: &r53types.ChangeBatch{
				Comment: ptr(fmt.Sprintf("coderfleet sync: batch %d of %d", i+1, len(bs))), Changes: b}}
			var out *route53.ChangeResourceRecordSetsOutput
			cr, err := s.call(ctx, fmt.Sprintf("changing records of hosted zone %s (batch %d of %d)", zoneID, i+1, len(bs)), func(ctx context.Context) (err error) {
				out, err = s.opts.Clients.Route53.ChangeResourceRecordSets(ctx, in)
				return err
			})
			if err != nil {
				if errorCode(err) == "InvalidChangeBatch" && (cr.ambiguous || alreadyExists(err)) {
					return fmt.Errorf("%w: %v", errReplan, err)
				}
				return err
			}
			s.progressf("submitted %d record change(s) to hosted zone %s (batch %d of %d)\n", len(b), zoneID, i+1, len(bs))
			if err := s.waitInsync(ctx, deref(out.ChangeInfo.Id), string(out.ChangeInfo.Status)); err != nil {
				return err
			}
		}
		for _, c := range w.changes {
			s.progressf("%s record %s: done\n", c.Action, c.Address)
		}
		res.Applied = append(res.Applied, w.changes...)
	}
	return nil
}

// alreadyExists reports whether a ChangeResourceRecordSets error says that
// a record the batch creates exists: another run (of this fleet, another
// fleet or a person) made it after the zone was read. Route53 refuses the
// whole batch (Route 53 API Reference, ChangeResourceRecordSets: "Tried to
// create resource record set [...] but it already exists"), so the zone is
// read and the records planned again: a record now owned and equal needs
// no change, a foreign one equal to the desired validation CNAME is left
// alone as it would have been at the first read, another is a conflict.
func alreadyExists(err error) bool {
	return strings.Contains(err.Error(), "but it already exists")
}

// waitInsync waits until the change is INSYNC: status is the one
// ChangeResourceRecordSets returned, then GetChange is polled with the
// retry policy's backoff (waitFor).
func (s *syncer) waitInsync(ctx context.Context, id, status string) error {
	polled := false
	err := s.waitFor(ctx, s.opts.ChangeTimeout, func(ctx context.Context) (bool, error) {
		if polled {
			var out *route53.GetChangeOutput
			if _, err := s.call(ctx, "reading change "+id, func(ctx context.Context) (err error) {
				out, err = s.opts.Clients.Route53.GetChange(ctx, &route53.GetChangeInput{Id: ptr(id)})
				return err
			}); err != nil {
				return false, err
			}
			status = string(out.ChangeInfo.Status)
		}
		polled = true
		return status == string(r53types.ChangeStatusInsync), nil
	})
	if errors.Is(err, errWaitTimeout) {
		return fmt.Errorf("route53 change %s not INSYNC after %s (hint: it will complete on its own; run coderfleet sync plan later to check)", id, s.opts.ChangeTimeout)
	}
	return err
}

// certPollFirst is the certificate wait's first wait between checks; each
// next wait doubles it, up to Options.PollInterval (certPollDelay).
const certPollFirst = time.Second

// certPollDelay returns the wait after the n-th check (n from 1) of the
// certificates still pending: certPollFirst doubled n-1 times, at most limit.
// Without jitter: one apply polls, as one caller.
func certPollDelay(n int, limit time.Duration) time.Duration {
	d := certPollFirst
	for i := 1; i < n && d < limit; i++ {
		d *= 2
	}
	return min(d, limit)
}

// finishCertificates waits (bounded) for the desired certificates to be
// ISSUED and writes the ARNs of the issued ones to overlays/<region>/outputs.yaml.
func (s *syncer) finishCertificates(ctx context.Context, d *Desired, a *Actual, res *Result) error {
	type want struct {
		region, name string
		cert         *Certificate
	}
	var wants []want
	for _, r := range d.Regions {
		for _, c := range r.Certificates {
			if cur := bestCertificate(a, r.Region, c); cur != nil {
				wants = append(wants, want{r.Region, c.Name, cur})
			}
		}
	}
	start := s.clock.Now()
	deadline := start.Add(s.opts.CertificateTimeout)
	// Check every certificate still pending in each round, all at once
	// (describeCertificateInFlight per AWS region), first without waiting
	// (one issued while the others were requested needs no sleep), then
	// after waits that start at certPollFirst and double up to
	// PollInterval (certPollDelay), until all are ISSUED or the bound is
	// reached.
	//
	// Every certificate gets its "is ISSUED" line with its ARN once, whether
	// it was issued before this run, while it read the state, or while it
	// waited: what the output says must not depend on how fast ACM is. The
	// lines of a round come in the order of the regions and certificates,
	// whatever order the checks finished in.
	var pending []string
	announced := make([]bool, len(wants))
	for n := 1; ; n++ {
		got := make([]*Certificate, len(wants))
		errs := make([]error, len(wants))
		lim := newSlots()
		var wg gosync.WaitGroup
		for i := range wants {
			w := &wants[i]
			if w.cert.Status == "ISSUED" {
				continue
			}
			wg.Go(func() {
				errs[i] = lim.do(ctx, "acm DescribeCertificate "+w.cert.AWSRegion, describeCertificateInFlight, func() (err error) {
					got[i], err = s.describeCertificate(ctx, s.opts.Clients.ACM(w.cert.AWSRegion), w.cert.ARN)
					return err
				})
			})
		}
		wg.Wait()
		var waiting []*want
		for i := range wants {
			w := &wants[i]
			if w.cert.Status != "ISSUED" {
				if errs[i] != nil {
					return errs[i]
				}
				c := got[i]
				if c == nil {
					return fmt.Errorf("certificate %s/%s (%s) disappeared while waiting: run coderfleet sync apply again", w.region, w.name, w.cert.ARN)
				}
				if !usableCertStatus[c.Status] {
					return fmt.Errorf("certificate %s/%s (%s) is %s: check the validation records and the ACM console; delete it and run coderfleet sync apply again", w.region, w.name, w.cert.ARN, c.Status)
				}
				w.cert.Status = c.Status
			}
			if w.cert.Status != "ISSUED" {
				waiting = append(waiting, w)
				continue
			}
			if !announced[i] {
				announced[i] = true
				s.progressf("certificate %s/%s is ISSUED: %s\n", w.region, w.name, w.cert.ARN)
			}
		}
		if len(waiting) == 0 {
			break
		}
		left := deadline.Sub(s.clock.Now())
		if left <= 0 {
			for _, w := range waiting {
				pending = append(pending, w.region+"/"+w.name)
			}
			break
		}
		// The last wait ends at the bound, not a poll interval after it.
		delay := min(certPollDelay(n, s.opts.PollInterval), left)
		for _, w := range waiting {
			s.progressf("waiting for certificate %s/%s to be ISSUED: %s (%s of %s; next check in %s)\n", w.region, w.name, w.cert.Status,
				s.clock.Now().Sub(start).Round(time.Second), s.opts.CertificateTimeout, delay.Round(time.Millisecond))
		}
		if err := s.clock.Sleep(ctx, delay); err != nil {
			return err
		}
	}
	for _, r := range d.Regions {
		o := awsstate.Outputs{Certificates: map[string]string{}}
		for _, w := range wants {
			if w.region == r.Region && w.cert.Status == "ISSUED" {
				o.Certificates[w.name] = w.cert.ARN
			}
		}
		p := outputsPath(r.Region)
		if skip := outputsSkipped(s.opts.Repo, r.Region); skip != "" {
			s.progressf("%s\n", skip)
			continue
		}
		data := awsstate.MarshalOutputs(o)
		if old, err := fs.ReadFile(s.opts.Repo, p); err == nil && string(old) == string(data) {
			continue
		}
		if err := s.opts.WriteFile(p, data); err != nil {
			return fmt.Errorf("writing %q: %w", p, err)
		}
		res.Outputs = append(res.Outputs, p)
		s.progressf("wrote %s\n", p)
	}
	if len(pending) > 0 {
		return &CertificateTimeoutError{Pending: pending, Timeout: s.opts.CertificateTimeout}
	}
	return nil
}
