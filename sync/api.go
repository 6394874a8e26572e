package sync

import (
	"context"
	gosync "sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/acm"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/smithy-go/logging"

	"github.com/coderfleet/coderfleet/internal/coderapi"
)

// Route53API is the part of the Route53 client that sync uses.
// *route53.Client satisfies it; tests use a stateful fake.
type Route53API interface {
	ListHostedZonesByName(ctx context.Context, in *route53.ListHostedZonesByNameInput, optFns ...func(*route53.Options)) (*route53.ListHostedZonesByNameOutput, error)
	ListResourceRecordSets(ctx context.Context, in *route53.ListResourceRecordSetsInput, optFns ...func(*route53.Options)) (*route53.ListResourceRecordSetsOutput, error)
	ChangeResourceRecordSets(ctx context.Context, in *route53.ChangeResourceRecordSetsInput, optFns ...func(*route53.Options)) (*route53.ChangeResourceRecordSetsOutput, error)
	GetChange(ctx context.Context, in *route53.GetChangeInput, optFns ...func(*route53.Options)) (*route53.GetChangeOutput, error)
	ListHealthChecks(ctx context.Context, in *route53.ListHealthChecksInput, optFns ...func(*route53.Options)) (*route53.ListHealthChecksOutput, error)
	// ListTagsForResources returns the tags of up to 10 health checks in
	// one call (Route53 API Reference, ListTagsForResources: ResourceIds
	// holds 1 to 10 IDs).
	ListTagsForResources(ctx context.Context, in *route53.ListTagsForResourcesInput, optFns ...func(*route53.Options)) (*route53.ListTagsForResourcesOutput, error)
	CreateHealthCheck(ctx context.Context, in *route53.CreateHealthCheckInput, optFns ...func(*route53.Options)) (*route53.CreateHealthCheckOutput, error)
	UpdateHealthCheck(ctx context.Context, in *route53.UpdateHealthCheckInput, optFns ...func(*route53.Options)) (*route53.UpdateHealthCheckOutput, error)
	DeleteHealthCheck(ctx context.Context, in *route53.DeleteHealthCheckInput, optFns ...func(*route53.Options)) (*route53.DeleteHealthCheckOutput, error)
	ChangeTagsForResource(ctx context.Context, in *route53.ChangeTagsForResourceInput, optFns ...func(*route53.Options)) (*route53.ChangeTagsForResourceOutput, error)
	// GetHealthCheckStatus gives the latest observation of each Route53
	// health checker (used by ReadStatus only).
	GetHealthCheckStatus(ctx context.Context, in *route53.GetHealthCheckStatusInput, optFns ...func(*route53.Options)) (*route53.GetHealthCheckStatusOutput, error)
}

// ACMAPI is the part of the ACM client that sync uses, in one AWS region.
// The fleet's certificates are found through TaggingAPI, not by listing
// ACM and asking each certificate for its tags.
type ACMAPI interface {
	DescribeCertificate(ctx context.Context, in *acm.DescribeCertificateInput, optFns ...func(*acm.Options)) (*acm.DescribeCertificateOutput, error)
	RequestCertificate(ctx context.Context, in *acm.RequestCertificateInput, optFns ...func(*acm.Options)) (*acm.RequestCertificateOutput, error)
	DeleteCertificate(ctx context.Context, in *acm.DeleteCertificateInput, optFns ...func(*acm.Options)) (*acm.DeleteCertificateOutput, error)
	// ListCertificates gives status the summaries of an AWS region's
	// certificates (acm:ListCertificates).
	ListCertificates(ctx context.Context, in *acm.ListCertificatesInput, optFns ...func(*acm.Options)) (*acm.ListCertificatesOutput, error)
}

// TaggingAPI is the part of the Resource Groups Tagging API client that
// sync uses, in one AWS region: GetResources with the resource type "acm"
// and a tag filter on coderfleet.io/fleet returns the ARN and tags of
// every certificate of the fleet, in pages of up to 100 (Resource Groups
// Tagging API Reference, GetResources); it needs the tag:GetResources
// permission.
type TaggingAPI interface {
	GetResources(ctx context.Context, in *resourcegroupstaggingapi.GetResourcesInput, optFns ...func(*resourcegroupstaggingapi.Options)) (*resourcegroupstaggingapi.GetResourcesOutput, error)
}

// ELBAPI is the part of the ELBv2 client that sync uses, in one AWS region.
type ELBAPI interface {
	DescribeLoadBalancers(ctx context.Context, in *elbv2.DescribeLoadBalancersInput, optFns ...func(*elbv2.Options)) (*elbv2.DescribeLoadBalancersOutput, error)
	DescribeTags(ctx context.Context, in *elbv2.DescribeTagsInput, optFns ...func(*elbv2.Options)) (*elbv2.DescribeTagsOutput, error)
}

// IAMAPI is the part of the IAM client that sync uses (IAM is global).
// Policy documents it returns are URL-encoded (RFC 3986), as the IAM API
// Reference says of GetRole and GetRolePolicy.
type IAMAPI interface {
	ListOpenIDConnectProviders(ctx context.Context, in *iam.ListOpenIDConnectProvidersInput, optFns ...func(*iam.Options)) (*iam.ListOpenIDConnectProvidersOutput, error)
	ListRoles(ctx context.Context, in *iam.ListRolesInput, optFns ...func(*iam.Options)) (*iam.ListRolesOutput, error)
	GetAccountAuthorizationDetails(ctx context.Context, in *iam.GetAccountAuthorizationDetailsInput, optFns ...func(*iam.Options)) (*iam.GetAccountAuthorizationDetailsOutput, error)
	GetRole(ctx context.Context, in *iam.GetRoleInput, optFns ...func(*iam.Options)) (*iam.GetRoleOutput, error)
	CreateRole(ctx context.Context, in *iam.CreateRoleInput, optFns ...func(*iam.Options)) (*iam.CreateRoleOutput, error)
	UpdateRole(ctx context.Context, in *iam.UpdateRoleInput, optFns ...func(*iam.Options)) (*iam.UpdateRoleOutput, error)
	UpdateAssumeRolePolicy(ctx context.Context, in *iam.UpdateAssumeRolePolicyInput, optFns ...func(*iam.Options)) (*iam.UpdateAssumeRolePolicyOutput, error)
	DeleteRole(ctx context.Context, in *iam.DeleteRoleInput, optFns ...func(*iam.Options)) (*iam.DeleteRoleOutput, error)
	ListRolePolicies(ctx context.Context, in *iam.ListRolePoliciesInput, optFns ...func(*iam.Options)) (*iam.ListRolePoliciesOutput, error)
	GetRolePolicy(ctx context.Context, in *iam.GetRolePolicyInput, optFns ...func(*iam.Options)) (*iam.GetRolePolicyOutput, error)
	PutRolePolicy(ctx context.Context, in *iam.PutRolePolicyInput, optFns ...func(*iam.Options)) (*iam.PutRolePolicyOutput, error)
	DeleteRolePolicy(ctx context.Context, in *iam.DeleteRolePolicyInput, optFns ...func(*iam.Options)) (*iam.DeleteRolePolicyOutput, error)
	ListAttachedRolePolicies(ctx context.Context, in *iam.ListAttachedRolePoliciesInput, optFns ...func(*iam.Options)) (*iam.ListAttachedRolePoliciesOutput, error)
	AttachRolePolicy(ctx context.Context, in *iam.AttachRolePolicyInput, optFns ...func(*iam.Options)) (*iam.AttachRolePolicyOutput, error)
	DetachRolePolicy(ctx context.Context, in *iam.DetachRolePolicyInput, optFns ...func(*iam.Options)) (*iam.DetachRolePolicyOutput, error)
	TagRole(ctx context.Context, in *iam.TagRoleInput, optFns ...func(*iam.Options)) (*iam.TagRoleOutput, error)
	UntagRole(ctx context.Context, in *iam.UntagRoleInput, optFns ...func(*iam.Options)) (*iam.UntagRoleOutput, error)
}

// EKSAPI is the part of the EKS client that sync uses, in one AWS region:
// DescribeCluster gives the cluster's OIDC issuer.
type EKSAPI interface {
	DescribeCluster(ctx context.Context, in *eks.DescribeClusterInput, optFns ...func(*eks.Options)) (*eks.DescribeClusterOutput, error)
}

// SecretsManagerAPI is the part of the Secrets Manager client that sync
// uses, in one AWS region. It has no call that reads a secret's value
// (GetSecretValue): sync never reads values. Its one value call,
// PutSecretValue, stores the one-time token of a Coder workspace proxy or
// provisioner key that sync itself just obtained from coderd; the values
// of secrets.yaml's secrets are never written.
type SecretsManagerAPI interface {
	ListSecrets(ctx context.Context, in *secretsmanager.ListSecretsInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.ListSecretsOutput, error)
	CreateSecret(ctx context.Context, in *secretsmanager.CreateSecretInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.CreateSecretOutput, error)
	UpdateSecret(ctx context.Context, in *secretsmanager.UpdateSecretInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.UpdateSecretOutput, error)
	RestoreSecret(ctx context.Context, in *secretsmanager.RestoreSecretInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.RestoreSecretOutput, error)
	TagResource(ctx context.Context, in *secretsmanager.TagResourceInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.TagResourceOutput, error)
	UntagResource(ctx context.Context, in *secretsmanager.UntagResourceInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.UntagResourceOutput, error)
	DeleteSecret(ctx context.Context, in *secretsmanager.DeleteSecretInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.DeleteSecretOutput, error)
	PutSecretValue(ctx context.Context, in *secretsmanager.PutSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error)
}

// CoderAPI is the part of the Coder REST client that sync uses, on the
// primary region's coderd. *coderapi.Client satisfies it; errors are
// *coderapi.Error (whose HTTPStatusCode lets sync's retries classify them)
// and never hold a token.
type CoderAPI interface {
	// URL is coderd's base URL, for messages.
	URL() string
	WorkspaceProxies(ctx context.Context) ([]coderapi.WorkspaceProxy, error)
	CreateWorkspaceProxy(ctx context.Context, req coderapi.CreateWorkspaceProxyRequest) (coderapi.UpdateWorkspaceProxyResponse, error)
	PatchWorkspaceProxy(ctx context.Context, req coderapi.PatchWorkspaceProxy) (coderapi.UpdateWorkspaceProxyResponse, error)
	DeleteWorkspaceProxy(ctx context.Context, id string) error
	Organization(ctx context.Context, nameOrID string) (coderapi.Organization, error)
	ProvisionerKeys(ctx context.Context, orgID string) ([]coderapi.ProvisionerKey, error)
	CreateProvisionerKey(ctx context.Context, orgID string, req coderapi.CreateProvisionerKeyRequest) (coderapi.CreateProvisionerKeyResponse, error)
	DeleteProvisionerKey(ctx context.Context, orgID, name string) error
}

// Clients gives sync its AWS clients. ACM, ELB, EKS and SecretsManager are
// per AWS region. IAM, EKS and SecretsManager may be nil when the desired
// state has no roles.yaml or secrets.yaml: sync then neither reads nor
// changes IAM or Secrets Manager (NewClients always sets them).
type Clients struct {
	// Route53 is the global Route53 client.
	Route53 Route53API
	// ACM returns the ACM client of an AWS region.
	ACM func(awsRegion string) ACMAPI
	// Tagging returns the Resource Groups Tagging API client of an AWS
	// region (finds the fleet's certificates).
	Tagging func(awsRegion string) TaggingAPI
	// ELB returns the ELBv2 client of an AWS region.
	ELB func(awsRegion string) ELBAPI
	// IAM is the global IAM client.
	IAM IAMAPI
	// EKS returns the EKS client of an AWS region.
	EKS func(awsRegion string) EKSAPI
	// SecretsManager returns the Secrets Manager client of an AWS region.
	SecretsManager func(awsRegion string) SecretsManagerAPI
}

// NewClients builds real SDK clients from cfg (the standard AWS configuration
// chain, including AWS_ENDPOINT_URL). The SDK's own retries are switched off
// because sync retries with backoff itself, through its injected clock.
// The SDK's own log lines (such as "WARN failed to discard ...") are
// discarded: what the user needs to know is in sync's errors and progress.
// Clients of the same region are built once and reused; the functions are
// safe for concurrent use (reads run in parallel).
func NewClients(cfg aws.Config) Clients {
	cfg = cfg.Copy()
	cfg.Retryer = func() aws.Retryer { return aws.NopRetryer{} }
	cfg.Logger = logging.Nop{}
	cfg.ClientLogMode = 0
	return Clients{
		Route53: route53.NewFromConfig(cfg),
		IAM:     iam.NewFromConfig(cfg),
		EKS: perRegion(func(r string) EKSAPI {
			return eks.NewFromConfig(cfg, func(o *eks.Options) { o.Region = r })
		}),
		SecretsManager: perRegion(func(r string) SecretsManagerAPI {
			return secretsmanager.NewFromConfig(cfg, func(o *secretsmanager.Options) { o.Region = r })
		}),
		ACM: perRegion(func(r string) ACMAPI {
			return acm.NewFromConfig(cfg, func(o *acm.Options) { o.Region = r })
		}),
		Tagging: perRegion(func(r string) TaggingAPI {
			return resourcegroupstaggingapi.NewFromConfig(cfg, func(o *resourcegroupstaggingapi.Options) { o.Region = r })
		}),
		ELB: perRegion(func(r string) ELBAPI {
			return elbv2.NewFromConfig(cfg, func(o *elbv2.Options) { o.Region = r })
		}),
	}
}

// perRegion returns a function that gives the client of an AWS region,
// made by mk the first time and reused after; it is safe for concurrent
// use.
func perRegion[T any](mk func(awsRegion string) T) func(awsRegion string) T {
	var mu gosync.Mutex
	made := map[string]T{}
	return func(r string) T {
		mu.Lock()
		defer mu.Unlock()
		c, ok := made[r]
		if !ok {
			c = mk(r)
			made[r] = c
		}
		return c
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
