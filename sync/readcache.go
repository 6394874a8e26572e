package sync

import (
	"context"
	"encoding/json"
	gosync "sync"

	"github.com/aws/aws-sdk-go-v2/service/acm"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"golang.org/x/sync/errgroup"
)

// readCache is what the per-region reads of one ReadStatus share: the
// answers of AWS read calls by operation, AWS region and input (each
// region's read lists the same zone, the certificates of the same AWS
// regions, the same health checks, roles and load balancers; AWS is asked
// once), and a bound on the calls in flight. A call that fails is not
// kept: the caller's retry asks again. Status never writes, so an answer
// stays true for the round.
type readCache struct {
	sem chan struct{}
	mu  gosync.Mutex
	m   map[string]*cacheEntry
	// roleDetails is every IAM role of the account, by name (see
	// syncer.roleDetails).
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

func newReadCache(inFlight int) *readCache {
	return &readCache{sem: make(chan struct{}, inFlight), m: map[string]*cacheEntry{}}
}

// limit runs fn while holding one of the cache's in-flight slots.
func (c *readCache) limit(ctx context.Context, fn func() error) error {
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-c.sem }()
	return fn()
}

// cached returns the answer of the call named key, made by fn once for all
// callers at the same time and kept when it succeeds.
func cached[T any](ctx context.Context, c *readCache, op, awsRegion string, in any, fn func() (T, error)) (T, error) {
	var zero T
	k, err := json.Marshal(in)
	if err != nil { // not expected of an SDK input: ask AWS
		var v T
		err := c.limit(ctx, func() (err error) { v, err = fn(); return err })
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
		e.err = c.limit(ctx, func() (err error) { v, err = fn(); return err })
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
// something pass through unchanged (status makes none).
func (c *readCache) wrap(cl Clients) Clients {
	out := cl
	out.Route53 = cachedRoute53{cl.Route53, c}
	out.ACM = func(r string) ACMAPI { return cachedACM{cl.ACM(r), c, r} }
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
	return cached(ctx, r.c, "ListHostedZonesByName", "", in, func() (*route53.ListHostedZonesByNameOutput, error) {
		return r.Route53API.ListHostedZonesByName(ctx, in, o...)
	})
}

func (r cachedRoute53) ListResourceRecordSets(ctx context.Context, in *route53.ListResourceRecordSetsInput, o ...func(*route53.Options)) (*route53.ListResourceRecordSetsOutput, error) {
	return cached(ctx, r.c, "ListResourceRecordSets", "", in, func() (*route53.ListResourceRecordSetsOutput, error) {
		return r.Route53API.ListResourceRecordSets(ctx, in, o...)
	})
}

func (r cachedRoute53) ListHealthChecks(ctx context.Context, in *route53.ListHealthChecksInput, o ...func(*route53.Options)) (*route53.ListHealthChecksOutput, error) {
	return cached(ctx, r.c, "ListHealthChecks", "", in, func() (*route53.ListHealthChecksOutput, error) { return r.Route53API.ListHealthChecks(ctx, in, o...) })
}

func (r cachedRoute53) ListTagsForResource(ctx context.Context, in *route53.ListTagsForResourceInput, o ...func(*route53.Options)) (*route53.ListTagsForResourceOutput, error) {
	return cached(ctx, r.c, "ListTagsForResource", "", in, func() (*route53.ListTagsForResourceOutput, error) {
		return r.Route53API.ListTagsForResource(ctx, in, o...)
	})
}

func (r cachedRoute53) GetHealthCheckStatus(ctx context.Context, in *route53.GetHealthCheckStatusInput, o ...func(*route53.Options)) (out *route53.GetHealthCheckStatusOutput, err error) {
	err = r.c.limit(ctx, func() (err error) { out, err = r.Route53API.GetHealthCheckStatus(ctx, in, o...); return err })
	return out, err
}

type cachedACM struct {
	ACMAPI
	c *readCache
	r string
}

func (a cachedACM) ListCertificates(ctx context.Context, in *acm.ListCertificatesInput, o ...func(*acm.Options)) (*acm.ListCertificatesOutput, error) {
	return cached(ctx, a.c, "ListCertificates", a.r, in, func() (*acm.ListCertificatesOutput, error) { return a.ACMAPI.ListCertificates(ctx, in, o...) })
}

func (a cachedACM) ListTagsForCertificate(ctx context.Context, in *acm.ListTagsForCertificateInput, o ...func(*acm.Options)) (*acm.ListTagsForCertificateOutput, error) {
	return cached(ctx, a.c, "ListTagsForCertificate", a.r, in, func() (*acm.ListTagsForCertificateOutput, error) {
		return a.ACMAPI.ListTagsForCertificate(ctx, in, o...)
	})
}

func (a cachedACM) DescribeCertificate(ctx context.Context, in *acm.DescribeCertificateInput, o ...func(*acm.Options)) (*acm.DescribeCertificateOutput, error) {
	return cached(ctx, a.c, "DescribeCertificate", a.r, in, func() (*acm.DescribeCertificateOutput, error) { return a.ACMAPI.DescribeCertificate(ctx, in, o...) })
}

type cachedELB struct {
	ELBAPI
	c *readCache
	r string
}

func (e cachedELB) DescribeLoadBalancers(ctx context.Context, in *elbv2.DescribeLoadBalancersInput, o ...func(*elbv2.Options)) (*elbv2.DescribeLoadBalancersOutput, error) {
	return cached(ctx, e.c, "DescribeLoadBalancers", e.r, in, func() (*elbv2.DescribeLoadBalancersOutput, error) {
		return e.ELBAPI.DescribeLoadBalancers(ctx, in, o...)
	})
}

func (e cachedELB) DescribeTags(ctx context.Context, in *elbv2.DescribeTagsInput, o ...func(*elbv2.Options)) (*elbv2.DescribeTagsOutput, error) {
	return cached(ctx, e.c, "DescribeTags", e.r, in, func() (*elbv2.DescribeTagsOutput, error) { return e.ELBAPI.DescribeTags(ctx, in, o...) })
}

type cachedIAM struct {
	IAMAPI
	c *readCache
}

func (i cachedIAM) ListOpenIDConnectProviders(ctx context.Context, in *iam.ListOpenIDConnectProvidersInput, o ...func(*iam.Options)) (*iam.ListOpenIDConnectProvidersOutput, error) {
	return cached(ctx, i.c, "ListOpenIDConnectProviders", "", in, func() (*iam.ListOpenIDConnectProvidersOutput, error) {
		return i.IAMAPI.ListOpenIDConnectProviders(ctx, in, o...)
	})
}

func (i cachedIAM) ListRoles(ctx context.Context, in *iam.ListRolesInput, o ...func(*iam.Options)) (*iam.ListRolesOutput, error) {
	return cached(ctx, i.c, "ListRoles", "", in, func() (*iam.ListRolesOutput, error) { return i.IAMAPI.ListRoles(ctx, in, o...) })
}

func (i cachedIAM) GetAccountAuthorizationDetails(ctx context.Context, in *iam.GetAccountAuthorizationDetailsInput, o ...func(*iam.Options)) (out *iam.GetAccountAuthorizationDetailsOutput, err error) {
	err = i.c.limit(ctx, func() (err error) { out, err = i.IAMAPI.GetAccountAuthorizationDetails(ctx, in, o...); return err })
	return out, err
}

func (i cachedIAM) GetRole(ctx context.Context, in *iam.GetRoleInput, o ...func(*iam.Options)) (*iam.GetRoleOutput, error) {
	return cached(ctx, i.c, "GetRole", "", in, func() (*iam.GetRoleOutput, error) { return i.IAMAPI.GetRole(ctx, in, o...) })
}

func (i cachedIAM) ListRolePolicies(ctx context.Context, in *iam.ListRolePoliciesInput, o ...func(*iam.Options)) (*iam.ListRolePoliciesOutput, error) {
	return cached(ctx, i.c, "ListRolePolicies", "", in, func() (*iam.ListRolePoliciesOutput, error) { return i.IAMAPI.ListRolePolicies(ctx, in, o...) })
}

func (i cachedIAM) GetRolePolicy(ctx context.Context, in *iam.GetRolePolicyInput, o ...func(*iam.Options)) (*iam.GetRolePolicyOutput, error) {
	return cached(ctx, i.c, "GetRolePolicy", "", in, func() (*iam.GetRolePolicyOutput, error) { return i.IAMAPI.GetRolePolicy(ctx, in, o...) })
}

func (i cachedIAM) ListAttachedRolePolicies(ctx context.Context, in *iam.ListAttachedRolePoliciesInput, o ...func(*iam.Options)) (*iam.ListAttachedRolePoliciesOutput, error) {
	return cached(ctx, i.c, "ListAttachedRolePolicies", "", in, func() (*iam.ListAttachedRolePoliciesOutput, error) {
		return i.IAMAPI.ListAttachedRolePolicies(ctx, in, o...)
	})
}

type cachedEKS struct {
	EKSAPI
	c *readCache
	r string
}

func (e cachedEKS) DescribeCluster(ctx context.Context, in *eks.DescribeClusterInput, o ...func(*eks.Options)) (*eks.DescribeClusterOutput, error) {
	return cached(ctx, e.c, "DescribeCluster", e.r, in, func() (*eks.DescribeClusterOutput, error) { return e.EKSAPI.DescribeCluster(ctx, in, o...) })
}

type cachedSecrets struct {
	SecretsManagerAPI
	c *readCache
	r string
}

func (s cachedSecrets) ListSecrets(ctx context.Context, in *secretsmanager.ListSecretsInput, o ...func(*secretsmanager.Options)) (*secretsmanager.ListSecretsOutput, error) {
	return cached(ctx, s.c, "ListSecrets", s.r, in, func() (*secretsmanager.ListSecretsOutput, error) {
		return s.SecretsManagerAPI.ListSecrets(ctx, in, o...)
	})
}

// each runs f for 0..n-1: one after the other in sync plan and apply (their
// order of calls is part of what their tests pin), and at once, bounded by
// the in-flight limit of the shared cache, in ReadStatus. f writes its
// result to its own index, so the outcome does not depend on the order.
func (s *syncer) each(ctx context.Context, n int, f func(ctx context.Context, i int) error) error {
	if s.share == nil {
		for i := range n {
			if err := f(ctx, i); err != nil {
				return err
			}
		}
		return nil
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(cap(s.share.sem))
	for i := range n {
		g.Go(func() error { return f(gctx, i) })
	}
	return g.Wait()
}
