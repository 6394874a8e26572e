package sync

// The AWS desired state of the example fleet's regions, built the way the
// templates build it (templates/lib/aws.libsonnet), as fixtures of the sync
// tests: sync reads regions/<region>/aws/ and does not care who wrote it.

import (
	"errors"
	"fmt"
	"strings"

	"github.com/coderfleet/coderfleet/awsstate"
)

// Roles of a region.
const (
	// rolePrimary runs coderd, the database and LiteLLM.
	rolePrimary = "primary"
	// roleProxy runs a Coder workspace proxy.
	roleProxy = "proxy"
)

// Health check defaults used by buildAWS (domain-spec section B).
const (
	healthCheckPath      = "/api/v2/buildinfo"
	healthCheckPort      = 443
	healthCheckInterval  = 30
	healthCheckThreshold = 3
	validationTTL        = 60
)

// liteLLMLabel is the DNS label of LiteLLM's own name, llm.<domain>, when it
// is exposed; no region may be called so, since a region's name is the label
// of its own records (<region>.<domain>).
const liteLLMLabel = "llm"

// regionInput is everything buildAWS needs to know about one region.
type regionInput struct {
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
	// Role is rolePrimary or roleProxy.
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

// buildAWS turns one region's facts into the files of regions/<region>/aws/,
// keyed by file name. Every file is parsed
// back as sync will read it.
func buildAWS(in regionInput) (map[string][]byte, error) {
	if err := in.validate(); err != nil {
		return nil, fmt.Errorf("building AWS desired state of region %q: %w", in.Region, err)
	}
	domain := strings.ToLower(strings.TrimSuffix(in.Domain, "."))
	zone := strings.ToLower(strings.TrimSuffix(in.HostedZone, "."))
	regional := in.Region + "." + domain

	base := func(kind awsstate.Kind) awsstate.File {
		return awsstate.File{Kind: kind, Fleet: in.FleetName, Region: in.Region, HostedZone: zone}
	}
	val := awsstate.Validation{Method: "DNS", HostedZone: zone, TTL: validationTTL}

	certs := base(awsstate.KindCertificateList)
	coderName := "proxy"
	if in.Role == rolePrimary {
		coderName = "coder"
		certs.Certificates = append(certs.Certificates, awsstate.Certificate{
			Name: coderName, AWSRegion: in.AWSRegion, DomainName: domain,
			SubjectAlternativeNames: []string{"*." + domain, regional, "*." + regional},
			Validation:              val, Tags: awsstate.OwnedTags(in.FleetName, in.Region, coderName),
		})
	} else {
		certs.Certificates = append(certs.Certificates, awsstate.Certificate{
			Name: coderName, AWSRegion: in.AWSRegion, DomainName: regional,
			SubjectAlternativeNames: []string{"*." + regional},
			Validation:              val, Tags: awsstate.OwnedTags(in.FleetName, in.Region, coderName),
		})
	}
	if in.LiteLLMExposed {
		certs.Certificates = append(certs.Certificates, awsstate.Certificate{
			Name: "litellm", AWSRegion: in.AWSRegion, DomainName: liteLLMLabel + "." + domain,
			Validation: val, Tags: awsstate.OwnedTags(in.FleetName, in.Region, "litellm"),
		})
	}

	hcs := base(awsstate.KindHealthCheckList)
	hcTags := awsstate.OwnedTags(in.FleetName, in.Region, coderName)
	hcTags["Name"] = in.FleetName + "-" + in.Region + "-" + coderName
	hcs.HealthChecks = []awsstate.HealthCheck{{
		Name: coderName, Type: "HTTPS", FQDN: regional, Port: healthCheckPort,
		ResourcePath: healthCheckPath, RequestInterval: healthCheckInterval,
		FailureThreshold: healthCheckThreshold, MeasureLatency: true, Tags: hcTags,
	}}

	recs := base(awsstate.KindRecordList)
	coder := awsstate.Alias{Service: in.CoderService, Cluster: in.ClusterName, AWSRegion: in.AWSRegion, EvaluateTargetHealth: true}
	if in.Role == rolePrimary {
		for _, n := range []string{domain, "*." + domain} {
			recs.Records = append(recs.Records, awsstate.Record{
				Name: n, Type: "A", SetIdentifier: in.Region,
				Routing:     awsstate.Routing{Policy: awsstate.RoutingLatency, AWSRegion: in.AWSRegion},
				HealthCheck: coderName, Alias: coder,
			})
		}
	}
	simple := coder
	simple.EvaluateTargetHealth = false
	for _, n := range []string{regional, "*." + regional} {
		recs.Records = append(recs.Records, awsstate.Record{Name: n, Type: "A", Routing: awsstate.Routing{Policy: awsstate.RoutingSimple}, Alias: simple})
	}
	if in.LiteLLMExposed {
		recs.Records = append(recs.Records, awsstate.Record{
			Name: liteLLMLabel + "." + domain, Type: "A", Routing: awsstate.Routing{Policy: awsstate.RoutingSimple},
			Alias: awsstate.Alias{Service: in.LiteLLMService, Cluster: in.ClusterName, AWSRegion: in.AWSRegion},
		})
	}

	out := map[string][]byte{}
	for name, f := range map[string]awsstate.File{awsstate.CertificatesFile: certs, awsstate.HealthChecksFile: hcs, awsstate.RecordsFile: recs} {
		b, err := awsstate.Marshal(f)
		if err != nil {
			return nil, fmt.Errorf("building %s of region %q: %w", name, in.Region, err)
		}
		if _, err := awsstate.Parse(name, b); err != nil {
			return nil, fmt.Errorf("building %s of region %q: %w", name, in.Region, err)
		}
		out[name] = b
	}
	return out, nil
}

func (in regionInput) validate() error {
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
	if in.Role != rolePrimary && in.Role != roleProxy {
		errs = append(errs, fmt.Errorf("role %q is neither %q nor %q", in.Role, rolePrimary, roleProxy))
	}
	if in.CoderService != "" {
		if _, _, err := awsstate.SplitService(in.CoderService); err != nil {
			errs = append(errs, err)
		}
	}
	if in.LiteLLMExposed {
		if in.Role != rolePrimary {
			errs = append(errs, errors.New("LiteLLM can only be exposed in the primary region"))
		}
		if _, _, err := awsstate.SplitService(in.LiteLLMService); err != nil {
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
