package config

import yaml "go.yaml.in/yaml/v3"

// APIVersion is the version of the overlay file format this build reads.
const APIVersion = "coderfleet.io/v1alpha1"

// Role values of a region.
const (
	RolePrimary = "primary"
	RoleProxy   = "proxy"
)

// Fleet is overlays/fleet.yaml: who the fleet is (identity keys, fixed for
// every region) and the settings every region starts from.
type Fleet struct {
	APIVersion   string `json:"apiVersion" cf:"required"`
	Kind         string `json:"kind" cf:"required"`
	Name         string `json:"name" cf:"required"`
	Domain       string `json:"domain" cf:"required"`
	HostedZone   string `json:"hostedZone" cf:"required"`
	AWSAccountID string `json:"awsAccountID" cf:"required"`
	Settings
}

// identityKeys are the fleet.yaml keys a region may not override.
var identityKeys = map[string]bool{"apiVersion": true, "kind": true, "name": true, "domain": true, "hostedZone": true, "awsAccountID": true}

// Settings are the fleet-wide settings that a region's `overrides` can
// change. Role ARNs may contain the placeholders {account}, {cluster},
// {region} and {awsRegion}, expanded per region.
type Settings struct {
	Kubernetes          Kubernetes           `json:"kubernetes"`
	Flux                Flux                 `json:"flux"`
	Coder               Coder                `json:"coder"`
	Proxy               Proxy                `json:"proxy"`
	Provisioner         Provisioner          `json:"provisioner"`
	WorkspaceNamespaces []WorkspaceNamespace `json:"workspaceNamespaces"`
	LiteLLM             LiteLLM              `json:"litellm"`
	KeySync             KeySync              `json:"keySync"`
	Secrets             Secrets              `json:"secrets"`
	IAM                 IAM                  `json:"iam"`
	Addons              map[string]*Addon    `json:"addons"`
	SecretGuard         SecretGuard          `json:"secretGuard"`
	Validation          Validation           `json:"validation"`
}

// Kubernetes describes the clusters the manifests are rendered for.
type Kubernetes struct {
	Version     string   `json:"version"`
	APIVersions []string `json:"apiVersions"`
}

// Flux names the GitRepository every Flux Kustomization reads from.
type Flux struct {
	SourceName      string `json:"sourceName"`
	SourceNamespace string `json:"sourceNamespace"`
	Interval        string `json:"interval"`
	Timeout         string `json:"timeout"`
}

// Image is a container image pinned to a tag.
type Image struct {
	Repository string `json:"repository"`
	Tag        string `json:"tag"`
}

// ResourceList is CPU and memory as Kubernetes quantities.
type ResourceList struct {
	CPU    string `json:"cpu"`
	Memory string `json:"memory"`
}

// Resources are a container's requests and limits.
type Resources struct {
	Requests ResourceList `json:"requests"`
	Limits   ResourceList `json:"limits"`
}

// LoadBalancer configures the NLB the AWS Load Balancer Controller makes for
// a Service.
type LoadBalancer struct {
	TargetType         string   `json:"targetType"`
	Scheme             string   `json:"scheme"`
	DeletionProtection bool     `json:"deletionProtection"`
	CrossZone          bool     `json:"crossZone"`
	SourceRanges       []string `json:"sourceRanges"`
}

// Coder configures coderd in the primary region and the image every Coder
// component uses.
type Coder struct {
	Image                 Image             `json:"image"`
	Replicas              int               `json:"replicas"`
	Resources             Resources         `json:"resources"`
	Prometheus            bool              `json:"prometheus"`
	OIDC                  OIDC              `json:"oidc"`
	GitHubOAuth           Toggle            `json:"githubOAuth"`
	GitHubExternalAuth    Toggle            `json:"githubExternalAuth"`
	Env                   map[string]string `json:"env"`
	LoadBalancer          LoadBalancer      `json:"loadBalancer"`
	CertificateARN        string            `json:"certificateARN"`
	ServiceAccountRoleARN string            `json:"serviceAccountRoleARN"`
}

// OIDC configures sign-in through an OpenID Connect provider; the issuer,
// client id and secret come from Secret `oidc`.
type OIDC struct {
	Enabled      bool     `json:"enabled"`
	SignInText   string   `json:"signInText"`
	EmailDomains []string `json:"emailDomains"`
}

// Toggle is a feature that is on or off.
type Toggle struct {
	Enabled bool `json:"enabled"`
}

// Proxy configures the Coder workspace proxy of every non-primary region.
type Proxy struct {
	Replicas       int          `json:"replicas"`
	Resources      Resources    `json:"resources"`
	LoadBalancer   LoadBalancer `json:"loadBalancer"`
	CertificateARN string       `json:"certificateARN"`
}

// Provisioner configures the external provisioners (one Deployment per
// workspace namespace).
type Provisioner struct {
	Resources Resources `json:"resources"`
}

// WorkspaceNamespace is a namespace where workspaces run, with its own
// provisioner and key sync.
type WorkspaceNamespace struct {
	Name         string `json:"name" cf:"required"`
	Organization string `json:"organization" cf:"required"`
	Replicas     int    `json:"replicas"`
	// RoleARN is the provisioner's IRSA role when iam.mode is external.
	RoleARN string `json:"roleARN"`
	// IAM is what the provisioner's role may do when iam.mode is managed
	// (the workspaces' Terraform runs as it); default nothing.
	IAM WorkspaceIAM `json:"iam"`
}

// WorkspaceIAM are the AWS permissions of a workspace namespace's
// provisioner role in iam.mode managed: managed policies attached by ARN
// and statements of one inline policy named "workspace".
type WorkspaceIAM struct {
	// ManagedPolicies are managed policy ARNs
	// (arn:<partition>:iam::<account|aws>:policy/<path><name>).
	ManagedPolicies []string `json:"managedPolicies"`
	// Statements are Allow statements of the inline policy.
	Statements []IAMStatement `json:"statements"`
}

// IAMStatement is one Allow statement of an IAM policy, written in the
// overlay: actions (service:Action, wildcards as IAM accepts them),
// resources (ARNs or "*") and an optional condition
// (operator -> condition key -> values), as in IAM's policy grammar
// (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_grammar.html).
type IAMStatement struct {
	Sid       string                         `json:"sid"`
	Actions   []string                       `json:"actions" cf:"required"`
	Resources []string                       `json:"resources" cf:"required"`
	Condition map[string]map[string][]string `json:"condition"`
}

// LiteLLM configures the LLM gateway in the primary region.
type LiteLLM struct {
	Enabled        bool           `json:"enabled"`
	Image          Image          `json:"image"`
	Replicas       int            `json:"replicas"`
	Resources      Resources      `json:"resources"`
	Exposure       string         `json:"exposure"`
	RoleARN        string         `json:"roleARN"`
	BedrockRegion  string         `json:"bedrockRegion"`
	Models         []any          `json:"models"`
	RouterSettings map[string]any `json:"routerSettings"`
	LoadBalancer   LoadBalancer   `json:"loadBalancer"`
	CertificateARN string         `json:"certificateARN"`
}

// KeySync configures how the LiteLLM virtual key reaches each workspace
// namespace.
type KeySync struct {
	Mode            string    `json:"mode"`
	SecretID        string    `json:"secretID"`
	RefreshInterval string    `json:"refreshInterval"`
	KeyLifetime     string    `json:"keyLifetime"`
	RotateSchedule  string    `json:"rotateSchedule"`
	SyncSchedule    string    `json:"syncSchedule"`
	TimeZone        string    `json:"timeZone"`
	Image           Image     `json:"image"`
	Resources       Resources `json:"resources"`
	RoleARN         string    `json:"roleARN"`
	RotateRoleARN   string    `json:"rotateRoleARN"`
	// KMSKeyID is the ARN of the KMS key that encrypts the secret
	// (arn:<partition>:kms:<primary's awsRegion>:<account>:key/<id>); empty:
	// the account's aws/secretsmanager key.
	KMSKeyID string `json:"kmsKeyID"`
}

// Secrets modes (setting secrets.mode).
const (
	// SecretsExternal: every Secret the manifests reference is an
	// ExternalSecret read from AWS Secrets Manager through a SecretStore of
	// its namespace (External Secrets Operator).
	SecretsExternal = "externalsecrets"
	// SecretsManual: the team makes those Secrets itself; coderfleet renders
	// no ExternalSecret, SecretStore or role for them.
	SecretsManual = "manual"
)

// Secrets says how the Kubernetes Secrets the manifests reference (coderd's
// database URL and sign-in clients, the proxy's token, the provisioner
// keys, LiteLLM's credentials) reach the clusters.
type Secrets struct {
	// Mode is SecretsExternal (default) or SecretsManual.
	Mode string `json:"mode"`
	// RefreshInterval is how often External Secrets re-reads each secret
	// (a Go duration such as 1h).
	RefreshInterval string `json:"refreshInterval"`
	// RoleARN is, in iam.mode external, the IRSA role of every SecretStore's
	// ServiceAccount (secret-reader in each namespace that reads secrets).
	RoleARN string `json:"roleARN"`
}

// IAM modes (setting iam.mode).
const (
	// IAMManaged: coderfleet writes regions/<region>/aws/roles.yaml and
	// `coderfleet sync` makes the IRSA roles; role ARN settings are refused.
	IAMManaged = "managed"
	// IAMExternal: the roles are made elsewhere and named by the *.roleARN
	// settings; no roles.yaml is written.
	IAMExternal = "external"
)

// IAM says who makes the IRSA roles of the fleet and tunes the roles
// coderfleet makes.
type IAM struct {
	// Mode is IAMManaged (default) or IAMExternal.
	Mode string `json:"mode"`
	// AllowWildcards are deliberate exceptions to the least-privilege
	// check of the roles' policies.
	AllowWildcards []WildcardAllowance `json:"allowWildcards"`
}

// WildcardAllowance accepts one action of one role whose statement the
// least-privilege check refuses (a wildcard action, or a write action on
// "*"). Role may hold the placeholders {cluster}, {region}, {awsRegion}
// and {account}, expanded per region.
type WildcardAllowance struct {
	Role   string `json:"role" cf:"required"`
	Action string `json:"action" cf:"required"`
	Reason string `json:"reason" cf:"required"`
}

// Addon is a cluster add-on installed from a Helm chart by Flux.
type Addon struct {
	Enabled    bool           `json:"enabled"`
	Chart      string         `json:"chart"`
	Repository string         `json:"repository"`
	Version    string         `json:"version"`
	Namespace  string         `json:"namespace"`
	RoleARN    string         `json:"roleARN"`
	Values     map[string]any `json:"values"`
}

// SecretGuard lists values the credential check must accept (known false
// positives), each with a reason.
type SecretGuard struct {
	Allow []Allowance `json:"allow"`
}

// Validation tunes the checks every rendered object goes through
// (docs/validation.md).
type Validation struct {
	// AllowKinds lists "<apiVersion>/<Kind>" values (for example
	// "monitoring.coreos.com/v1/ServiceMonitor") accepted although coderfleet
	// knows no schema for them and no CustomResourceDefinition of the region
	// defines them, or built-in alpha/beta versions.
	AllowKinds []string `json:"allowKinds"`
}

// Allowance accepts one flagged value at one field path of one object.
type Allowance struct {
	Object string `json:"object" cf:"required"`
	Field  string `json:"field" cf:"required"`
	Reason string `json:"reason" cf:"required"`
}

// Region is overlays/<region>/region.yaml.
type Region struct {
	APIVersion  string     `json:"apiVersion" cf:"required"`
	Kind        string     `json:"kind" cf:"required"`
	Name        string     `json:"name" cf:"required"`
	AWSRegion   string     `json:"awsRegion" cf:"required"`
	Role        string     `json:"role" cf:"required"`
	ClusterName string     `json:"clusterName" cf:"required"`
	DisplayName string     `json:"displayName"`
	Icon        string     `json:"icon"`
	VPCID       string     `json:"vpcID"`
	Overrides   *yaml.Node `json:"overrides"`
}

// DefaultSettings returns the documented defaults every fleet starts from.
func DefaultSettings() Settings {
	nlb := LoadBalancer{TargetType: "ip", Scheme: "internet-facing", DeletionProtection: true, CrossZone: true}
	return Settings{
		Kubernetes: Kubernetes{Version: "1.33"},
		Flux:       Flux{SourceName: "flux-system", SourceNamespace: "flux-system", Interval: "10m", Timeout: "5m"},
		Coder: Coder{
			Image:    Image{Repository: "ghcr.io/coder/coder", Tag: "v2.26.3"},
			Replicas: 1,
			Resources: Resources{
				Requests: ResourceList{CPU: "2000m", Memory: "4Gi"},
				Limits:   ResourceList{CPU: "4000m", Memory: "8Gi"},
			},
			Prometheus:   true,
			OIDC:         OIDC{Enabled: true, SignInText: "Sign in with SSO"},
			LoadBalancer: nlb,
		},
		Proxy: Proxy{
			Replicas: 2,
			Resources: Resources{
				Requests: ResourceList{CPU: "250m", Memory: "512Mi"},
				Limits:   ResourceList{CPU: "500m", Memory: "1Gi"},
			},
			LoadBalancer: nlb,
		},
		Provisioner: Provisioner{Resources: Resources{
			Requests: ResourceList{CPU: "250m", Memory: "512Mi"},
			Limits:   ResourceList{CPU: "500m", Memory: "1Gi"},
		}},
		LiteLLM: LiteLLM{
			Enabled:  true,
			Image:    Image{Repository: "ghcr.io/berriai/litellm", Tag: "v1.77.7-stable"},
			Replicas: 4,
			Resources: Resources{
				Requests: ResourceList{CPU: "250m", Memory: "512Mi"},
				Limits:   ResourceList{CPU: "2", Memory: "4Gi"},
			},
			Exposure:     "internal",
			RoleARN:      "arn:aws:iam::{account}:role/{cluster}-litellm",
			LoadBalancer: nlb,
		},
		KeySync: KeySync{
			Mode:            "externalsecrets",
			SecretID:        "litellm/workspace-key",
			RefreshInterval: "15m",
			KeyLifetime:     "24h",
			RotateSchedule:  "0 */12 * * *",
			SyncSchedule:    "*/15 * * * *",
			TimeZone:        "Etc/UTC",
			Image:           Image{Repository: "docker.io/alpine/k8s", Tag: "1.33.4"},
			Resources: Resources{
				Requests: ResourceList{CPU: "50m", Memory: "64Mi"},
				Limits:   ResourceList{CPU: "200m", Memory: "256Mi"},
			},
			RoleARN:       "arn:aws:iam::{account}:role/{cluster}-keysync",
			RotateRoleARN: "arn:aws:iam::{account}:role/{cluster}-keyrotate",
		},
		Secrets: Secrets{Mode: SecretsExternal, RefreshInterval: "1h", RoleARN: "arn:aws:iam::{account}:role/{cluster}-secrets"},
		IAM:     IAM{Mode: IAMManaged},
		Addons:  DefaultAddons(),
	}
}

// DefaultAddons are the cluster add-ons of domain-spec A6, pinned.
func DefaultAddons() map[string]*Addon {
	return map[string]*Addon{
		"aws-load-balancer-controller": {Enabled: true, Chart: "aws-load-balancer-controller", Repository: "https://aws.github.io/eks-charts",
			Version: "1.13.2", Namespace: "kube-system", RoleARN: "arn:aws:iam::{account}:role/{cluster}-aws-load-balancer-controller"},
		"cert-manager": {Enabled: true, Chart: "cert-manager", Repository: "oci://quay.io/jetstack/charts",
			Version: "v1.18.2", Namespace: "cert-manager"},
		"karpenter": {Enabled: true, Chart: "karpenter", Repository: "oci://public.ecr.aws/karpenter",
			Version: "1.6.1", Namespace: "karpenter", RoleARN: "arn:aws:iam::{account}:role/{cluster}-karpenter"},
		"external-secrets": {Enabled: true, Chart: "external-secrets", Repository: "https://charts.external-secrets.io",
			Version: "2.9.0", Namespace: "external-secrets", RoleARN: ""},
		"metrics-server": {Enabled: true, Chart: "metrics-server", Repository: "https://kubernetes-sigs.github.io/metrics-server/",
			Version: "3.13.0", Namespace: "kube-system"},
		"aws-ebs-csi-driver": {Enabled: true, Chart: "aws-ebs-csi-driver", Repository: "https://kubernetes-sigs.github.io/aws-ebs-csi-driver",
			Version: "2.22.1", Namespace: "kube-system", RoleARN: "arn:aws:iam::{account}:role/{cluster}-ebs-csi"},
	}
}

// SetDefaults makes an add-on that is not built in enabled unless it says
// otherwise.
func (a *Addon) SetDefaults() { a.Enabled = true }

// SetDefaults gives a workspace namespace one provisioner unless it says
// otherwise.
func (w *WorkspaceNamespace) SetDefaults() { w.Replicas = 1 }
