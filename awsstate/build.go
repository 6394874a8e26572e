package awsstate

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Roles of a region.
const (
	// RolePrimary runs coderd, the database and LiteLLM.
	RolePrimary = "primary"
	// RoleProxy runs a Coder workspace proxy.
	RoleProxy = "proxy"
)

// Health check defaults used by Build (domain-spec section B).
const (
	healthCheckPath      = "/api/v2/buildinfo"
	healthCheckPort      = 443
	healthCheckInterval  = 30
	healthCheckThreshold = 3
	validationTTL        = 60
)

// LiteLLMLabel is the DNS label of LiteLLM's own name, llm.<domain>, when it
// is exposed; no region may be called so, since a region's name is the label
// of its own records (<region>.<domain>).
const LiteLLMLabel = "llm"

// BuildInput is everything Build needs to know about one region.
type BuildInput struct {
	// FleetName is the fleet's name; it goes into ownership tags.
	FleetName string
	// Domain is the fleet's access domain, e.g. coderdemo.io.
	Domain string
	// HostedZone is the Route53 zone name holding Domain.
	HostedZone string
	// Region is the region folder name, e.g. us-east-2; it is also the record set identifier.
	Region string
	// AWSRegion is the AWS region of the region's cluster.
	AWSRegion string
	// Role is RolePrimary or RoleProxy.
	Role string
	// ClusterName is the EKS cluster name, as the load balancer controller tags it.
	ClusterName string
	// CoderService is namespace/name of the coderd (primary) or proxy Service.
	CoderService string
	// LiteLLMExposed says whether LiteLLM has its own load balancer at llm.<domain>.
	LiteLLMExposed bool
	// LiteLLMService is namespace/name of the LiteLLM Service (used when exposed).
	LiteLLMService string
}

// Build turns one region's facts into the files of regions/<region>/aws/,
// keyed by file name. It is pure and deterministic. Every file is parsed
// back as sync will read it, so a value AWS would refuse (a name longer than
// ACM and Route53 accept, say) fails here, at render, not at apply.
func Build(in BuildInput) (map[string][]byte, error) {
	if err := in.validate(); err != nil {
		return nil, fmt.Errorf("building AWS desired state of region %q: %w", in.Region, err)
	}
	domain := strings.ToLower(strings.TrimSuffix(in.Domain, "."))
	zone := strings.ToLower(strings.TrimSuffix(in.HostedZone, "."))
	regional := in.Region + "." + domain

	base := func(kind Kind) File {
		return File{Kind: kind, Fleet: in.FleetName, Region: in.Region, HostedZone: zone}
	}
	val := Validation{Method: "DNS", HostedZone: zone, TTL: validationTTL}

	certs := base(KindCertificateList)
	coderName := "proxy"
	if in.Role == RolePrimary {
		coderName = "coder"
		certs.Certificates = append(certs.Certificates, Certificate{
			Name: coderName, AWSRegion: in.AWSRegion, DomainName: domain,
			SubjectAlternativeNames: []string{"*." + domain, regional, "*." + regional},
			Validation:              val, Tags: OwnedTags(in.FleetName, in.Region, coderName),
		})
	} else {
		certs.Certificates = append(certs.Certificates, Certificate{
			Name: coderName, AWSRegion: in.AWSRegion, DomainName: regional,
			SubjectAlternativeNames: []string{"*." + regional},
			Validation:              val, Tags: OwnedTags(in.FleetName, in.Region, coderName),
		})
	}
	if in.LiteLLMExposed {
		certs.Certificates = append(certs.Certificates, Certificate{
			Name: "litellm", AWSRegion: in.AWSRegion, DomainName: LiteLLMLabel + "." + domain,
			Validation: val, Tags: OwnedTags(in.FleetName, in.Region, "litellm"),
		})
	}

	hcs := base(KindHealthCheckList)
	hcTags := OwnedTags(in.FleetName, in.Region, coderName)
	hcTags["Name"] = in.FleetName + "-" + in.Region + "-" + coderName
	hcs.HealthChecks = []HealthCheck{{
		Name: coderName, Type: "HTTPS", FQDN: regional, Port: healthCheckPort,
		ResourcePath: healthCheckPath, RequestInterval: healthCheckInterval,
		FailureThreshold: healthCheckThreshold, MeasureLatency: true, Tags: hcTags,
	}}

	recs := base(KindRecordList)
	coder := Alias{Service: in.CoderService, Cluster: in.ClusterName, AWSRegion: in.AWSRegion, EvaluateTargetHealth: true}
	if in.Role == RolePrimary {
		for _, n := range []string{domain, "*." + domain} {
			recs.Records = append(recs.Records, Record{
				Name: n, Type: "A", SetIdentifier: in.Region,
				Routing:     Routing{Policy: RoutingLatency, AWSRegion: in.AWSRegion},
				HealthCheck: coderName, Alias: coder,
			})
		}
	}
	simple := coder
	simple.EvaluateTargetHealth = false
	for _, n := range []string{regional, "*." + regional} {
		recs.Records = append(recs.Records, Record{Name: n, Type: "A", Routing: Routing{Policy: RoutingSimple}, Alias: simple})
	}
	if in.LiteLLMExposed {
		recs.Records = append(recs.Records, Record{
			Name: LiteLLMLabel + "." + domain, Type: "A", Routing: Routing{Policy: RoutingSimple},
			Alias: Alias{Service: in.LiteLLMService, Cluster: in.ClusterName, AWSRegion: in.AWSRegion},
		})
	}

	out := map[string][]byte{}
	for name, f := range map[string]File{CertificatesFile: certs, HealthChecksFile: hcs, RecordsFile: recs} {
		b, err := Marshal(f)
		if err != nil {
			return nil, fmt.Errorf("building %s of region %q: %w", name, in.Region, err)
		}
		if _, err := Parse(name, b); err != nil {
			return nil, fmt.Errorf("building %s of region %q: %w", name, in.Region, err)
		}
		out[name] = b
	}
	return out, nil
}

func (in BuildInput) validate() error {
	var errs []error
	need := func(name, v string) {
		if strings.TrimSpace(v) == "" {
			errs = append(errs, fmt.Errorf("%s is empty", name))
		}
	}
	need("FleetName", in.FleetName)
	need("Domain", in.Domain)
	need("HostedZone", in.HostedZone)
	need("Region", in.Region)
	need("AWSRegion", in.AWSRegion)
	need("ClusterName", in.ClusterName)
	need("CoderService", in.CoderService)
	if in.Role != RolePrimary && in.Role != RoleProxy {
		errs = append(errs, fmt.Errorf("role %q is neither %q nor %q", in.Role, RolePrimary, RoleProxy))
	}
	if in.CoderService != "" {
		if _, _, err := SplitService(in.CoderService); err != nil {
			errs = append(errs, err)
		}
	}
	if in.LiteLLMExposed {
		if in.Role != RolePrimary {
			errs = append(errs, errors.New("LiteLLM can only be exposed in the primary region"))
		}
		if _, _, err := SplitService(in.LiteLLMService); err != nil {
			errs = append(errs, fmt.Errorf("LiteLLMService: %w", err))
		}
	}
	d := strings.ToLower(strings.TrimSuffix(in.Domain, "."))
	z := strings.ToLower(strings.TrimSuffix(in.HostedZone, "."))
	if d != "" && z != "" && d != z && !strings.HasSuffix(d, "."+z) {
		errs = append(errs, fmt.Errorf("domain %q is outside hosted zone %q", d, z))
	}
	if in.Region != "" && !isDNSLabel(in.Region) {
		errs = append(errs, fmt.Errorf("region %q is not a DNS label (lowercase letters, digits, '-')", in.Region))
	}
	return errors.Join(errs...)
}

// Marshal writes a File in the canonical layout: apiVersion, kind, fleet,
// region, hostedZone (records only) and the list, two-space indented with
// sorted tag keys.
func Marshal(f File) ([]byte, error) {
	h := header{APIVersion: APIVersion, Kind: f.Kind, Fleet: f.Fleet, Region: f.Region}
	var doc any
	switch f.Kind {
	case KindCertificateList:
		doc = certificateList{h, nonNil(f.Certificates)}
	case KindHealthCheckList:
		doc = healthCheckList{h, nonNil(f.HealthChecks)}
	case KindRecordList:
		doc = recordList{h, f.HostedZone, nonNil(f.Records)}
	case KindRoleList:
		doc = roleList{h, nonNil(f.Roles)}
	case KindSecretList:
		doc = secretList{h, nonNil(f.Secrets)}
	default:
		return nil, fmt.Errorf("unknown kind %q", f.Kind)
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("encoding %s: %w", f.Kind, err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encoding %s: %w", f.Kind, err)
	}
	return buf.Bytes(), nil
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func isDNSLabel(s string) bool {
	if len(s) == 0 || len(s) > 63 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}
