package awsrules

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws/arn"
)

// Sources of the rules: the AWS documents that state each limit or format.
const (
	// SourceACMRegions says ACM certificates are regional: a load balancer
	// uses only a certificate of its own region (and account).
	SourceACMRegions = "https://docs.aws.amazon.com/acm/latest/userguide/acm-regions.html"
	// SourceACMARN is the format of an ACM certificate ARN.
	SourceACMARN = "https://docs.aws.amazon.com/acm/latest/userguide/authen-overview.html"
	// SourceACMQuotas states the default of 10 domain names per certificate.
	SourceACMQuotas = "https://docs.aws.amazon.com/acm/latest/userguide/acm-limits.html"
	// SourceACMRequest states the domain name rules of RequestCertificate.
	SourceACMRequest = "https://docs.aws.amazon.com/acm/latest/APIReference/API_RequestCertificate.html"
	// SourceRoute53Names states the domain name format of Route53.
	SourceRoute53Names = "https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/DomainNameFormat.html"
	// SourceRoute53RecordSet states the set identifier length.
	SourceRoute53RecordSet = "https://docs.aws.amazon.com/Route53/latest/APIReference/API_ResourceRecordSet.html"
	// SourceRoute53HealthCheck states the health check field limits.
	SourceRoute53HealthCheck = "https://docs.aws.amazon.com/Route53/latest/APIReference/API_HealthCheckConfig.html"
	// SourceIAMRole states the role name and path rules of CreateRole.
	SourceIAMRole = "https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html"
	// SourceSecretsManagerName states the secret name rules of CreateSecret.
	SourceSecretsManagerName = "https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_CreateSecret.html"
	// SourceEKSClusterName states the cluster name rules of CreateCluster.
	SourceEKSClusterName = "https://docs.aws.amazon.com/eks/latest/APIReference/API_CreateCluster.html"
	// SourceEC2ResourceIDs states the format of VPC ids.
	SourceEC2ResourceIDs = "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_Vpc.html"
	// SourceTags states the tag key and value rules shared by AWS services.
	SourceTags = "https://docs.aws.amazon.com/tag-editor/latest/userguide/best-practices-and-strats.html"
	// SourceELBName states the load balancer name rules of CreateLoadBalancer.
	SourceELBName = "https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateLoadBalancer.html"
	// SourceNLBAttributes lists the Network Load Balancer attributes.
	SourceNLBAttributes = "https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_LoadBalancerAttribute.html"
	// SourceLBCAnnotations lists the AWS Load Balancer Controller's Service
	// annotations and their values.
	SourceLBCAnnotations = "https://kubernetes-sigs.github.io/aws-load-balancer-controller/latest/guide/service/annotations/"
)

// Limits AWS documents, exported for messages and tests.
const (
	// MaxDomainName is the longest domain name ACM and Route53 accept, in
	// characters without the trailing dot (255 octets on the wire).
	MaxDomainName = 253
	// MaxLabel is the longest DNS label.
	MaxLabel = 63
	// MaxCertificateNames is ACM's default quota of domain names
	// (the domain name and its alternative names) per certificate.
	MaxCertificateNames = 10
	// MaxSetIdentifier is the longest Route53 record set identifier.
	MaxSetIdentifier = 128
	// MaxHealthCheckFQDN is the longest health check domain name.
	MaxHealthCheckFQDN = 255
	// MaxResourcePath is the longest health check resource path.
	MaxResourcePath = 255
	// MaxRoleName is the longest IAM role name.
	MaxRoleName = 64
	// MaxRolePath is the longest IAM path.
	MaxRolePath = 512
	// MaxSecretName is the longest Secrets Manager secret name.
	MaxSecretName = 512
	// MaxClusterName is the longest EKS cluster name.
	MaxClusterName = 100
	// MaxTagKey is the longest tag key, in characters.
	MaxTagKey = 128
	// MaxTagValue is the longest tag value, in characters.
	MaxTagValue = 256
	// MaxTagsHealthCheck is the most tags a Route53 health check carries.
	MaxTagsHealthCheck = 10
	// MaxTagsACM is the most tags an ACM certificate carries.
	MaxTagsACM = 50
	// MaxLoadBalancerName is the longest Elastic Load Balancing name.
	MaxLoadBalancerName = 32
)

// ruleError is a broken rule with the action that fixes it.
type ruleError struct{ msg, hint string }

func (e *ruleError) Error() string { return e.msg }

func broken(hint, source, format string, args ...any) error {
	return &ruleError{msg: fmt.Sprintf(format, args...) + " (" + source + ")", hint: hint}
}

// HintOf returns what the user can do about an error of this package, or ""
// for any other error.
func HintOf(err error) string {
	var re *ruleError
	if errors.As(err, &re) {
		return re.hint
	}
	return ""
}

// SourceRegions lists the AWS regions and their codes.
const SourceRegions = "https://docs.aws.amazon.com/global-infrastructure/latest/regions/aws-regions.html"

// Regions are the AWS region codes of the commercial and GovCloud
// partitions, sorted (SourceRegions).
//
// The list is kept by hand: aws-sdk-go-v2 carries the partition data
// (partitions.json, with every region of every partition) only in its
// internal package internal/endpoints/awsrulesfn, which other modules cannot
// import, and exports no function listing regions (v1's
// endpoints.DefaultPartitions has no v2 counterpart). A test compares this
// list with that file of the SDK version in go.mod, so upgrading the SDK
// reports the regions AWS added.
var Regions = []string{
	"af-south-1", "ap-east-1", "ap-east-2", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3",
	"ap-south-1", "ap-south-2", "ap-southeast-1", "ap-southeast-2", "ap-southeast-3", "ap-southeast-4",
	"ap-southeast-5", "ap-southeast-6", "ap-southeast-7", "ca-central-1", "ca-west-1", "eu-central-1",
	"eu-central-2", "eu-north-1", "eu-south-1", "eu-south-2", "eu-west-1", "eu-west-2", "eu-west-3",
	"il-central-1", "me-central-1", "me-south-1", "me-west-1", "mx-central-1", "sa-east-1", "sa-west-1",
	"us-east-1", "us-east-2", "us-gov-east-1", "us-gov-west-1", "us-west-1", "us-west-2",
}

// AWSRegion checks that code is one of Regions: ACM, Route53 latency
// records and load balancers only exist in real regions (SourceRegions).
func AWSRegion(code string) error {
	if _, ok := slices.BinarySearch(Regions, code); !ok {
		return broken("use an AWS region code such as us-east-2", SourceRegions, "unknown AWS region %q", code)
	}
	return nil
}

// Partition returns the ARN partition of an AWS region code: aws-us-gov
// for GovCloud, aws-cn for China, aws otherwise.
func Partition(awsRegion string) string {
	switch {
	case strings.HasPrefix(awsRegion, "us-gov-"):
		return "aws-us-gov"
	case strings.HasPrefix(awsRegion, "cn-"):
		return "aws-cn"
	}
	return "aws"
}

var (
	accountRE = regexp.MustCompile(`^[0-9]{12}$`)
	uuidRE    = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
)

func knownPartition(p string) bool { return p == "aws" || p == "aws-cn" || p == "aws-us-gov" }

// CertificateARN checks an ACM certificate ARN that a load balancer in
// awsRegion of account accountID will use:
// arn:<partition>:acm:<awsRegion>:<accountID>:certificate/<uuid>. An empty
// awsRegion or accountID skips that comparison (the format is still checked).
// ACM certificates are regional and cannot be used by a load balancer of
// another account (SourceACMRegions).
func CertificateARN(s, awsRegion, accountID string) error {
	const want = "expected arn:aws:acm:<region>:<12-digit account>:certificate/<uuid>"
	bad := func(why, source string) error {
		return broken(want, source, "%q is not an ACM certificate ARN: %s", s, why)
	}
	a, err := arn.Parse(s)
	switch {
	case err != nil:
		return bad("it is not an ARN", SourceACMARN)
	case !knownPartition(a.Partition):
		return bad(fmt.Sprintf("unknown partition %q", a.Partition), SourceACMARN)
	case a.Service != "acm":
		return bad(fmt.Sprintf("service is %q, not acm", a.Service), SourceACMARN)
	case !accountRE.MatchString(a.AccountID):
		return bad("the account id is not 12 digits", SourceACMARN)
	case !strings.HasPrefix(a.Resource, "certificate/") || !uuidRE.MatchString(strings.TrimPrefix(a.Resource, "certificate/")):
		return bad(fmt.Sprintf("resource %q is not certificate/<uuid>", a.Resource), SourceACMARN)
	}
	if awsRegion != "" && (a.Region != awsRegion || a.Partition != Partition(awsRegion)) {
		return broken(fmt.Sprintf("request or import the certificate in %s", awsRegion),
			SourceACMRegions, "%q is in AWS region %q, but the load balancer is in %q: ACM certificates are regional and a load balancer can only use one of its own region (it would fail with CertificateNotFound)",
			s, a.Region, awsRegion)
	}
	if accountID != "" && a.AccountID != accountID {
		return broken(fmt.Sprintf("use a certificate of account %s, the fleet's awsAccountID", accountID),
			SourceACMRegions, "%q belongs to account %s, but the fleet's load balancers are in account %s: a load balancer can only use a certificate of its own account (it would fail with CertificateNotFound)",
			s, a.AccountID, accountID)
	}
	return nil
}

var (
	roleNameRE = regexp.MustCompile(`^[\w+=,.@-]+$`)
	rolePathRE = regexp.MustCompile(`^/([\x21-\x7e]*/)?$`)
)

// IAMRoleARN checks an IAM role ARN: arn:<partition>:iam::<12-digit
// account>:role/<path><name>, where the name has 1 to 64 letters, digits
// and +=,.@_- and the optional path is at most 512 printable ASCII
// characters beginning and ending with '/' (SourceIAMRole).
func IAMRoleARN(s string) error {
	const hint = "write arn:aws:iam::<12-digit account>:role/<name>, the name at most 64 letters, digits and +=,.@_- (placeholders such as {cluster} count once expanded)"
	bad := func(format string, args ...any) error {
		return broken(hint, SourceIAMRole, "%q is not an IAM role ARN: "+format, append([]any{s}, args...)...)
	}
	if s == "" {
		return broken(hint, SourceIAMRole, "empty IAM role ARN")
	}
	a, err := arn.Parse(s)
	switch {
	case err != nil:
		return bad("it is not an ARN")
	case !knownPartition(a.Partition):
		return bad("unknown partition %q", a.Partition)
	case a.Service != "iam":
		return bad("service is %q, not iam", a.Service)
	case a.Region != "":
		return bad("IAM ARNs have no region, got %q", a.Region)
	case !accountRE.MatchString(a.AccountID):
		return bad("the account id must be 12 digits")
	case !strings.HasPrefix(a.Resource, "role/"):
		return bad("the resource must be role/<name>, got %q", a.Resource)
	}
	rest := strings.TrimPrefix(a.Resource, "role")
	i := strings.LastIndex(rest, "/")
	path, name := rest[:i+1], rest[i+1:]
	switch {
	case name == "":
		return bad("the role name is empty")
	case len(name) > MaxRoleName:
		return bad("the role name %q is %d characters; IAM allows at most %d", name, len(name), MaxRoleName)
	case !roleNameRE.MatchString(name):
		return bad("the role name %q may only hold letters, digits and +=,.@_-", name)
	case len(path) > MaxRolePath || !rolePathRE.MatchString(path):
		return bad("the path %q must be at most %d printable ASCII characters beginning and ending with '/'", path, MaxRolePath)
	}
	return nil
}

var secretNameRE = regexp.MustCompile(`^[A-Za-z0-9/_+=.@-]+$`)

// SecretName checks a Secrets Manager secret name: 1 to 512 letters,
// digits and /_+=.@- (SourceSecretsManagerName).
func SecretName(s string) error {
	const hint = "the Secrets Manager secret name, such as litellm/workspace-key"
	switch {
	case s == "" || len(s) > MaxSecretName:
		return broken(hint, SourceSecretsManagerName, "%q is not a valid secret name: Secrets Manager names are 1 to %d characters, got %d", s, MaxSecretName, len(s))
	case !secretNameRE.MatchString(s):
		return broken(hint, SourceSecretsManagerName, "%q is not a valid secret name: Secrets Manager names hold only letters, digits and /_+=.@-", s)
	}
	return nil
}

var clusterNameRE = regexp.MustCompile(`^[0-9A-Za-z][A-Za-z0-9_-]*$`)

// EKSClusterName checks an EKS cluster name: 1 to 100 characters, letters,
// digits, '-' and '_', beginning with a letter or digit
// (SourceEKSClusterName).
func EKSClusterName(s string) error {
	if len(s) > MaxClusterName || !clusterNameRE.MatchString(s) {
		return broken("the EKS cluster's name: letters, digits, '-' and '_', beginning with a letter or digit, at most 100 characters",
			SourceEKSClusterName, "%q is not a valid cluster name: EKS names are 1 to %d letters, digits, '-' and '_', beginning with a letter or digit", s, MaxClusterName)
	}
	return nil
}

var vpcIDRE = regexp.MustCompile(`^vpc-([0-9a-f]{8}|[0-9a-f]{17})$`)

// VPCID checks a VPC id: vpc- and 8 or 17 lower-case hexadecimal digits
// (SourceEC2ResourceIDs).
func VPCID(s string) error {
	if !vpcIDRE.MatchString(s) {
		return broken("for example vpc-0123456789abcdef0", SourceEC2ResourceIDs, "%q is not a VPC id: EC2 VPC ids are vpc- and 8 or 17 lower-case hexadecimal digits", s)
	}
	return nil
}

// DomainName checks a name coderfleet gives ACM or Route53: at most 253
// characters (255 octets on the wire), labels of 1 to 63 lower-case letters,
// digits, '-' or '_', and '*' only as the whole leftmost label
// (SourceRoute53Names, SourceACMRequest). It does not check the trailing
// dot, which callers strip.
func DomainName(s string) error {
	const hint = "shorten the fleet's domain or the region's name; every name is <region>.<domain>, *.<region>.<domain> or llm.<domain>"
	if len(s) > MaxDomainName {
		return broken(hint, SourceRoute53Names, "%q is %d characters; ACM and Route53 accept a domain name of at most %d", s, len(s), MaxDomainName)
	}
	for i, l := range strings.Split(s, ".") {
		switch {
		case l == "*" && i == 0:
		case strings.Contains(l, "*"):
			return broken("a wildcard is written *.<name>", SourceACMRequest, "%q has a wildcard that is not the whole leftmost label; ACM and Route53 accept '*' only as the leftmost label", s)
		case l == "" || len(l) > MaxLabel:
			return broken(hint, SourceRoute53Names, "%q has a label of %d characters; a DNS label is 1 to %d characters", s, len(l), MaxLabel)
		case strings.Trim(l, "abcdefghijklmnopqrstuvwxyz0123456789-_") != "":
			return broken("use lower-case letters, digits, '-' and '_'", SourceRoute53Names, "%q is not a lower-case DNS name: label %q holds other characters", s, l)
		}
	}
	return nil
}

// CertificateNames checks how many domain names (the domain name and its
// alternative names) one certificate request carries against ACM's default
// quota of 10 (SourceACMQuotas).
func CertificateNames(n int) error {
	if n > MaxCertificateNames {
		return broken("split the names over two certificates, or raise the ACM quota and keep the list within it",
			SourceACMQuotas, "a certificate with %d domain names exceeds ACM's default quota of %d per certificate", n, MaxCertificateNames)
	}
	return nil
}

// SetIdentifier checks a Route53 record set identifier: 1 to 128
// characters (SourceRoute53RecordSet).
func SetIdentifier(s string) error {
	if s == "" || len(s) > MaxSetIdentifier {
		return broken("use the region's name", SourceRoute53RecordSet, "set identifier of %d characters; Route53 accepts 1 to %d", len(s), MaxSetIdentifier)
	}
	return nil
}

// HealthCheckFQDN checks the domain name a Route53 health check probes: at
// most 255 characters (SourceRoute53HealthCheck).
func HealthCheckFQDN(s string) error {
	if len(s) > MaxHealthCheckFQDN {
		return broken("shorten the fleet's domain or the region's name", SourceRoute53HealthCheck, "health check domain name of %d characters; Route53 accepts at most %d", len(s), MaxHealthCheckFQDN)
	}
	return nil
}

// ResourcePath checks a Route53 health check's resource path: beginning
// with '/', at most 255 characters (SourceRoute53HealthCheck).
func ResourcePath(s string) error {
	switch {
	case !strings.HasPrefix(s, "/"):
		return broken("for example /api/v2/buildinfo", SourceRoute53HealthCheck, "resource path %q must start with '/'", s)
	case len(s) > MaxResourcePath:
		return broken("probe a shorter path, such as /api/v2/buildinfo", SourceRoute53HealthCheck, "resource path of %d characters; Route53 accepts at most %d", len(s), MaxResourcePath)
	}
	return nil
}

var tagCharsRE = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$`)

// Tag checks one tag: a key of 1 to 128 characters not beginning with the
// reserved prefix aws:, a value of at most 256 characters, both of letters,
// digits, spaces and _.:/=+-@ (SourceTags).
func Tag(key, value string) error {
	const hint = "tag keys are 1 to 128 and values at most 256 letters, digits, spaces and _.:/=+-@; keys must not start with aws:"
	switch {
	case key == "" || len([]rune(key)) > MaxTagKey:
		return broken(hint, SourceTags, "tag key %q has %d characters; AWS accepts 1 to %d", key, len([]rune(key)), MaxTagKey)
	case strings.HasPrefix(strings.ToLower(key), "aws:"):
		return broken(hint, SourceTags, "tag key %q uses the prefix aws:, which AWS reserves for its own tags", key)
	case !tagCharsRE.MatchString(key):
		return broken(hint, SourceTags, "tag key %q holds characters AWS does not accept in tags", key)
	case len([]rune(value)) > MaxTagValue:
		return broken(hint, SourceTags, "value of tag %q has %d characters; AWS accepts at most %d", key, len([]rune(value)), MaxTagValue)
	case !tagCharsRE.MatchString(value):
		return broken(hint, SourceTags, "value of tag %q holds characters AWS does not accept in tags", key)
	}
	return nil
}

// TagCount checks the number of tags on one resource of a service against
// that service's maximum (MaxTagsHealthCheck, MaxTagsACM).
func TagCount(n, limit int, service string) error {
	if n > limit {
		return broken("remove tags", SourceTags, "%d tags on one %s; AWS accepts at most %d", n, service, limit)
	}
	return nil
}

var lbNameRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?$`)

// LoadBalancerName checks an Elastic Load Balancing name: 1 to 32 letters,
// digits and '-', not beginning or ending with '-' and not beginning with
// internal- (SourceELBName).
func LoadBalancerName(s string) error {
	if len(s) > MaxLoadBalancerName || !lbNameRE.MatchString(s) || strings.HasPrefix(s, "internal-") {
		return broken("use at most 32 letters, digits and '-', or leave the name out so the controller generates one",
			SourceELBName, "%q is not a valid load balancer name: 1 to %d letters, digits and '-', not beginning or ending with '-' nor beginning with internal-", s, MaxLoadBalancerName)
	}
	return nil
}

// nlbAttributes are the Network Load Balancer attributes and, for those
// with a closed set, their values (SourceNLBAttributes).
var nlbAttributes = map[string][]string{
	"deletion_protection.enabled":            {"true", "false"},
	"load_balancing.cross_zone.enabled":      {"true", "false"},
	"access_logs.s3.enabled":                 {"true", "false"},
	"access_logs.s3.bucket":                  nil,
	"access_logs.s3.prefix":                  nil,
	"ipv6.deny_all_igw_traffic":              {"true", "false"},
	"dns_record.client_routing_policy":       {"availability_zone_affinity", "partial_availability_zone_affinity", "any_availability_zone"},
	"zonal_shift.config.enabled":             {"true", "false"},
	"secondary_ips.auto_assigned.per_subnet": nil,
}

// Service annotations of the AWS Load Balancer Controller whose values
// coderfleet checks (SourceLBCAnnotations).
const (
	// AnnotationPrefix starts every annotation of the controller.
	AnnotationPrefix = "service.beta.kubernetes.io/aws-load-balancer-"
	// AnnotationType selects the controller: external, nlb-ip or nlb.
	AnnotationType = AnnotationPrefix + "type"
	// AnnotationTargetType is ip or instance.
	AnnotationTargetType = AnnotationPrefix + "nlb-target-type"
	// AnnotationScheme is internet-facing or internal.
	AnnotationScheme = AnnotationPrefix + "scheme"
	// AnnotationBackend is tcp or ssl.
	AnnotationBackend = AnnotationPrefix + "backend-protocol"
	// AnnotationSSLCert lists certificate ARNs, comma-separated.
	AnnotationSSLCert = AnnotationPrefix + "ssl-cert"
	// AnnotationName names the load balancer.
	AnnotationName = AnnotationPrefix + "name"
	// AnnotationAttributes sets load balancer attributes, key=value,...
	AnnotationAttributes = AnnotationPrefix + "attributes"
	// AnnotationAdditionalTags tags the load balancer, key=value,...
	AnnotationAdditionalTags = AnnotationPrefix + "additional-resource-tags"
)

// annotationValues are the closed value sets of the controller's
// annotations (SourceLBCAnnotations).
var annotationValues = map[string][]string{
	AnnotationType:       {"external", "nlb-ip", "nlb"},
	AnnotationTargetType: {"ip", "instance"},
	AnnotationScheme:     {"internet-facing", "internal"},
	AnnotationBackend:    {"tcp", "ssl"},
}

// ServiceAnnotation checks the value of one Service annotation that the AWS
// Load Balancer Controller hands to Elastic Load Balancing, for a load
// balancer in awsRegion of account accountID: closed value sets (type,
// nlb-target-type, scheme, backend-protocol), the certificate ARNs of
// ssl-cert (comma-separated), the name, the known attribute keys and values
// of attributes (key=value,...), and the tags of additional-resource-tags.
// Other annotations are not checked.
func ServiceAnnotation(key, value, awsRegion, accountID string) error {
	if allowed, ok := annotationValues[key]; ok {
		if !slices.Contains(allowed, value) {
			return broken("use one of: "+strings.Join(allowed, ", "), SourceLBCAnnotations,
				"invalid value %q: the AWS Load Balancer Controller accepts %s", value, strings.Join(allowed, ", "))
		}
		return nil
	}
	switch key {
	case AnnotationSSLCert:
		for _, c := range strings.Split(value, ",") {
			c = strings.TrimSpace(c)
			if strings.HasPrefix(c, "arn:") && strings.Contains(c, ":iam::") {
				continue // an IAM server certificate is global
			}
			if err := CertificateARN(c, awsRegion, accountID); err != nil {
				return err
			}
		}
	case AnnotationName:
		return LoadBalancerName(value)
	case AnnotationAttributes:
		for _, kv := range strings.Split(value, ",") {
			k, v, _ := strings.Cut(strings.TrimSpace(kv), "=")
			allowed, known := nlbAttributes[k]
			switch {
			case !known:
				return broken("use one of: "+strings.Join(slices.Sorted(maps.Keys(nlbAttributes)), ", "), SourceNLBAttributes,
					"unknown Network Load Balancer attribute %q", k)
			case allowed != nil && !slices.Contains(allowed, v):
				return broken("use one of: "+strings.Join(allowed, ", "), SourceNLBAttributes,
					"invalid value %q of attribute %s", v, k)
			}
		}
	case AnnotationAdditionalTags:
		for _, kv := range strings.Split(value, ",") {
			k, v, _ := strings.Cut(strings.TrimSpace(kv), "=")
			if err := Tag(k, v); err != nil {
				return err
			}
		}
	}
	return nil
}

// SourceIAMQuotas states IAM's name, path, description and policy size
// limits and the default quota of managed policies per role.
const SourceIAMQuotas = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html"

// IAM limits (SourceIAMQuotas).
const (
	// MaxRoleDescription is the longest role description, in characters.
	MaxRoleDescription = 1000
	// MaxPolicyName is the longest inline policy name.
	MaxPolicyName = 128
	// MaxRoleInlinePolicySize is the most characters a role's inline
	// policies hold together, not counting white space.
	MaxRoleInlinePolicySize = 10240
	// MaxManagedPoliciesPerRole is IAM's default quota of managed
	// policies attached to one role.
	MaxManagedPoliciesPerRole = 10
	// MaxTagsIAM is the most tags an IAM role carries.
	MaxTagsIAM = 50
)

// RoleName checks an IAM role name: 1 to 64 letters, digits and +=,.@_-
// (SourceIAMQuotas, SourceIAMRole). hint says how the caller's name is
// made, so the user knows what to shorten.
func RoleName(name, hint string) error {
	switch {
	case name == "":
		return broken(hint, SourceIAMRole, "empty IAM role name")
	case len(name) > MaxRoleName:
		return broken(hint, SourceIAMQuotas, "the role name %q is %d characters; IAM allows at most %d", name, len(name), MaxRoleName)
	case !roleNameRE.MatchString(name):
		return broken(hint, SourceIAMRole, "the role name %q may only hold letters, digits and +=,.@_-", name)
	}
	return nil
}

// RolePath checks an IAM path: "/" or /<printable ASCII>/, at most 512
// characters (SourceIAMRole).
func RolePath(p string) error {
	if len(p) > MaxRolePath || !rolePathRE.MatchString(p) {
		return broken("write / or /<segments>/ in printable ASCII", SourceIAMRole, "the path %q must be at most %d printable ASCII characters beginning and ending with '/'", p, MaxRolePath)
	}
	return nil
}

// RoleDescription checks an IAM role description: at most 1000
// characters (SourceIAMQuotas).
func RoleDescription(d string) error {
	if n := len([]rune(d)); n > MaxRoleDescription {
		return broken("shorten the description", SourceIAMQuotas, "the role description is %d characters; IAM allows at most %d", n, MaxRoleDescription)
	}
	return nil
}

// PolicyName checks an inline policy name: 1 to 128 letters, digits and
// +=,.@_- (SourceIAMQuotas).
func PolicyName(name string) error {
	if name == "" || len(name) > MaxPolicyName || !roleNameRE.MatchString(name) {
		return broken("use 1 to 128 letters, digits and +=,.@_-", SourceIAMQuotas, "%q is not a valid inline policy name: 1 to %d letters, digits and +=,.@_-", name, MaxPolicyName)
	}
	return nil
}

// RoleInlinePolicySize checks the aggregate size of a role's inline
// policies, n characters without white space, against IAM's 10,240
// (SourceIAMQuotas).
func RoleInlinePolicySize(n int) error {
	if n > MaxRoleInlinePolicySize {
		return broken("move statements into a managed policy, or merge statements that share actions or resources", SourceIAMQuotas,
			"the role's inline policies hold %d characters (white space not counted); IAM allows at most %d per role", n, MaxRoleInlinePolicySize)
	}
	return nil
}

// ManagedPolicyCount checks the number of managed policies attached to one
// role against IAM's default quota of 10 (SourceIAMQuotas).
func ManagedPolicyCount(n int) error {
	if n > MaxManagedPoliciesPerRole {
		return broken("attach fewer managed policies, or put their statements into inline policies", SourceIAMQuotas,
			"%d managed policies on one role; IAM's default quota is %d", n, MaxManagedPoliciesPerRole)
	}
	return nil
}

var policyResourceRE = regexp.MustCompile(`^policy(/[\x21-\x7e]*)?/[\w+=,.@-]{1,128}$`)

// ManagedPolicyARN checks a managed policy ARN:
// arn:<partition>:iam::<12-digit account or aws>:policy/<path><name>
// (SourceIAMRole, the ARN format of the IAM identifiers reference).
func ManagedPolicyARN(s string) error {
	const hint = "write arn:aws:iam::aws:policy/<name> for an AWS managed policy, or arn:aws:iam::<12-digit account>:policy/<name> for your own"
	a, err := arn.Parse(s)
	switch {
	case err != nil:
		return broken(hint, SourceIAMRole, "%q is not a managed policy ARN: it is not an ARN", s)
	case !knownPartition(a.Partition) || a.Service != "iam" || a.Region != "":
		return broken(hint, SourceIAMRole, "%q is not a managed policy ARN: expected arn:<partition>:iam::<account>:policy/<name>", s)
	case a.AccountID != "aws" && !accountRE.MatchString(a.AccountID):
		return broken(hint, SourceIAMRole, "%q is not a managed policy ARN: the account must be 12 digits, or aws for an AWS managed policy", s)
	case !policyResourceRE.MatchString(a.Resource):
		return broken(hint, SourceIAMRole, "%q is not a managed policy ARN: the resource must be policy/<path><name>", s)
	}
	return nil
}

// SourceKMSARN states the format of a KMS key ARN.
const SourceKMSARN = "https://docs.aws.amazon.com/kms/latest/developerguide/concepts.html#key-id-key-ARN"

// KMSKeyARN checks a KMS key ARN, arn:<partition>:kms:<region>:<12-digit
// account>:key/<key id>, of a key in awsRegion (a secret is encrypted with
// a key of its own region; empty awsRegion skips the comparison)
// (SourceKMSARN).
func KMSKeyARN(s, awsRegion string) error {
	const hint = "write the key's ARN, arn:aws:kms:<region>:<12-digit account>:key/<key id> (an alias or a bare key id cannot be named in the roles' policies)"
	a, err := arn.Parse(s)
	switch {
	case err != nil || !knownPartition(a.Partition) || a.Service != "kms" || !accountRE.MatchString(a.AccountID) ||
		!strings.HasPrefix(a.Resource, "key/") || len(a.Resource) == len("key/"):
		return broken(hint, SourceKMSARN, "%q is not a KMS key ARN", s)
	case awsRegion != "" && a.Region != awsRegion:
		return broken(fmt.Sprintf("use a key in %s", awsRegion), SourceKMSARN, "KMS key %q is in %q, but the secret is in %q: Secrets Manager encrypts a secret only with a key of its own region", s, a.Region, awsRegion)
	}
	return nil
}
