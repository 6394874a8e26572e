package sync

import (
	"context"
	"encoding/json"
	"errors"
	gosync "sync"

	"github.com/aws/aws-sdk-go-v2/service/acm"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// Calls in flight per AWS service while one read (sync plan, apply, one
// round of status) runs. AWS throttles each API by a request rate per
// account (per account and AWS region for the regional services): Route53
// at five requests per second for the whole account (Route 53 Developer
// Guide, "Quotas", "Quotas on Route 53 API requests"), IAM and the
// regional services at their own rates (Service Quotas, AWS General
// Reference, "<service> endpoints and quotas"; ACM, "Quotas", "API rate
// quotas"). A bound on calls in flight does not bound the rate, so a
// throttled call is retried with the jittered backoff of the retry policy
// (syncer.call); the bounds keep the bursts small: two calls for Route53,
// whose quota is the lowest and shared by every caller in the account,
// four for IAM, eight per regional service across its AWS regions.
var readBounds = map[string]int{
	svcRoute53: 2, svcIAM: 4,
	svcACM: 8, svcTagging: 8, svcELB: 8, svcEKS: 8, svcSecrets: 8,
}

// The services of readBounds.
const (
	svcRoute53 = "route53"
	svcIAM     = "iam"
	svcACM     = "acm"
	svcTagging = "tagging"
	svcELB     = "elbv2"
	svcEKS     = "eks"
	svcSecrets = "secretsmanager"
)

// readCache bounds the read calls of one read in flight per service
// (readBounds) and, when keep is set (ReadStatus), keeps their answers:
// the per-region reads of one status round share it, each region's read
// lists the same zone, the certificates of the same AWS regions, the same
// health checks, roles and load balancers, and AWS is asked once. A call
// that fails is not kept: the caller's retry asks again. Status never
// writes, so an answer stays true for the round. Sync plan and apply read,
// write and read again, so their cache keeps nothing and only bounds.
type readCache struct {
	keep bool
	// sems holds one semaphore per service; the map is not changed after
	// newReadCache.
	sems map[string]chan struct{}
	mu   gosync.Mutex
	m    map[string]*cacheEntry
	// roleDetails is every IAM role of the account, by name (see
	// syncer.roleDetails), kept for the round when keep is set.
	roleDetails once[map[string]iamtypes.RoleDetail]
}

// once holds a value made by the first get that succeeds; the others wait
// for it. A failed attempt is not kept: the next get tries again.
type once[T any] struct {
	mu   gosync.Mutex
	done bool
	val  T
}

// get returns the kept value or makes it with fn. fn runs with mu held:
// it must not hold one of the cache's in-flight slots while waiting (its
// calls take their own).
func (o *once[T]) get(ctx context.Context, fn func() (T, error)) (T, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.done {
		return o.val, nil
	}
	if err := ctx.Err(); err != nil {
		var zero T
		return zero, err
	}
	v, err := fn()
	if err != nil {
		return v, err
	}
	o.val, o.done = v, true
	return v, nil
}

type cacheEntry struct {
	done chan struct{}
	val  any
	err  error
}

func newReadCache(keep bool) *readCache {
	c := &readCache{keep: keep, sems: map[string]chan struct{}{}, m: map[string]*cacheEntry{}}
	for svc, n := range readBounds {
		c.sems[svc] = make(chan struct{}, n)
	}
	return c
}

// limit runs fn while holding one of the in-flight slots of service.
func (c *readCache) limit(ctx context.Context, service string, fn func() error) error {
	sem := c.sems[service]
	select {
	case sem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-sem }()
	return fn()
}

// cached returns the answer of the call op of service with input in, made
// by fn within the service's bound; when c keeps answers, made once for
// all callers at the same time and kept when it succeeds.
func cached[T any](ctx context.Context, c *readCache, service, op, awsRegion string, in any, fn func() (T, error)) (T, error) {
	var zero T
	k, err := json.Marshal(in)
	if !c.keep || err != nil { // nothing kept, or an input that does not marshal (not expected of the SDK's): ask AWS
		var v T
		err := c.limit(ctx, service, func() (err error) { v, err = fn(); return err })
		return v, err
	}
	key := op + " " + awsRegion + " " + string(k)
	c.mu.Lock()
	e, ok := c.m[key]
	if !ok {
		e = &cacheEntry{done: make(chan struct{})}
		c.m[key] = e
		c.mu.Unlock()
		var v T
		e.err = c.limit(ctx, service, func() (err error) { v, err = fn(); return err })
		e.val = v
		if e.err != nil {
			c.mu.Lock()
			delete(c.m, key)
			c.mu.Unlock()
		}
		close(e.done)
		return v, e.err
	}
	c.mu.Unlock()
	select {
	case <-e.done:
	case <-ctx.Done():
		return zero, ctx.Err()
	}
	if e.err != nil {
		return zero, e.err
	}
	return e.val.(T), nil
}

// wrap returns clients whose read calls go through c; calls that change
// something pass through unchanged, unbounded (apply makes them one at a
// time; status makes none).
func (c *readCache) wrap(cl Clients) Clients {
	out := cl
	out.Route53 = cachedRoute53{cl.Route53, c}
	out.ACM = func(r string) ACMAPI { return cachedACM{cl.ACM(r), c, r} }
	out.Tagging = func(r string) TaggingAPI { return cachedTagging{cl.Tagging(r), c, r} }
	out.ELB = func(r string) ELBAPI { return cachedELB{cl.ELB(r), c, r} }
	if cl.IAM != nil {
		out.IAM = cachedIAM{cl.IAM, c}
	}
	if cl.EKS != nil {
		out.EKS = func(r string) EKSAPI { return cachedEKS{cl.EKS(r), c, r} }
	}
	if cl.SecretsManager != nil {
		out.SecretsManager = func(r string) SecretsManagerAPI { return cachedSecrets{cl.SecretsManager(r), c, r} }
	}
	return out
}

type cachedRoute53 struct {
	Route53API
	c *readCache
}

func (r cachedRoute53) ListHostedZonesByName(ctx context.Context, in *route53.ListHostedZonesByNameInput, o ...func(*route53.Options)) (*route53.ListHostedZonesByNameOutput, error) {
	return cached(ctx, r.c, svcRoute53, "ListHostedZonesByName", "", in, func() (*route53.ListHostedZonesByNameOutput, error) {
		return r.Route53API.ListHostedZonesByName(ctx, in, o...)
	})
}

func (r cachedRoute53) ListResourceRecordSets(ctx context.Context, in *route53.ListResourceRecordSetsInput, o ...func(*route53.Options)) (*route53.ListResourceRecordSetsOutput, error) {
	return cached(ctx, r.c, svcRoute53, "ListResourceRecordSets", "", in, func() (*route53.ListResourceRecordSetsOutput, error) {
		return r.Route53API.ListResourceRecordSets(ctx, in, o...)
	})
}

func (r cachedRoute53) ListHealthChecks(ctx context.Context, in *route53.ListHealthChecksInput, o ...func(*route53.Options)) (*route53.ListHealthChecksOutput, error) {
	return cached(ctx, r.c, svcRoute53, "ListHealthChecks", "", in, func() (*route53.ListHealthChecksOutput, error) { return r.Route53API.ListHealthChecks(ctx, in, o...) })
}

func (r cachedRoute53) ListTagsForResources(ctx context.Context, in *route53.ListTagsForResourcesInput, o ...func(*route53.Options)) (*route53.ListTagsForResourcesOutput, error) {
	return cached(ctx, r.c, svcRoute53, "ListTagsForResources", "", in, func() (*route53.ListTagsForResourcesOutput, error) {
		return r.Route53API.ListTagsForResources(ctx, in, o...)
	})
}

func (r cachedRoute53) GetHealthCheckStatus(ctx context.Context, in *route53.GetHealthCheckStatusInput, o ...func(*route53.Options)) (out *route53.GetHealthCheckStatusOutput, err error) {
	err = r.c.limit(ctx, svcRoute53, func() (err error) { out, err = r.Route53API.GetHealthCheckStatus(ctx, in, o...); return err })
	return out, err
}

type cachedACM struct {
	ACMAPI
	c *readCache
	r string
}

func (a cachedACM) DescribeCertificate(ctx context.Context, in *acm.DescribeCertificateInput, o ...func(*acm.Options)) (*acm.DescribeCertificateOutput, error) {
	return cached(ctx, a.c, svcACM, "DescribeCertificate", a.r, in, func() (*acm.DescribeCertificateOutput, error) { return a.ACMAPI.DescribeCertificate(ctx, in, o...) })
}

func (a cachedACM) ListCertificates(ctx context.Context, in *acm.ListCertificatesInput, o ...func(*acm.Options)) (*acm.ListCertificatesOutput, error) {
	return cached(ctx, a.c, svcACM, "ListCertificates", a.r, in, func() (*acm.ListCertificatesOutput, error) { return a.ACMAPI.ListCertificates(ctx, in, o...) })
}

type cachedTagging struct {
	TaggingAPI
	c *readCache
	r string
}

func (t cachedTagging) GetResources(ctx context.Context, in *resourcegroupstaggingapi.GetResourcesInput, o ...func(*resourcegroupstaggingapi.Options)) (*resourcegroupstaggingapi.GetResourcesOutput, error) {
	return cached(ctx, t.c, svcTagging, "GetResources", t.r, in, func() (*resourcegroupstaggingapi.GetResourcesOutput, error) {
		return t.TaggingAPI.GetResources(ctx, in, o...)
	})
}

type cachedELB struct {
	ELBAPI
	c *readCache
	r string
}

func (e cachedELB) DescribeLoadBalancers(ctx context.Context, in *elbv2.DescribeLoadBalancersInput, o ...func(*elbv2.Options)) (*elbv2.DescribeLoadBalancersOutput, error) {
	return cached(ctx, e.c, svcELB, "DescribeLoadBalancers", e.r, in, func() (*elbv2.DescribeLoadBalancersOutput, error) {
		return e.ELBAPI.DescribeLoadBalancers(ctx, in, o...)
	})
}

func (e cachedELB) DescribeTags(ctx context.Context, in *elbv2.DescribeTagsInput, o ...func(*elbv2.Options)) (*elbv2.DescribeTagsOutput, error) {
	return cached(ctx, e.c, svcELB, "DescribeTags", e.r, in, func() (*elbv2.DescribeTagsOutput, error) { return e.ELBAPI.DescribeTags(ctx, in, o...) })
}

type cachedIAM struct {
	IAMAPI
	c *readCache
}

func (i cachedIAM) ListOpenIDConnectProviders(ctx context.Context, in *iam.ListOpenIDConnectProvidersInput, o ...func(*iam.Options)) (*iam.ListOpenIDConnectProvidersOutput, error) {
	return cached(ctx, i.c, svcIAM, "ListOpenIDConnectProviders", "", in, func() (*iam.ListOpenIDConnectProvidersOutput, error) {
		return i.IAMAPI.ListOpenIDConnectProviders(ctx, in, o...)
	})
}

func (i cachedIAM) ListRoles(ctx context.Context, in *iam.ListRolesInput, o ...func(*iam.Options)) (*iam.ListRolesOutput, error) {
	return cached(ctx, i.c, svcIAM, "ListRoles", "", in, func() (*iam.ListRolesOutput, error) { return i.IAMAPI.ListRoles(ctx, in, o...) })
}

func (i cachedIAM) GetAccountAuthorizationDetails(ctx context.Context, in *iam.GetAccountAuthorizationDetailsInput, o ...func(*iam.Options)) (out *iam.GetAccountAuthorizationDetailsOutput, err error) {
	err = i.c.limit(ctx, svcIAM, func() (err error) { out, err = i.IAMAPI.GetAccountAuthorizationDetails(ctx, in, o...); return err })
	return out, err
}

func (i cachedIAM) GetRole(ctx context.Context, in *iam.GetRoleInput, o ...func(*iam.Options)) (*iam.GetRoleOutput, error) {
	return cached(ctx, i.c, svcIAM, "GetRole", "", in, func() (*iam.GetRoleOutput, error) { return i.IAMAPI.GetRole(ctx, in, o...) })
}

func (i cachedIAM) ListRolePolicies(ctx context.Context, in *iam.ListRolePoliciesInput, o ...func(*iam.Options)) (*iam.ListRolePoliciesOutput, error) {
	return cached(ctx, i.c, svcIAM, "ListRolePolicies", "", in, func() (*iam.ListRolePoliciesOutput, error) { return i.IAMAPI.ListRolePolicies(ctx, in, o...) })
}

func (i cachedIAM) GetRolePolicy(ctx context.Context, in *iam.GetRolePolicyInput, o ...func(*iam.Options)) (*iam.GetRolePolicyOutput, error) {
	return cached(ctx, i.c, svcIAM, "GetRolePolicy", "", in, func() (*iam.GetRolePolicyOutput, error) { return i.IAMAPI.GetRolePolicy(ctx, in, o...) })
}

func (i cachedIAM) ListAttachedRolePolicies(ctx context.Context, in *iam.ListAttachedRolePoliciesInput, o ...func(*iam.Options)) (*iam.ListAttachedRolePoliciesOutput, error) {
	return cached(ctx, i.c, svcIAM, "ListAttachedRolePolicies", "", in, func() (*iam.ListAttachedRolePoliciesOutput, error) {
		return i.IAMAPI.ListAttachedRolePolicies(ctx, in, o...)
	})
}

type cachedEKS struct {
	EKSAPI
	c *readCache
	r string
}

func (e cachedEKS) DescribeCluster(ctx context.Context, in *eks.DescribeClusterInput, o ...func(*eks.Options)) (*eks.DescribeClusterOutput, error) {
	return cached(ctx, e.c, svcEKS, "DescribeCluster", e.r, in, func() (*eks.DescribeClusterOutput, error) { return e.EKSAPI.DescribeCluster(ctx, in, o...) })
}

type cachedSecrets struct {
	SecretsManagerAPI
	c *readCache
	r string
}

func (s cachedSecrets) ListSecrets(ctx context.Context, in *secretsmanager.ListSecretsInput, o ...func(*secretsmanager.Options)) (*secretsmanager.ListSecretsOutput, error) {
	return cached(ctx, s.c, svcSecrets, "ListSecrets", s.r, in, func() (*secretsmanager.ListSecretsOutput, error) {
		return s.SecretsManagerAPI.ListSecrets(ctx, in, o...)
	})
}

// each runs f for 0..n-1 at once; the AWS calls they make are bounded per
// service by the read cache the clients go through (readBounds). f writes
// its result to its own index, so the outcome does not depend on the
// order. The first f to fail cancels the others' context; the error
// returned is that of the lowest index that failed for a reason of its own
// (not that cancellation), so the same failure gives the same error
// whatever the timing.
func (s *syncer) each(ctx context.Context, n int, f func(ctx context.Context, i int) error) error {
	if n == 1 {
		return f(ctx, 0)
	}
	gctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make([]error, n)
	var wg gosync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if errs[i] = f(gctx, i); errs[i] != nil {
				cancel()
			}
		})
	}
	wg.Wait()
	var first error
	for _, err := range errs {
		if err == nil {
			continue
		}
		if ctx.Err() != nil || !errors.Is(err, context.Canceled) {
			return err
		}
		if first == nil {
			first = err
		}
	}
	return first
}

// all runs fns at once, as each does.
func (s *syncer) all(ctx context.Context, fns ...func(ctx context.Context) error) error {
	return s.each(ctx, len(fns), func(ctx context.Context, i int) error { return fns[i](ctx) })
}
