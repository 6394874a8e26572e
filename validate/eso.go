package validate

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// External Secrets' Go API module is not served by the module proxy, so this
// file defines a strict typed subset of external-secrets.io/v1 for exactly
// the fields coderfleet emits. A test cross-checks every field, enum and
// required list against the upstream CRD schema.

// ESOGroupVersion is the External Secrets API version coderfleet emits (the
// CRDs' served storage version).
var ESOGroupVersion = schema.GroupVersion{Group: "external-secrets.io", Version: "v1"}

var esoKinds = map[schema.GroupVersionKind]func() any{
	ESOGroupVersion.WithKind("ExternalSecret"): func() any { return &ExternalSecret{} },
	ESOGroupVersion.WithKind("SecretStore"):    func() any { return &SecretStore{} },
}

// ExternalSecret is the subset of external-secrets.io/v1 ExternalSecret that
// coderfleet emits.
type ExternalSecret struct {
	APIVersion string             `json:"apiVersion"`
	Kind       string             `json:"kind"`
	Metadata   metav1.ObjectMeta  `json:"metadata"`
	Spec       ExternalSecretSpec `json:"spec"`
}

// ExternalSecretSpec says which store to read, how often, and what Secret to
// write.
type ExternalSecretSpec struct {
	RefreshInterval string               `json:"refreshInterval,omitempty"`
	SecretStoreRef  SecretStoreRef       `json:"secretStoreRef"`
	Target          ExternalSecretTarget `json:"target"`
	Data            []ExternalSecretData `json:"data,omitempty"`
}

// SecretStoreRef names the SecretStore (or ClusterSecretStore) to read from.
type SecretStoreRef struct {
	Name string `json:"name"`
	Kind string `json:"kind,omitempty"`
}

// ExternalSecretTarget describes the Kubernetes Secret External Secrets
// writes.
type ExternalSecretTarget struct {
	Name           string                  `json:"name,omitempty"`
	CreationPolicy string                  `json:"creationPolicy,omitempty"`
	DeletionPolicy string                  `json:"deletionPolicy,omitempty"`
	Template       *ExternalSecretTemplate `json:"template,omitempty"`
}

// ExternalSecretTemplate shapes the written Secret (type, metadata, data
// templates).
type ExternalSecretTemplate struct {
	Type          string                          `json:"type,omitempty"`
	EngineVersion string                          `json:"engineVersion,omitempty"`
	MergePolicy   string                          `json:"mergePolicy,omitempty"`
	Metadata      *ExternalSecretTemplateMetadata `json:"metadata,omitempty"`
	Data          map[string]string               `json:"data,omitempty"`
}

// ExternalSecretTemplateMetadata is the metadata given to the written Secret.
type ExternalSecretTemplateMetadata struct {
	Annotations map[string]string `json:"annotations,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
}

// ExternalSecretData maps one remote value to one key of the Secret.
type ExternalSecretData struct {
	SecretKey string    `json:"secretKey"`
	RemoteRef RemoteRef `json:"remoteRef"`
}

// RemoteRef locates a value in the provider (for AWS Secrets Manager: the
// secret name and an optional JSON property).
type RemoteRef struct {
	Key                string `json:"key"`
	Property           string `json:"property,omitempty"`
	Version            string `json:"version,omitempty"`
	ConversionStrategy string `json:"conversionStrategy,omitempty"`
	DecodingStrategy   string `json:"decodingStrategy,omitempty"`
}

// SecretStore is the subset of external-secrets.io/v1 SecretStore that
// coderfleet emits: AWS with IRSA (a ServiceAccount's web identity).
type SecretStore struct {
	APIVersion string            `json:"apiVersion"`
	Kind       string            `json:"kind"`
	Metadata   metav1.ObjectMeta `json:"metadata"`
	Spec       SecretStoreSpec   `json:"spec"`
}

// SecretStoreSpec holds the provider.
type SecretStoreSpec struct {
	Provider SecretStoreProvider `json:"provider"`
}

// SecretStoreProvider holds exactly one provider; coderfleet uses AWS.
type SecretStoreProvider struct {
	AWS *AWSProvider `json:"aws,omitempty"`
}

// AWSProvider reads AWS Secrets Manager or Parameter Store in one region.
type AWSProvider struct {
	Service string   `json:"service"`
	Region  string   `json:"region"`
	Auth    *AWSAuth `json:"auth,omitempty"`
}

// AWSAuth selects how the provider authenticates; coderfleet uses IRSA.
type AWSAuth struct {
	JWT *AWSJWTAuth `json:"jwt,omitempty"`
}

// AWSJWTAuth authenticates with a ServiceAccount's projected token (IRSA).
type AWSJWTAuth struct {
	ServiceAccountRef *ServiceAccountSelector `json:"serviceAccountRef,omitempty"`
}

// ServiceAccountSelector names a ServiceAccount in the store's namespace.
type ServiceAccountSelector struct {
	Name string `json:"name"`
}

// esoEnums are the values the subset accepts, by field path with list
// indices written as []. The CRD test checks each is a subset of the CRD's
// enum.
var esoEnums = map[string][]string{
	"ExternalSecret:spec.secretStoreRef.kind":                 {"SecretStore", "ClusterSecretStore"},
	"ExternalSecret:spec.target.creationPolicy":               {"Owner", "Orphan", "Merge", "None"},
	"ExternalSecret:spec.target.deletionPolicy":               {"Delete", "Merge", "Retain"},
	"ExternalSecret:spec.target.template.engineVersion":       {"v2"},
	"ExternalSecret:spec.target.template.mergePolicy":         {"Replace", "Merge"},
	"ExternalSecret:spec.data[].remoteRef.conversionStrategy": {"Default", "Unicode"},
	"ExternalSecret:spec.data[].remoteRef.decodingStrategy":   {"Auto", "Base64", "Base64URL", "None"},
	"SecretStore:spec.provider.aws.service":                   {"SecretsManager", "ParameterStore"},
}

// esoRequired are the fields the subset requires, by the same paths. The CRD
// test checks it covers every field the CRD requires within the subset.
var esoRequired = map[string]bool{
	"ExternalSecret:spec":                                           true,
	"ExternalSecret:spec.secretStoreRef":                            true,
	"ExternalSecret:spec.secretStoreRef.name":                       true,
	"ExternalSecret:spec.data[].secretKey":                          true,
	"ExternalSecret:spec.data[].remoteRef":                          true,
	"ExternalSecret:spec.data[].remoteRef.key":                      true,
	"SecretStore:spec":                                              true,
	"SecretStore:spec.provider":                                     true,
	"SecretStore:spec.provider.aws":                                 true,
	"SecretStore:spec.provider.aws.service":                         true,
	"SecretStore:spec.provider.aws.region":                          true,
	"SecretStore:spec.provider.aws.auth.jwt.serviceAccountRef.name": true,
}

var dnsSubdomainRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)

// esoCheck accumulates the subset's validation findings.
type esoCheck struct {
	kind string
	errs []fieldError
}

func (c *esoCheck) fail(path, hint, format string, args ...any) {
	c.errs = append(c.errs, fieldError{path: path, msg: fmt.Sprintf(format, args...), hint: hint})
}

// enum checks value against the subset's enum for the path (item indices
// replaced by []); empty values are left to required.
func (c *esoCheck) enum(path, value string) {
	allowed := esoEnums[c.kind+":"+genericPath(path)]
	if value == "" || allowed == nil {
		return
	}
	for _, a := range allowed {
		if a == value {
			return
		}
	}
	c.fail(path, "use one of: "+strings.Join(allowed, ", "), "unsupported value %q", value)
}

func (c *esoCheck) required(path, value string) {
	if value == "" {
		c.fail(path, "set it; External Secrets requires it", "%s is required", lastSegment(path))
	}
}

var indexRE = regexp.MustCompile(`\[\d+\]`)

func genericPath(path string) string { return indexRE.ReplaceAllString(path, "[]") }

func (e *ExternalSecret) validate() []fieldError {
	c := &esoCheck{kind: "ExternalSecret"}
	s := &e.Spec
	if s.RefreshInterval != "" {
		if _, err := time.ParseDuration(s.RefreshInterval); err != nil {
			c.fail("spec.refreshInterval", "write a Go duration such as 1h or 15m", "invalid duration %q", s.RefreshInterval)
		}
	}
	c.required("spec.secretStoreRef.name", s.SecretStoreRef.Name)
	c.enum("spec.secretStoreRef.kind", s.SecretStoreRef.Kind)
	c.enum("spec.target.creationPolicy", s.Target.CreationPolicy)
	c.enum("spec.target.deletionPolicy", s.Target.DeletionPolicy)
	if t := s.Target.Template; t != nil {
		c.enum("spec.target.template.engineVersion", t.EngineVersion)
		c.enum("spec.target.template.mergePolicy", t.MergePolicy)
	}
	if len(s.Data) == 0 {
		c.fail("spec.data", "list the remote values to copy into the Secret", "spec.data is empty: the ExternalSecret would write an empty Secret")
	}
	for i, d := range s.Data {
		p := fmt.Sprintf("spec.data[%d]", i)
		c.required(p+".secretKey", d.SecretKey)
		c.required(p+".remoteRef.key", d.RemoteRef.Key)
		c.enum(p+".remoteRef.conversionStrategy", d.RemoteRef.ConversionStrategy)
		c.enum(p+".remoteRef.decodingStrategy", d.RemoteRef.DecodingStrategy)
	}
	return c.errs
}

func (s *SecretStore) validate() []fieldError {
	c := &esoCheck{kind: "SecretStore"}
	aws := s.Spec.Provider.AWS
	if aws == nil {
		c.fail("spec.provider", "coderfleet's SecretStores use provider aws", "spec.provider.aws is required")
		return c.errs
	}
	c.required("spec.provider.aws.service", aws.Service)
	c.enum("spec.provider.aws.service", aws.Service)
	c.required("spec.provider.aws.region", aws.Region)
	if aws.Auth != nil && aws.Auth.JWT != nil && aws.Auth.JWT.ServiceAccountRef != nil {
		name := aws.Auth.JWT.ServiceAccountRef.Name
		c.required("spec.provider.aws.auth.jwt.serviceAccountRef.name", name)
		if name != "" && !dnsSubdomainRE.MatchString(name) {
			c.fail("spec.provider.aws.auth.jwt.serviceAccountRef.name", "ServiceAccount names are lower-case DNS subdomains", "invalid ServiceAccount name %q", name)
		}
	}
	return c.errs
}
