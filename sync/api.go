package sync

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/acm"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/smithy-go/logging"
)

// Route53API is the part of the Route53 client that sync uses.
// *route53.Client satisfies it; tests use a stateful fake.
type Route53API interface {
	ListHostedZonesByName(ctx context.Context, in *route53.ListHostedZonesByNameInput, optFns ...func(*route53.Options)) (*route53.ListHostedZonesByNameOutput, error)
	ListResourceRecordSets(ctx context.Context, in *route53.ListResourceRecordSetsInput, optFns ...func(*route53.Options)) (*route53.ListResourceRecordSetsOutput, error)
	ChangeResourceRecordSets(ctx context.Context, in *route53.ChangeResourceRecordSetsInput, optFns ...func(*route53.Options)) (*route53.ChangeResourceRecordSetsOutput, error)
	GetChange(ctx context.Context, in *route53.GetChangeInput, optFns ...func(*route53.Options)) (*route53.GetChangeOutput, error)
	ListHealthChecks(ctx context.Context, in *route53.ListHealthChecksInput, optFns ...func(*route53.Options)) (*route53.ListHealthChecksOutput, error)
	ListTagsForResource(ctx context.Context, in *route53.ListTagsForResourceInput, optFns ...func(*route53.Options)) (*route53.ListTagsForResourceOutput, error)
	CreateHealthCheck(ctx context.Context, in *route53.CreateHealthCheckInput, optFns ...func(*route53.Options)) (*route53.CreateHealthCheckOutput, error)
	UpdateHealthCheck(ctx context.Context, in *route53.UpdateHealthCheckInput, optFns ...func(*route53.Options)) (*route53.UpdateHealthCheckOutput, error)
	DeleteHealthCheck(ctx context.Context, in *route53.DeleteHealthCheckInput, optFns ...func(*route53.Options)) (*route53.DeleteHealthCheckOutput, error)
	ChangeTagsForResource(ctx context.Context, in *route53.ChangeTagsForResourceInput, optFns ...func(*route53.Options)) (*route53.ChangeTagsForResourceOutput, error)
}

// ACMAPI is the part of the ACM client that sync uses, in one AWS region.
type ACMAPI interface {
	ListCertificates(ctx context.Context, in *acm.ListCertificatesInput, optFns ...func(*acm.Options)) (*acm.ListCertificatesOutput, error)
	ListTagsForCertificate(ctx context.Context, in *acm.ListTagsForCertificateInput, optFns ...func(*acm.Options)) (*acm.ListTagsForCertificateOutput, error)
	DescribeCertificate(ctx context.Context, in *acm.DescribeCertificateInput, optFns ...func(*acm.Options)) (*acm.DescribeCertificateOutput, error)
	RequestCertificate(ctx context.Context, in *acm.RequestCertificateInput, optFns ...func(*acm.Options)) (*acm.RequestCertificateOutput, error)
	DeleteCertificate(ctx context.Context, in *acm.DeleteCertificateInput, optFns ...func(*acm.Options)) (*acm.DeleteCertificateOutput, error)
}

// ELBAPI is the part of the ELBv2 client that sync uses, in one AWS region.
type ELBAPI interface {
	DescribeLoadBalancers(ctx context.Context, in *elbv2.DescribeLoadBalancersInput, optFns ...func(*elbv2.Options)) (*elbv2.DescribeLoadBalancersOutput, error)
	DescribeTags(ctx context.Context, in *elbv2.DescribeTagsInput, optFns ...func(*elbv2.Options)) (*elbv2.DescribeTagsOutput, error)
}

// Clients gives sync its AWS clients. ACM and ELB are per AWS region.
type Clients struct {
	// Route53 is the global Route53 client.
	Route53 Route53API
	// ACM returns the ACM client of an AWS region.
	ACM func(awsRegion string) ACMAPI
	// ELB returns the ELBv2 client of an AWS region.
	ELB func(awsRegion string) ELBAPI
}

// NewClients builds real SDK clients from cfg (the standard AWS configuration
// chain, including AWS_ENDPOINT_URL). The SDK's own retries are switched off
// because sync retries with backoff itself, through its injected clock.
// The SDK's own log lines (such as "WARN failed to discard ...") are
// discarded: what the user needs to know is in sync's errors and progress.
// Clients of the same region are built once and reused.
func NewClients(cfg aws.Config) Clients {
	cfg = cfg.Copy()
	cfg.Retryer = func() aws.Retryer { return aws.NopRetryer{} }
	cfg.Logger = logging.Nop{}
	cfg.ClientLogMode = 0
	acms := map[string]ACMAPI{}
	elbs := map[string]ELBAPI{}
	return Clients{
		Route53: route53.NewFromConfig(cfg),
		ACM: func(r string) ACMAPI {
			if c, ok := acms[r]; ok {
				return c
			}
			c := acm.NewFromConfig(cfg, func(o *acm.Options) { o.Region = r })
			acms[r] = c
			return c
		},
		ELB: func(r string) ELBAPI {
			if c, ok := elbs[r]; ok {
				return c
			}
			c := elbv2.NewFromConfig(cfg, func(o *elbv2.Options) { o.Region = r })
			elbs[r] = c
			return c
		},
	}
}

// Clock gives sync the time and a way to wait, so tests never really sleep.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// Sleep waits for d or until ctx is done.
	Sleep(ctx context.Context, d time.Duration) error
}

// RealClock is the wall clock.
type RealClock struct{}

// Now returns time.Now().
func (RealClock) Now() time.Time { return time.Now() }

// Sleep waits for d or until ctx is done.
func (RealClock) Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
