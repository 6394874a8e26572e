package sync

import (
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/route53/types"
	"github.com/coderfleet/coderfleet/awsstate"
)

// Actual is what sync found in AWS: the objects it owns and every record of
// the hosted zones involved.
type Actual struct {
	// Certificates are the owned ACM certificates, sorted by region, name and ARN.
	Certificates []Certificate
	// HealthChecks are the owned Route53 health checks, sorted by region, name and ID.
	HealthChecks []HealthCheck
	// Zones maps a hosted zone name to its content.
	Zones map[string]*Zone
	// LoadBalancers maps a service reference (see LBRef.String) to its load
	// balancer; a missing entry means the controller has not created it yet.
	LoadBalancers map[string]LoadBalancer
	// Clusters maps "awsRegion/name" (clusterKey) to the EKS cluster of
	// desired roles.
	Clusters map[string]*Cluster
	// Roles are the IAM roles of the fleet in scope and those named like a
	// desired role, sorted by name.
	Roles []Role
	// Secrets are the secrets of the fleet in scope and those named like a
	// desired secret, sorted by AWS region and name.
	Secrets []Secret
	// Coder is what the primary's coderd holds; nil when the run has no
	// coderd (Options.Coder is nil).
	Coder *CoderState
}

// Certificate is an owned ACM certificate.
type Certificate struct {
	ARN        string
	AWSRegion  string
	Region     string
	Name       string
	DomainName string
	SANs       []string
	Status     string
	InUse      bool
	// NotAfter is the end of the certificate's validity (DescribeCertificate
	// NotAfter); zero while it is not issued.
	NotAfter time.Time
	// Validation holds the DNS validation CNAMEs ACM asks for (may be empty
	// for a few seconds after the request).
	Validation []ValidationRecord
}

// ValidationRecord is one DNS validation CNAME of a certificate.
type ValidationRecord struct {
	Name  string
	Value string
}

// HealthCheck is an owned Route53 health check.
type HealthCheck struct {
	ID              string
	CallerReference string
	Version         int64
	Region          string
	Name            string
	// Tagged is false when ownership was recognised by CallerReference only
	// (a run was interrupted before the tags were set).
	Tagged bool
	Config awsstate.HealthCheck
}

// Zone is a Route53 hosted zone with all of its records.
type Zone struct {
	ID      string
	Name    string
	Records []Record
}

// LoadBalancer is the NLB behind a Service.
type LoadBalancer struct {
	ARN          string
	DNSName      string
	HostedZoneID string
	// State is the load balancer's state code (DescribeLoadBalancers
	// State.Code): active, provisioning, active_impaired or failed.
	State string
}

// LBRef names the Service whose load balancer an alias points at.
type LBRef struct {
	AWSRegion, Cluster, Service string
}

// String returns "awsRegion/cluster/namespace/name".
func (r LBRef) String() string { return r.AWSRegion + "/" + r.Cluster + "/" + r.Service }

// AliasTarget is the normalised alias of a record.
type AliasTarget struct {
	DNSName              string `json:"dnsName"`
	HostedZoneID         string `json:"hostedZoneId"`
	EvaluateTargetHealth bool   `json:"evaluateTargetHealth"`
}

// Record is a normalised Route53 record set: lowercase names without the
// trailing dot and with "*" for a wildcard, values sorted.
type Record struct {
	Name          string       `json:"name"`
	Type          string       `json:"type"`
	SetIdentifier string       `json:"setIdentifier,omitempty"`
	Region        string       `json:"region,omitempty"`
	TTL           int64        `json:"ttl,omitempty"`
	Values        []string     `json:"values,omitempty"`
	Alias         *AliasTarget `json:"alias,omitempty"`
	HealthCheckID string       `json:"healthCheckId,omitempty"`
	// Raw is the record exactly as Route53 returned it; a DELETE must match it.
	Raw *types.ResourceRecordSet `json:"-"`
}

// Key is the identity of the record in its zone.
func (r Record) Key() string { return awsstate.RecordKey(r.Name, r.Type, r.SetIdentifier) }

// normName lowercases, removes the trailing dot and decodes Route53's \ddd escapes.
func normName(s string) string {
	s = strings.TrimSuffix(strings.ToLower(s), ".")
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// fromRoute53 normalises a record set read from Route53.
func fromRoute53(rr types.ResourceRecordSet) Record {
	raw := rr
	r := Record{
		Name: normName(deref(rr.Name)), Type: string(rr.Type), SetIdentifier: deref(rr.SetIdentifier),
		Region: string(rr.Region), HealthCheckID: deref(rr.HealthCheckId), Raw: &raw,
	}
	if rr.AliasTarget != nil {
		r.Alias = &AliasTarget{
			DNSName:              normName(deref(rr.AliasTarget.DNSName)),
			HostedZoneID:         deref(rr.AliasTarget.HostedZoneId),
			EvaluateTargetHealth: rr.AliasTarget.EvaluateTargetHealth,
		}
	} else if rr.TTL != nil {
		r.TTL = *rr.TTL
	}
	for _, v := range rr.ResourceRecords {
		val := deref(v.Value)
		if r.Type == "CNAME" {
			val = normName(val)
		}
		r.Values = append(r.Values, val)
	}
	sort.Strings(r.Values)
	return r
}

// toRoute53 builds the record set to send for a desired record.
func (r Record) toRoute53() *types.ResourceRecordSet {
	rr := &types.ResourceRecordSet{Name: ptr(r.Name + "."), Type: types.RRType(r.Type)}
	if r.SetIdentifier != "" {
		rr.SetIdentifier = ptr(r.SetIdentifier)
	}
	if r.Region != "" {
		rr.Region = types.ResourceRecordSetRegion(r.Region)
	}
	if r.HealthCheckID != "" {
		rr.HealthCheckId = ptr(r.HealthCheckID)
	}
	if r.Alias != nil {
		rr.AliasTarget = &types.AliasTarget{DNSName: ptr(r.Alias.DNSName + "."), HostedZoneId: ptr(r.Alias.HostedZoneID), EvaluateTargetHealth: r.Alias.EvaluateTargetHealth}
	} else {
		rr.TTL = ptr(r.TTL)
		for _, v := range r.Values {
			if r.Type == "CNAME" {
				v += "."
			}
			rr.ResourceRecords = append(rr.ResourceRecords, types.ResourceRecord{Value: ptr(v)})
		}
	}
	return rr
}

// equal compares what Route53 keeps of two records. The TTL of an alias is
// ignored: Route53 has none (moto reports 0).
func (r Record) equal(o Record) bool {
	if r.Key() != o.Key() || r.Region != o.Region || r.HealthCheckID != o.HealthCheckID {
		return false
	}
	if (r.Alias == nil) != (o.Alias == nil) {
		return false
	}
	if r.Alias != nil {
		return *r.Alias == *o.Alias
	}
	if r.TTL != o.TTL || len(r.Values) != len(o.Values) {
		return false
	}
	for i := range r.Values {
		if r.Values[i] != o.Values[i] {
			return false
		}
	}
	return true
}

func deref[T any](p *T) T {
	var z T
	if p == nil {
		return z
	}
	return *p
}

func ptr[T any](v T) *T { return &v }
