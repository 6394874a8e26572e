package awsrules

import (
	"strings"
	"testing"
)

// TestRules runs every rule on values AWS accepts (no error) and on values
// it refuses (an error naming the limit or the rule, its source and a hint).
func TestRules(t *testing.T) {
	const cert = "arn:aws:acm:eu-west-2:123456789012:certificate/00000000-0000-4000-8000-000000000004"
	long := func(n int) string { return strings.Repeat("a", n) }
	for _, tc := range []struct {
		name string
		err  error
		want string // "" when the value is accepted
	}{
		{"cert ok", CertificateARN(cert, "eu-west-2", "123456789012"), ""},
		{"cert format only", CertificateARN(cert, "", ""), ""},
		{"cert gov partition", CertificateARN("arn:aws-us-gov:acm:us-gov-west-1:123456789012:certificate/00000000-0000-4000-8000-000000000004", "us-gov-west-1", ""), ""},
		{"cert other region", CertificateARN(cert, "us-west-2", "123456789012"), "ACM certificates are regional"},
		{"cert other account", CertificateARN(cert, "eu-west-2", "210987654321"), "belongs to account 123456789012"},
		{"cert wrong partition", CertificateARN(cert, "us-gov-west-1", ""), "ACM certificates are regional"},
		{"cert iam", CertificateARN("arn:aws:iam::123456789012:server-certificate/coder", "", ""), `service is "iam"`},
		{"cert not uuid", CertificateARN("arn:aws:acm:eu-west-2:123456789012:certificate/abc", "", ""), "certificate/<uuid>"},
		{"cert short account", CertificateARN("arn:aws:acm:eu-west-2:123:certificate/00000000-0000-4000-8000-000000000004", "", ""), "12 digits"},
		{"role ok", IAMRoleARN("arn:aws:iam::123456789012:role/coderdemo-use2-litellm"), ""},
		{"role path ok", IAMRoleARN("arn:aws:iam::123456789012:role/platform/coder/litellm"), ""},
		{"role name 64", IAMRoleARN("arn:aws:iam::123456789012:role/" + long(64)), ""},
		{"role name 65", IAMRoleARN("arn:aws:iam::123456789012:role/" + long(65)), "IAM allows at most 64"},
		{"role name chars", IAMRoleARN("arn:aws:iam::123456789012:role/coder:proxy"), "may only hold"},
		{"role user", IAMRoleARN("arn:aws:iam::123456789012:user/proxy"), "role/<name>"},
		{"role path long", IAMRoleARN("arn:aws:iam::123456789012:role/" + long(512) + "/x"), "the path"},
		{"role region", IAMRoleARN("arn:aws:iam:us-east-1:123456789012:role/x"), "no region"},
		{"secret ok", SecretName("litellm/workspace-key"), ""},
		{"secret long", SecretName(long(513)), "1 to 512"},
		{"secret chars", SecretName("litellm workspace"), "only letters"},
		{"cluster ok", EKSClusterName("1coderdemo_use2"), ""},
		{"cluster long", EKSClusterName(long(101)), "1 to 100"},
		{"cluster dot", EKSClusterName("coder.demo"), "1 to 100"},
		{"region ok", AWSRegion("us-gov-west-1"), ""},
		{"region unknown", AWSRegion("us-east-9"), "unknown AWS region"},
		{"vpc 17", VPCID("vpc-0123456789abcdef0"), ""},
		{"vpc 8", VPCID("vpc-0123abcd"), ""},
		{"vpc 12", VPCID("vpc-0123456789ab"), "8 or 17"},
		{"domain ok", DomainName("*.us-west-2.coder.example.com"), ""},
		{"domain long", DomainName(long(60) + "." + long(60) + "." + long(60) + "." + long(60) + ".example.com"), "at most 253"},
		{"domain label", DomainName(long(64) + ".example.com"), "1 to 63"},
		{"domain wildcard inside", DomainName("coder.*.example.com"), "leftmost label"},
		{"domain wildcard partial", DomainName("*coder.example.com"), "leftmost label"},
		{"domain upper", DomainName("Coder.example.com"), "lower-case"},
		{"names 10", CertificateNames(10), ""},
		{"names 11", CertificateNames(11), "default quota of 10"},
		{"set id", SetIdentifier(long(129)), "1 to 128"},
		{"fqdn", HealthCheckFQDN(long(256)), "at most 255"},
		{"path ok", ResourcePath("/api/v2/buildinfo"), ""},
		{"path long", ResourcePath("/" + long(255)), "at most 255"},
		{"path slash", ResourcePath("api"), "start with '/'"},
		{"tag ok", Tag("coderfleet.io/fleet", "coderdemo"), ""},
		{"tag aws", Tag("aws:cloudformation:stack-name", "x"), "reserves"},
		{"tag key long", Tag(long(129), "x"), "1 to 128"},
		{"tag value long", Tag("team", long(257)), "at most 256"},
		{"tag chars", Tag("team", "a;b"), "does not accept"},
		{"tag count", TagCount(11, MaxTagsHealthCheck, "Route53 health check"), "at most 10"},
		{"lb name ok", LoadBalancerName("coder-use2"), ""},
		{"lb name long", LoadBalancerName(long(33)), "1 to 32"},
		{"lb name internal", LoadBalancerName("internal-coder"), "internal-"},
		{"ann scheme", ServiceAnnotation(AnnotationScheme, "public", "", ""), "internet-facing, internal"},
		{"ann target", ServiceAnnotation(AnnotationTargetType, "instance", "", ""), ""},
		{"ann cert region", ServiceAnnotation(AnnotationSSLCert, cert, "us-west-2", "123456789012"), "ACM certificates are regional"},
		{"ann cert list", ServiceAnnotation(AnnotationSSLCert, "arn:aws:iam::123456789012:server-certificate/x, "+cert, "eu-west-2", "123456789012"), ""},
		{"ann attrs ok", ServiceAnnotation(AnnotationAttributes, "deletion_protection.enabled=true,load_balancing.cross_zone.enabled=false", "", ""), ""},
		{"ann attrs key", ServiceAnnotation(AnnotationAttributes, "deletion_protection.enable=true", "", ""), "unknown Network Load Balancer attribute"},
		{"ann attrs value", ServiceAnnotation(AnnotationAttributes, "deletion_protection.enabled=yes", "", ""), "invalid value"},
		{"ann tags", ServiceAnnotation(AnnotationAdditionalTags, "team=platform,aws:owner=x", "", ""), "reserves"},
		{"ann name", ServiceAnnotation(AnnotationName, "coderdemo-us-west-2-workspace-proxy", "", ""), "1 to 32"},
		{"ann other", ServiceAnnotation(AnnotationPrefix+"healthcheck-path", "/x", "", ""), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.want == "" {
				if tc.err != nil {
					t.Fatalf("refused: %v", tc.err)
				}
				return
			}
			if tc.err == nil {
				t.Fatalf("accepted; want an error with %q", tc.want)
			}
			msg := tc.err.Error()
			if !strings.Contains(msg, tc.want) || !strings.Contains(msg, "(https://") || HintOf(tc.err) == "" {
				t.Errorf("error %q (hint %q): want %q, a source URL and a hint", msg, HintOf(tc.err), tc.want)
			}
			if msg != strings.ToLower(msg[:1])+msg[1:] {
				t.Errorf("error %q does not start lower-case", msg)
			}
		})
	}
}
