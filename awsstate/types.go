package awsstate

import (
	"fmt"
	"strings"
)

// APIVersion is the apiVersion of every desired-state file under regions/<region>/aws/.
const APIVersion = "coderfleet.io/aws/v1alpha1"

// OutputsAPIVersion is the apiVersion of overlays/<region>/outputs.yaml.
const OutputsAPIVersion = "coderfleet.io/v1alpha1"

// Kind names the type of document held in a desired-state file.
type Kind string

// The kinds of desired-state documents, one per file.
const (
	// KindCertificateList is the kind of certificates.yaml.
	KindCertificateList Kind = "CertificateList"
	// KindHealthCheckList is the kind of healthchecks.yaml.
	KindHealthCheckList Kind = "HealthCheckList"
	// KindRecordList is the kind of records.yaml.
	KindRecordList Kind = "RecordList"
)

// File names under regions/<region>/aws/, one per kind.
const (
	// CertificatesFile holds the region's ACM certificates.
	CertificatesFile = "certificates.yaml"
	// HealthChecksFile holds the region's Route53 health checks.
	HealthChecksFile = "healthchecks.yaml"
	// RecordsFile holds the region's Route53 records.
	RecordsFile = "records.yaml"
)

// Tag keys that coderfleet puts on the ACM certificates and Route53 health
// checks it creates. Sync treats an object carrying all three as its own.
const (
	// TagFleet holds the fleet name.
	TagFleet = "coderfleet.io/fleet"
	// TagRegion holds the region folder name.
	TagRegion = "coderfleet.io/region"
	// TagName holds the object's name inside its region file.
	TagName = "coderfleet.io/name"
)

// Routing policies of a record.
const (
	// RoutingSimple is a plain record without a set identifier.
	RoutingSimple = "simple"
	// RoutingLatency is a latency-based record with a set identifier and an AWS region.
	RoutingLatency = "latency"
)

// File is one parsed desired-state document. Parse decodes the types below
// by their yaml tags with internal/strictyaml; `cf:"required"` marks the
// keys a file must write. Exactly one of Certificates,
// HealthChecks, Records, Roles, Secrets, WorkspaceProxies and
// ProvisionerKeys is used, according to Kind.
type File struct {
	// Kind says which list the file holds.
	Kind Kind
	// Fleet is the fleet name; it goes into ownership tags and records.
	Fleet string
	// Region is the region folder name the file belongs to.
	Region string
	// HostedZone is the Route53 zone name of the records (RecordList only).
	HostedZone string
	// Certificates is set for KindCertificateList.
	Certificates []Certificate
	// HealthChecks is set for KindHealthCheckList.
	HealthChecks []HealthCheck
	// Records is set for KindRecordList.
	Records []Record
	// Roles is set for KindRoleList.
	Roles []Role
	// Secrets is set for KindSecretList.
	Secrets []Secret
	// WorkspaceProxies is set for KindWorkspaceProxyList.
	WorkspaceProxies []WorkspaceProxy
	// ProvisionerKeys is set for KindProvisionerKeyList.
	ProvisionerKeys []ProvisionerKey
}

// Certificate is an ACM certificate requested with DNS validation.
type Certificate struct {
	// Name identifies the certificate inside its region; it is the key of the
	// certificate's ARN in outputs.yaml.
	Name string `yaml:"name" cf:"required"`
	// AWSRegion is where the certificate lives: the region of its load balancer.
	AWSRegion string `yaml:"awsRegion" cf:"required"`
	// DomainName is the certificate's primary name.
	DomainName string `yaml:"domainName" cf:"required"`
	// SubjectAlternativeNames are the further names, in order.
	SubjectAlternativeNames []string `yaml:"subjectAlternativeNames,omitempty"`
	// Validation says how ACM validates the names.
	Validation Validation `yaml:"validation" cf:"required"`
	// Tags are put on the certificate when it is requested.
	Tags map[string]string `yaml:"tags,omitempty"`
}

// Validation is the DNS validation of a certificate.
type Validation struct {
	// Method is always DNS.
	Method string `yaml:"method" cf:"required"`
	// HostedZone is the zone name that receives the validation CNAMEs.
	HostedZone string `yaml:"hostedZone" cf:"required"`
	// TTL of the validation CNAMEs, in seconds.
	TTL int64 `yaml:"ttl" cf:"required"`
}

// HealthCheck is a Route53 health check probing one region's own name.
type HealthCheck struct {
	// Name identifies the health check inside its region; records refer to it.
	Name string `yaml:"name" cf:"required"`
	// Type is the probe protocol, HTTPS.
	Type string `yaml:"type" cf:"required"`
	// FQDN is the name probed, <region>.<domain>.
	FQDN string `yaml:"fqdn" cf:"required"`
	// Port is the TCP port probed.
	Port int32 `yaml:"port" cf:"required"`
	// ResourcePath is the HTTP path requested.
	ResourcePath string `yaml:"resourcePath" cf:"required"`
	// RequestInterval is the seconds between probes (10 or 30).
	RequestInterval int32 `yaml:"requestInterval" cf:"required"`
	// FailureThreshold is the number of failed probes before unhealthy.
	FailureThreshold int32 `yaml:"failureThreshold" cf:"required"`
	// MeasureLatency turns on latency graphs.
	MeasureLatency bool `yaml:"measureLatency" cf:"required"`
	// Tags are put on the health check.
	Tags map[string]string `yaml:"tags,omitempty"`
}

// Record is a Route53 alias record whose target is resolved at sync time.
type Record struct {
	// Name is the fully qualified record name without the trailing dot; a
	// wildcard starts with "*.".
	Name string `yaml:"name" cf:"required"`
	// Type is the record type, A.
	Type string `yaml:"type" cf:"required"`
	// SetIdentifier distinguishes records of the same name and type (latency only).
	SetIdentifier string `yaml:"setIdentifier,omitempty"`
	// Routing is the routing policy.
	Routing Routing `yaml:"routing" cf:"required"`
	// HealthCheck names a health check of the same region, or is empty.
	HealthCheck string `yaml:"healthCheck,omitempty"`
	// Alias is the load balancer the record points at.
	Alias Alias `yaml:"alias" cf:"required"`
	// Line is the 1-based line of the record in its file, set by Parse (0
	// for a record that was built, not parsed); sync names it in errors.
	Line int `yaml:"-"`
}

// Routing is a record's routing policy.
type Routing struct {
	// Policy is RoutingSimple or RoutingLatency.
	Policy string `yaml:"policy" cf:"required"`
	// AWSRegion is the latency region (latency only).
	AWSRegion string `yaml:"awsRegion,omitempty"`
}

// Alias refers to the load balancer of a Kubernetes Service in a cluster.
type Alias struct {
	// Service is "namespace/name" of the Service.
	Service string `yaml:"service" cf:"required"`
	// Cluster is the EKS cluster name, as in the elbv2.k8s.aws/cluster tag.
	Cluster string `yaml:"cluster" cf:"required"`
	// AWSRegion is the region of the cluster and its load balancer.
	AWSRegion string `yaml:"awsRegion" cf:"required"`
	// EvaluateTargetHealth makes Route53 follow the load balancer's health.
	EvaluateTargetHealth bool `yaml:"evaluateTargetHealth" cf:"required"`
}

// Key returns the identity of the record in its zone: name, type and set identifier.
func (r Record) Key() string {
	return RecordKey(r.Name, r.Type, r.SetIdentifier)
}

// RecordKey builds the identity of a record from name, type and set identifier.
func RecordKey(name, typ, setID string) string {
	k := strings.ToLower(name) + " " + strings.ToUpper(typ)
	if setID != "" {
		k += " [" + setID + "]"
	}
	return k
}

// SplitService splits "namespace/name" into its two parts.
func SplitService(ref string) (namespace, name string, err error) {
	ns, n, ok := strings.Cut(ref, "/")
	if !ok || ns == "" || n == "" || strings.Contains(n, "/") {
		return "", "", fmt.Errorf("service reference %q is not namespace/name", ref)
	}
	return ns, n, nil
}

// OwnedTags returns the ownership tags of an object named name in region of fleet.
func OwnedTags(fleet, region, name string) map[string]string {
	return map[string]string{TagFleet: fleet, TagRegion: region, TagName: name}
}

// The kinds and files of the IAM and Secrets Manager desired state.
const (
	// KindRoleList is the kind of roles.yaml: the IAM roles for service
	// accounts (IRSA) of a region.
	KindRoleList Kind = "RoleList"
	// KindSecretList is the kind of secrets.yaml: the Secrets Manager secrets
	// the region's manifests read, created by sync without a value.
	KindSecretList Kind = "SecretList"

	// RolesFile holds the region's IAM roles (absent when the fleet manages
	// IAM elsewhere).
	RolesFile = "roles.yaml"
	// SecretsFile holds the region's Secrets Manager secrets.
	SecretsFile = "secrets.yaml"
)

// The kinds and files of the Coder desired state: what sync registers on
// the primary region's coderd (domain-spec E). They live under
// regions/<region>/aws/ beside the AWS files because sync reads them the
// same way; the objects they describe are Coder's.
const (
	// KindWorkspaceProxyList is the kind of workspaceproxies.yaml: the
	// Coder workspace proxy of a proxy region (one item, or none).
	KindWorkspaceProxyList Kind = "WorkspaceProxyList"
	// KindProvisionerKeyList is the kind of provisionerkeys.yaml: one Coder
	// provisioner key per workspace namespace of the region.
	KindProvisionerKeyList Kind = "ProvisionerKeyList"

	// WorkspaceProxiesFile holds the region's workspace proxy.
	WorkspaceProxiesFile = "workspaceproxies.yaml"
	// ProvisionerKeysFile holds the region's provisioner keys.
	ProvisionerKeysFile = "provisionerkeys.yaml"
)

// Role is an IAM role assumed by exactly one Kubernetes ServiceAccount
// through the cluster's OIDC provider (IAM roles for service accounts,
// https://docs.aws.amazon.com/eks/latest/userguide/iam-roles-for-service-accounts.html).
// Its trust policy is not written here: sync builds it from the cluster's
// OIDC issuer (EKS DescribeCluster) with TrustPolicy, since the issuer is
// only known once the cluster exists.
type Role struct {
	// Name is the IAM role name: 1 to 64 letters, digits and +=,.@_-.
	Name string `yaml:"name" cf:"required"`
	// Path is the IAM path, "/" or /<segments>/ (at most 512 characters).
	Path string `yaml:"path" cf:"required"`
	// Description is the role's IAM description (at most 1000 characters).
	Description string `yaml:"description,omitempty"`
	// ServiceAccount is the only identity the trust policy admits.
	ServiceAccount ServiceAccountRef `yaml:"serviceAccount" cf:"required"`
	// Cluster is the EKS cluster whose OIDC provider the trust policy names.
	Cluster ClusterRef `yaml:"cluster" cf:"required"`
	// ManagedPolicies are ARNs of managed policies attached to the role
	// (AWS managed ones where the upstream project publishes one), sorted.
	ManagedPolicies []string `yaml:"managedPolicies,omitempty"`
	// InlinePolicies are the role's inline policies, sorted by name.
	InlinePolicies []InlinePolicy `yaml:"inlinePolicies,omitempty"`
	// Tags are put on the role; the ownership tags (OwnedTags) among them.
	Tags map[string]string `yaml:"tags,omitempty"`
}

// ARN returns the role's ARN in account accountID of partition (aws,
// aws-cn, aws-us-gov): arn:<partition>:iam::<account>:role<path><name>.
// It is the value of the ServiceAccount's eks.amazonaws.com/role-arn
// annotation.
func (r Role) ARN(partition, accountID string) string {
	return "arn:" + partition + ":iam::" + accountID + ":role" + r.Path + r.Name
}

// ServiceAccountRef names a Kubernetes ServiceAccount.
type ServiceAccountRef struct {
	// Namespace of the ServiceAccount.
	Namespace string `yaml:"namespace" cf:"required"`
	// Name of the ServiceAccount.
	Name string `yaml:"name" cf:"required"`
}

// Subject returns the OIDC subject a projected token of the ServiceAccount
// carries: system:serviceaccount:<namespace>:<name>.
func (s ServiceAccountRef) Subject() string {
	return "system:serviceaccount:" + s.Namespace + ":" + s.Name
}

// ClusterRef names an EKS cluster.
type ClusterRef struct {
	// Name is the EKS cluster name.
	Name string `yaml:"name" cf:"required"`
	// AWSRegion is the AWS region of the cluster.
	AWSRegion string `yaml:"awsRegion" cf:"required"`
}

// InlinePolicy is an inline policy of a role.
type InlinePolicy struct {
	// Name is the policy name, unique within the role (1 to 128 characters
	// of letters, digits and +=,.@_-).
	Name string `yaml:"name" cf:"required"`
	// Document is the IAM policy document.
	Document PolicyDocument `yaml:"document" cf:"required"`
}

// PolicyDocument is an IAM JSON policy document
// (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_grammar.html),
// written with AWS's own key names so a reviewer reads it as AWS shows it.
type PolicyDocument struct {
	// Version is the policy language version, 2012-10-17.
	Version string `yaml:"Version" json:"Version" cf:"required"`
	// Statement lists the statements, in order.
	Statement []Statement `yaml:"Statement" json:"Statement" cf:"required"`
}

// Statement is one statement of a policy document. Action and Resource are
// always lists here (IAM also accepts a single string).
type Statement struct {
	// Sid is the optional statement id.
	Sid string `yaml:"Sid,omitempty" json:"Sid,omitempty"`
	// Effect is Allow or Deny.
	Effect string `yaml:"Effect" json:"Effect" cf:"required"`
	// Action lists the actions, service:Action.
	Action []string `yaml:"Action" json:"Action" cf:"required"`
	// Resource lists the resource ARNs (or "*").
	Resource []string `yaml:"Resource" json:"Resource" cf:"required"`
	// Condition maps an operator to condition keys and their values.
	Condition map[string]map[string][]string `yaml:"Condition,omitempty" json:"Condition,omitempty"`
}

// Secret is a Secrets Manager secret the region's manifests read. Sync
// creates it without a value when it is absent and never reads or writes
// a value it did not produce itself.
type Secret struct {
	// Name is the secret's name (1 to 512 letters, digits and /_+=.@-).
	Name string `yaml:"name" cf:"required"`
	// AWSRegion is the AWS region the secret lives in.
	AWSRegion string `yaml:"awsRegion" cf:"required"`
	// Description is the secret's description; it says who writes the value.
	Description string `yaml:"description,omitempty"`
	// KMSKeyID is the KMS key (id, alias or ARN) that encrypts the secret;
	// empty uses the account's aws/secretsmanager key.
	KMSKeyID string `yaml:"kmsKeyID,omitempty"`
	// Tags are put on the secret; the ownership tags (OwnedTags) among them.
	Tags map[string]string `yaml:"tags,omitempty"`
}

// WorkspaceProxy is a Coder workspace proxy registered on the primary
// region's coderd (POST /api/v2/workspaceproxies, Coder's API reference
// docs/reference/api/enterprise.md). Its one-time session token goes
// straight into TokenSecret; the proxy Deployment reads it from there
// through an ExternalSecret.
type WorkspaceProxy struct {
	// Name is the proxy's name in Coder (the region folder name): letters,
	// digits and single hyphens, at most 32 characters (Coder's name rule).
	Name string `yaml:"name" cf:"required"`
	// DisplayName is what Coder's region picker shows, such as "Oregon"
	// (at most 64 characters).
	DisplayName string `yaml:"displayName" cf:"required"`
	// Icon is the icon URL or Coder path (such as /emojis/1f1fa-1f1f8.png).
	// Required: Coder's PATCH /api/v2/workspaceproxies/{id} refuses an
	// empty icon, so a proxy without one could never be updated or have
	// its token regenerated (region.yaml's icon defaults to /emojis/1f310.png).
	Icon string `yaml:"icon" cf:"required"`
	// TokenSecret is the Secrets Manager secret that receives the proxy's
	// session token (its value is the token, a plain string). It lives in
	// the proxy region's AWS region.
	TokenSecret Secret `yaml:"tokenSecret" cf:"required"`
}

// ProvisionerKey is a Coder provisioner key of an organization
// (POST /api/v2/organizations/{organization}/provisionerkeys). Provisioner
// daemons authenticating with it take only jobs whose tags match Tags. Its
// one-time key goes straight into TokenSecret.
type ProvisionerKey struct {
	// Name is the key's name, unique in its organization (at most 64
	// characters; Coder reserves built-in, user-auth and psk).
	Name string `yaml:"name" cf:"required"`
	// Organization is the Coder organization's name.
	Organization string `yaml:"organization" cf:"required"`
	// Tags are the provisioner tags of the key, such as region=<awsRegion>
	// and namespace=<namespace>; the provisioner Deployment of that
	// namespace runs with this key.
	Tags map[string]string `yaml:"tags" cf:"required"`
	// TokenSecret is the Secrets Manager secret that receives the key (a
	// plain string), in the AWS region of the key's cluster.
	TokenSecret Secret `yaml:"tokenSecret" cf:"required"`
}
