package sync

import (
	"context"
	"fmt"
	"io/fs"
	"math"
	"path"
	"slices"
	"strings"
	gosync "sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	"golang.org/x/sync/errgroup"

	"github.com/coderfleet/coderfleet/awsstate"
)

// Verdict is the one-word state of a region in coderfleet status.
type Verdict string

// The verdicts of a region, from the best to the worst.
const (
	// VerdictServing: every desired object is in AWS as committed, the
	// load balancers are active and every health check is healthy.
	VerdictServing Verdict = "serving"
	// VerdictNotYetServing: the region is still being set up; the
	// region's Reason is the next step of the onboarding flow.
	VerdictNotYetServing Verdict = "not-yet-serving"
	// VerdictDegraded: something that was set up no longer serves (a
	// failing health check, a failed load balancer, a record that drifted,
	// an expired certificate, a conflict); Reason says what.
	VerdictDegraded Verdict = "degraded"
)

// The next steps a not-yet-serving region names, worded as the "Next:"
// lines of sync plan.
const (
	NextSyncApply = "run coderfleet sync apply"
	NextWaitNLBs  = "commit the rendered regions/ and let Flux apply it; once the AWS Load Balancer Controller has created the NLBs, run coderfleet sync apply again"
	NextClusters  = "create the cluster and its IAM OIDC provider, then run coderfleet sync apply again"
	// NextRenderNLBs: outputs.yaml holds the issued certificates but the
	// committed Services do not name them yet, and no NLB exists.
	NextRenderNLBs = "run coderfleet render, commit regions/ and let Flux apply it; once the AWS Load Balancer Controller has created the NLBs, run coderfleet sync apply again"
	// NextRender: a load balancer serves with a certificate that is not
	// the issued one.
	NextRender = "run coderfleet render and commit regions/"
)

// NextProvider is the next step of a region whose EKS cluster (name, in
// awsRegion) exists without an IAM OIDC provider for its issuer (the
// condition sync plan reports as an *OIDCProviderError).
func NextProvider(cluster, awsRegion string) string {
	return fmt.Sprintf("create the cluster's IAM OIDC provider: eksctl utils associate-iam-oidc-provider --cluster %s --region %s --approve", cluster, awsRegion)
}

// Record and role states of a RecordStatus or RoleStatus.
const (
	StateInSync             = "in-sync"
	StateMissing            = "missing"
	StateDrift              = "drift"
	StateWaitingForNLB      = "waiting-for-load-balancer"
	StateWaitingForCluster  = "waiting-for-cluster"
	StateLoadBalancerAbsent = "not-found"
	// StateConflict: an object coderfleet does not own holds the name (the
	// plan's Conflicts say which); sync never touches it.
	StateConflict = "conflict"
)

// FleetStatus is what coderfleet status reports: one entry per region, sorted.
type FleetStatus struct {
	Regions []RegionStatus `json:"regions"`
	// Coder is what was read of the primary's Coder deployment (see
	// ReadCoderStatus), or why it was not; nil until then.
	Coder *CoderStatus `json:"coder,omitempty"`
}

// Serving reports whether every region serves.
func (f *FleetStatus) Serving() bool {
	for _, r := range f.Regions {
		if r.Verdict != VerdictServing {
			return false
		}
	}
	return true
}

// RegionStatus is the state of one region folder in AWS against its
// committed desired state.
type RegionStatus struct {
	Region  string  `json:"region"`
	Verdict Verdict `json:"verdict"`
	// Reason is what is degraded, or the next step; empty when serving.
	Reason        string               `json:"reason,omitempty"`
	Certificates  []CertificateStatus  `json:"certificates"`
	LoadBalancers []LoadBalancerStatus `json:"loadBalancers"`
	Records       []RecordStatus       `json:"records"`
	Roles         []RoleStatus         `json:"roles"`
	// Coder is the region's workspace proxy and provisioner daemons as
	// coderd reports them; nil when Coder was not read.
	Coder *CoderRegionStatus `json:"coder,omitempty"`
}

// CertificateStatus is a desired certificate and the ACM certificate that serves it.
type CertificateStatus struct {
	Name string `json:"name"`
	// Status is the ACM status (ISSUED, PENDING_VALIDATION, ...), or
	// "missing" when there is no usable certificate.
	Status string `json:"status"`
	ARN    string `json:"arn,omitempty"`
	// DaysToExpiry counts whole days from now to NotAfter (negative once
	// expired); absent until the certificate is issued.
	DaysToExpiry *int `json:"daysToExpiry,omitempty"`
	// InOutputs reports whether overlays/<region>/outputs.yaml holds ARN.
	InOutputs bool `json:"inOutputs"`
	// Service is the Service ("namespace/name") whose NLB serves the
	// certificate: the one the region's records for its domain name alias,
	// rendered into regions/<region>/. Empty when there is none.
	Service string `json:"service,omitempty"`
	// ServiceARN is the certificate ARN the committed Service's
	// service.beta.kubernetes.io/aws-load-balancer-ssl-cert annotation
	// names; empty when it has none.
	ServiceARN string `json:"serviceArn,omitempty"`
	// InService reports whether ServiceARN is ARN; absent when Service is
	// empty or there is no ARN to compare.
	InService *bool `json:"inService,omitempty"`
}

// LoadBalancerStatus is the NLB of a Service that the region's records alias.
type LoadBalancerStatus struct {
	Service   string `json:"service"`
	Cluster   string `json:"cluster"`
	AWSRegion string `json:"awsRegion"`
	// State is the ELB state code (active, provisioning, active_impaired,
	// failed) or "not-found" when the controller has not created it.
	State   string `json:"state"`
	DNSName string `json:"dnsName,omitempty"`
	// Aliased reports whether every desired record of the Service points at it.
	Aliased bool `json:"aliased"`
}

// RecordStatus is a desired record of the region.
type RecordStatus struct {
	// Record is "name TYPE [set identifier]".
	Record string `json:"record"`
	// State is in-sync, missing, drift, waiting-for-load-balancer or conflict.
	State string `json:"state"`
	// Drift names the fields that differ, as sync plan shows them.
	Drift       []Field            `json:"drift,omitempty"`
	HealthCheck *HealthCheckStatus `json:"healthCheck,omitempty"`
}

// HealthCheckStatus is what Route53's checkers last observed of a health
// check (GetHealthCheckStatus). A checker is healthy when its status
// report starts with "Success" (Route53 API Reference, StatusReport).
type HealthCheckStatus struct {
	Name string `json:"name"`
	// ID is empty when the health check does not exist (yet).
	ID       string `json:"id,omitempty"`
	Healthy  int    `json:"healthy"`
	Checkers int    `json:"checkers"`
	// LastFailure is the status report of the latest failing observation.
	LastFailure string `json:"lastFailure,omitempty"`
}

// RoleStatus is a desired IAM role of the region.
type RoleStatus struct {
	Name string `json:"name"`
	// State is in-sync, missing, drift, waiting-for-cluster or conflict.
	State string `json:"state"`
	// Drift names the fields that differ, as sync plan shows them (trust,
	// inline-policy <name>, managed-policies, tags, description).
	Drift []Field `json:"drift,omitempty"`
}

// statusParallel bounds the regions read at once; the AWS calls in flight
// across them are bounded per service (readBounds).
const statusParallel = 8

// ReadStatus reads the desired state of opts.Regions (all when empty) and
// the actual state of each region from AWS, the regions in parallel
// (statusParallel at a time) with opts.Retry, and classifies each region.
// The regions' readers share one read cache (see readCache): a listing
// every region needs (the hosted zone's records, the certificates of an
// AWS region, the health checks, roles and load balancers) is made once
// per call of ReadStatus, and the objects a listing names are read at
// once, within the per-service bounds of readBounds.
// It makes no change; opts.Clock gives the time for days to expiry. An
// *InputError is a repository problem; any other error a failed read.
func ReadStatus(ctx context.Context, opts Options) (*FleetStatus, error) {
	if _, err := newSyncer(opts); err != nil {
		return nil, err
	}
	share := newReadCache(true)
	opts.Clients = share.wrap(opts.Clients)
	// The account-wide listings are read while the desired state loads.
	pctx, stop := context.WithCancel(ctx)
	var prefetch gosync.WaitGroup
	defer func() { stop(); prefetch.Wait() }()
	prefetch.Go(func() {
		s, _ := newSyncer(opts)
		s.share = share
		s.prefetchAccount(pctx)
	})
	d, err := LoadDesired(opts.Repo, opts.Regions, opts.SecretGuardAllow)
	if err != nil {
		return nil, err
	}
	out := &FleetStatus{Regions: make([]RegionStatus, len(d.Regions))}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(statusParallel)
	for i, r := range d.Regions {
		g.Go(func() error {
			s, _ := newSyncer(opts)
			s.share = share
			s.noteNoProvider = true // a cluster without provider is this region's verdict
			s.certSummaries = true
			s.rolesFromListing = true
			one := &Desired{Fleet: d.Fleet, Regions: []RegionState{r}}
			a, err := s.read(gctx, one)
			if err != nil {
				return fmt.Errorf("reading AWS state of region %s: %w", r.Region, err)
			}
			p := Compute(one, a, Policy{})
			planOutputs(p, opts.Repo, one, a)
			hcs, err := s.healthCheckStatuses(gctx, r, a)
			if err != nil {
				return fmt.Errorf("reading AWS state of region %s: %w", r.Region, err)
			}
			out.Regions[i] = classifyRegion(r, a, p, hcs, readOutputs(opts.Repo, r.Region), readCommittedServices(opts.Repo, r.Region), s.clock.Now())
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return out, nil
}

// prefetchAccount reads into s.share what every region's read asks of the
// account and no desired state names, so that ReadStatus can ask it while
// it loads the desired state: the IAM role listing and OIDC providers
// (when a region in scope has roles.yaml) and the first page of health
// checks. Each is the call the reads make, with the same input, so they
// find its answer kept. Errors are dropped: a failed call is not kept, and
// the read that needs it asks again and reports it.
func (s *syncer) prefetchAccount(ctx context.Context) {
	var g gosync.WaitGroup
	if s.opts.Clients.IAM != nil && hasRoles(s.opts.Repo, s.opts.Regions) {
		g.Go(func() { _, _ = s.roleDetails(ctx) })
		g.Go(func() {
			_, _ = s.opts.Clients.IAM.ListOpenIDConnectProviders(ctx, &iam.ListOpenIDConnectProvidersInput{})
		})
	}
	if s.opts.Clients.Route53 != nil {
		g.Go(func() { _, _ = s.opts.Clients.Route53.ListHealthChecks(ctx, &route53.ListHealthChecksInput{}) })
	}
	g.Wait()
}

// hasRoles reports whether one of regions (every region folder when
// empty) has an aws/roles.yaml.
func hasRoles(repo fs.FS, regions []string) bool {
	if len(regions) == 0 {
		m, _ := fs.Glob(repo, path.Join("regions", "*", "aws", awsstate.RolesFile))
		return len(m) > 0
	}
	for _, r := range regions {
		if _, err := fs.Stat(repo, path.Join("regions", r, "aws", awsstate.RolesFile)); err == nil {
			return true
		}
	}
	return false
}

// healthCheckStatuses reads the status of the region's owned health checks
// that its records use, by health check name.
func (s *syncer) healthCheckStatuses(ctx context.Context, r RegionState, a *Actual) (map[string]*HealthCheckStatus, error) {
	out := map[string]*HealthCheckStatus{}
	for _, rec := range r.Records {
		if rec.HealthCheck == "" || out[rec.HealthCheck] != nil {
			continue
		}
		st := &HealthCheckStatus{Name: rec.HealthCheck}
		out[rec.HealthCheck] = st
		i := slices.IndexFunc(a.HealthChecks, func(h HealthCheck) bool { return h.Region == r.Region && h.Name == rec.HealthCheck })
		if i < 0 {
			continue
		}
		st.ID = a.HealthChecks[i].ID
		var res *route53.GetHealthCheckStatusOutput
		_, err := s.call(ctx, "reading the status of health check "+st.ID, func(ctx context.Context) (err error) {
			res, err = s.opts.Clients.Route53.GetHealthCheckStatus(ctx, &route53.GetHealthCheckStatusInput{HealthCheckId: &st.ID})
			return err
		})
		if err != nil {
			return nil, err
		}
		var lastFail time.Time
		for _, o := range res.HealthCheckObservations {
			st.Checkers++
			if o.StatusReport == nil {
				continue
			}
			text := deref(o.StatusReport.Status)
			if strings.HasPrefix(text, "Success") {
				st.Healthy++
				continue
			}
			if t := deref(o.StatusReport.CheckedTime); st.LastFailure == "" || t.After(lastFail) {
				st.LastFailure, lastFail = text, t
			}
		}
	}
	return out, nil
}

// readOutputs returns the certificate ARNs of overlays/<region>/outputs.yaml
// (none when it is missing or does not parse: the plan notes it).
func readOutputs(repo fs.FS, region string) map[string]string {
	file := outputsPath(region)
	data, err := fs.ReadFile(repo, file)
	if err != nil {
		return nil
	}
	o, err := awsstate.ParseOutputs(file, data)
	if err != nil {
		return nil
	}
	return o.Certificates
}

// classifyRegion is the pure classification of one region: its desired
// state r, the actual state a, the plan p computed from them (without
// --prune), the health check statuses by name, the ARNs of its
// outputs.yaml, its Services committed in regions/<region>/ by
// "namespace/name" and the time now.
func classifyRegion(r RegionState, a *Actual, p *Plan, hcs map[string]*HealthCheckStatus, outputs map[string]string, services map[string]committedService, now time.Time) RegionStatus {
	st := RegionStatus{Region: r.Region, Certificates: []CertificateStatus{}, LoadBalancers: []LoadBalancerStatus{}, Records: []RecordStatus{}, Roles: []RoleStatus{}}
	var degraded, next []string
	// staleServices are the Services whose committed annotation is not the
	// issued certificate that outputs.yaml holds: render has not run since.
	staleServices := map[string]string{}
	for _, c := range r.Certificates {
		cs := CertificateStatus{Name: c.Name, Status: StateMissing}
		if svc, ok := services[certificateService(r, c.DomainName)]; ok {
			cs.Service, cs.ServiceARN = certificateService(r, c.DomainName), svc.CertARN
		}
		if cur := bestCertificate(a, r.Region, c); cur != nil {
			cs.Status, cs.ARN, cs.InOutputs = cur.Status, cur.ARN, outputs[c.Name] == cur.ARN
			if cs.Service != "" {
				in := cs.ServiceARN == cur.ARN
				cs.InService = &in
				if !in && cs.InOutputs && cur.Status == "ISSUED" {
					staleServices[cs.Service] = c.Name
				}
			}
			if !cur.NotAfter.IsZero() {
				days := int(math.Floor(cur.NotAfter.Sub(now).Hours() / 24))
				cs.DaysToExpiry = &days
				if days < 0 {
					degraded = append(degraded, "certificate "+c.Name+" expired")
				}
			}
			if cur.Status != "ISSUED" {
				next = append(next, "wait for ACM to issue certificate "+c.Name+" (coderfleet sync apply waits for it)")
			}
		}
		st.Certificates = append(st.Certificates, cs)
	}
	change := func(resource, address string) *Change {
		for i := range p.Changes {
			if c := &p.Changes[i]; c.Resource == resource && c.Region == r.Region && c.Address == address {
				return c
			}
		}
		return nil
	}
	lbIndex := map[string]int{}
	for _, rec := range r.Records {
		rs := RecordStatus{Record: rec.Key(), State: StateInSync}
		waiting := slices.ContainsFunc(p.Waiting, func(w Waiting) bool { return w.Region == r.Region && w.Record == rec.Key() })
		if c := change(ResourceRecord, r.HostedZone+": "+rec.Key()); c != nil {
			rs.State = StateMissing
			if c.Action == Update {
				rs.State, rs.Drift = StateDrift, c.Fields
				degraded = append(degraded, "record "+rec.Key()+" drifted")
			}
		} else if waiting {
			rs.State = StateWaitingForNLB
		} else if slices.ContainsFunc(p.Conflicts, func(c Conflict) bool { return c.Resource == "" && c.Zone == r.HostedZone && c.Record == rec.Key() }) {
			rs.State = StateConflict
		}
		if rec.HealthCheck != "" {
			rs.HealthCheck = hcs[rec.HealthCheck]
			if h := rs.HealthCheck; h != nil && h.ID != "" && (h.Checkers == 0 || h.Healthy < h.Checkers) {
				what := fmt.Sprintf("health check %s: %d/%d checkers healthy", h.Name, h.Healthy, h.Checkers)
				if h.LastFailure != "" {
					what += ": " + h.LastFailure
				}
				if !slices.Contains(degraded, what) {
					degraded = append(degraded, what)
				}
			}
		}
		st.Records = append(st.Records, rs)
		ref := LBRef{AWSRegion: rec.Alias.AWSRegion, Cluster: rec.Alias.Cluster, Service: rec.Alias.Service}
		i, ok := lbIndex[ref.String()]
		if !ok {
			lbs := LoadBalancerStatus{Service: ref.Service, Cluster: ref.Cluster, AWSRegion: ref.AWSRegion, State: StateLoadBalancerAbsent, Aliased: true}
			if lb, found := a.LoadBalancers[ref.String()]; found {
				lbs.State, lbs.DNSName = lb.State, lb.DNSName
			}
			i = len(st.LoadBalancers)
			lbIndex[ref.String()] = i
			st.LoadBalancers = append(st.LoadBalancers, lbs)
		}
		if rs.State != StateInSync {
			st.LoadBalancers[i].Aliased = false
		}
	}
	renderFirst := false
	for _, c := range st.Certificates {
		if staleServices[c.Service] != c.Name || c.Service == "" {
			continue
		}
		i := slices.IndexFunc(st.LoadBalancers, func(lb LoadBalancerStatus) bool { return lb.Service == c.Service })
		if i < 0 || st.LoadBalancers[i].State == StateLoadBalancerAbsent {
			renderFirst = true // nothing serves with the old certificate yet
			continue
		}
		uses := "another certificate"
		if c.ServiceARN == "" {
			uses = "no certificate"
		}
		degraded = append(degraded, fmt.Sprintf("Service %s is committed with %s, not certificate %s (%s)", c.Service, uses, c.Name, NextRender))
	}
	for _, lb := range st.LoadBalancers {
		switch lb.State {
		case "failed":
			degraded = append(degraded, "load balancer of "+lb.Service+" failed")
		case "provisioning":
			next = append(next, "wait for the load balancer of "+lb.Service+" to become active")
		}
	}
	for _, role := range r.Roles {
		rs := RoleStatus{Name: role.Name, State: StateInSync}
		if c := change(ResourceRole, r.Region+"/"+role.Name); c != nil {
			rs.State = StateMissing
			if c.Action == Update {
				rs.State, rs.Drift = StateDrift, c.Fields
				degraded = append(degraded, ResourceRole+" "+role.Name+" drifted")
			}
		} else if slices.ContainsFunc(p.Waiting, func(w Waiting) bool { return w.Region == r.Region && w.Role == role.Name }) {
			rs.State = StateWaitingForCluster
		} else if slices.ContainsFunc(p.Conflicts, func(c Conflict) bool { return c.Resource == ResourceRole && c.Record == r.Region+"/"+role.Name }) {
			rs.State = StateConflict
		}
		st.Roles = append(st.Roles, rs)
	}
	for _, c := range p.Conflicts {
		degraded = append(degraded, "conflict: "+c.String())
	}
	var providers []string
	for _, role := range r.Roles {
		if c := a.Clusters[clusterKey(role.Cluster)]; c != nil && c.NoProvider {
			step := NextProvider(c.Name, c.AWSRegion)
			if !slices.Contains(providers, step) {
				providers = append(providers, step)
			}
		}
	}
	records, roles := waitingKinds(p)
	// The cluster comes before its load balancers (the controller runs in
	// it): waiting roles are the next step before waiting records.
	switch {
	case len(degraded) > 0:
		st.Verdict, st.Reason = VerdictDegraded, strings.Join(degraded, "; ")
	case len(providers) > 0:
		st.Verdict, st.Reason = VerdictNotYetServing, strings.Join(providers, "; ")
	case len(p.Changes) > 0 || len(p.Outputs) > 0:
		st.Verdict, st.Reason = VerdictNotYetServing, NextSyncApply
	case roles > 0:
		st.Verdict, st.Reason = VerdictNotYetServing, NextClusters
	case records > 0 && renderFirst:
		st.Verdict, st.Reason = VerdictNotYetServing, NextRenderNLBs
	case records > 0:
		st.Verdict, st.Reason = VerdictNotYetServing, NextWaitNLBs
	case renderFirst:
		st.Verdict, st.Reason = VerdictNotYetServing, NextRender
	case len(next) > 0:
		st.Verdict, st.Reason = VerdictNotYetServing, strings.Join(next, "; ")
	default:
		st.Verdict = VerdictServing
	}
	return st
}
