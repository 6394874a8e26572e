package awsstate

import (
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/coderfleet/coderfleet/internal/awsrules"
)

// Parse reads one desired-state file strictly: unknown keys, wrong types,
// missing values, an unsupported apiVersion or kind and inconsistent values
// are errors naming path, line and key. path is used only in messages.
func Parse(path string, data []byte) (*File, error) {
	d := &decoder{path: path}
	root := d.root(data)
	if root == nil {
		return nil, d.err()
	}
	f := &File{}
	if v, n := root.str("apiVersion", true), root.get("apiVersion"); v != "" && v != APIVersion {
		d.fail(n, "apiVersion", "unsupported apiVersion %q; this coderfleet reads %q (re-render the region with this version)", v, APIVersion)
	}
	f.Kind = Kind(root.enum("kind", string(KindCertificateList), string(KindHealthCheckList), string(KindRecordList)))
	f.Fleet = root.str("fleet", true)
	f.Region = root.str("region", true)
	switch f.Kind {
	case KindCertificateList:
		root.list("certificates", func(o *object) { f.Certificates = append(f.Certificates, parseCertificate(o)) })
		checkUnique(d, root, "certificates", len(f.Certificates), func(i int) string { return f.Certificates[i].Name })
	case KindHealthCheckList:
		root.list("healthChecks", func(o *object) { f.HealthChecks = append(f.HealthChecks, parseHealthCheck(o)) })
		checkUnique(d, root, "healthChecks", len(f.HealthChecks), func(i int) string { return f.HealthChecks[i].Name })
	case KindRecordList:
		f.HostedZone = strings.ToLower(strings.TrimSuffix(root.str("hostedZone", true), "."))
		root.list("records", func(o *object) { f.Records = append(f.Records, parseRecord(o, f.HostedZone)) })
		checkUnique(d, root, "records", len(f.Records), func(i int) string { return f.Records[i].Key() })
	}
	root.done()
	if err := d.err(); err != nil {
		return nil, err
	}
	return f, nil
}

// checkUnique reports list items that share an identity.
func checkUnique(d *decoder, root *object, key string, n int, id func(int) string) {
	list := root.get(key)
	seen := map[string]int{}
	for i := 0; i < n; i++ {
		k := id(i)
		if j, dup := seen[k]; dup {
			var node *yaml.Node
			if list != nil && i < len(list.Content) {
				node = list.Content[i]
			}
			d.fail(node, fmt.Sprintf("%s[%d]", key, i), "%q is also defined by %s[%d]; names must be unique", k, key, j)
		}
		seen[k] = i
	}
}

func parseCertificate(o *object) Certificate {
	c := Certificate{
		Name:                    o.str("name", true),
		AWSRegion:               o.region("awsRegion"),
		DomainName:              o.str("domainName", true),
		SubjectAlternativeNames: o.strList("subjectAlternativeNames"),
		Tags:                    o.strMap("tags"),
	}
	if n := o.get("domainName"); n != nil && c.DomainName != "" {
		o.aws(n, "domainName", awsrules.DomainName(c.DomainName))
	}
	for i, s := range c.SubjectAlternativeNames {
		o.aws(o.get("subjectAlternativeNames").Content[i], fmt.Sprintf("subjectAlternativeNames[%d]", i), awsrules.DomainName(s))
	}
	if sans := o.get("subjectAlternativeNames"); sans != nil {
		o.aws(sans, "subjectAlternativeNames", awsrules.CertificateNames(1+len(c.SubjectAlternativeNames)))
	}
	o.tags(awsrules.MaxTagsACM, "ACM certificate")
	if v := o.child("validation", true); v != nil {
		c.Validation.Method = v.enum("method", "DNS")
		c.Validation.HostedZone = strings.TrimSuffix(v.str("hostedZone", true), ".")
		c.Validation.TTL = v.integer("ttl", true, 1, 172800)
		v.done()
		if z := c.Validation.HostedZone; z != "" {
			for _, name := range append([]string{c.DomainName}, c.SubjectAlternativeNames...) {
				if name != "" && !inZone(strings.TrimPrefix(name, "*."), z) {
					o.d.fail(o.n, o.sub("validation.hostedZone"), "name %q is outside hosted zone %q, so it cannot be validated there", name, z)
				}
			}
		}
	}
	return c
}

func parseHealthCheck(o *object) HealthCheck {
	h := HealthCheck{
		Name:             o.str("name", true),
		Type:             o.enum("type", "HTTPS", "HTTP"),
		FQDN:             o.str("fqdn", true),
		Port:             int32(o.integer("port", true, 1, 65535)),
		ResourcePath:     o.str("resourcePath", true),
		FailureThreshold: int32(o.integer("failureThreshold", true, 1, 10)),
		MeasureLatency:   o.boolean("measureLatency", true),
		Tags:             o.strMap("tags"),
	}
	if n := o.get("requestInterval"); n != nil {
		h.RequestInterval = int32(o.integer("requestInterval", true, 10, 30))
		if h.RequestInterval != 10 && h.RequestInterval != 30 {
			o.d.fail(n, o.sub("requestInterval"), "Route53 supports 10 or 30 seconds, got %d", h.RequestInterval)
		}
	} else {
		o.integer("requestInterval", true, 10, 30)
	}
	if h.ResourcePath != "" {
		o.aws(o.get("resourcePath"), "resourcePath", awsrules.ResourcePath(h.ResourcePath))
	}
	if h.FQDN != "" {
		o.aws(o.get("fqdn"), "fqdn", awsrules.HealthCheckFQDN(h.FQDN))
		o.aws(o.get("fqdn"), "fqdn", awsrules.DomainName(h.FQDN))
	}
	o.tags(awsrules.MaxTagsHealthCheck, "Route53 health check")
	return h
}

func parseRecord(o *object, zone string) Record {
	r := Record{
		Name:          strings.TrimSuffix(o.str("name", true), "."),
		Type:          o.enum("type", "A", "AAAA"),
		SetIdentifier: o.str("setIdentifier", false),
		HealthCheck:   o.str("healthCheck", false),
		Line:          o.n.Line,
	}
	if err := awsrules.DomainName(r.Name); r.Name != "" && err != nil {
		o.aws(o.get("name"), "name", err)
	} else if r.Name != "" && !inZone(r.Name, zone) {
		o.d.fail(o.get("name"), o.sub("name"), "%q is not a lowercase DNS name inside hosted zone %q", r.Name, zone)
	}
	if r.SetIdentifier != "" {
		o.aws(o.get("setIdentifier"), "setIdentifier", awsrules.SetIdentifier(r.SetIdentifier))
	}
	if ro := o.child("routing", true); ro != nil {
		r.Routing.Policy = ro.enum("policy", RoutingSimple, RoutingLatency)
		r.Routing.AWSRegion = ro.str("awsRegion", r.Routing.Policy == RoutingLatency)
		if r.Routing.AWSRegion != "" {
			ro.aws(ro.get("awsRegion"), "awsRegion", awsrules.AWSRegion(r.Routing.AWSRegion))
		}
		if r.Routing.Policy == RoutingSimple && r.Routing.AWSRegion != "" {
			ro.d.fail(ro.get("awsRegion"), ro.sub("awsRegion"), "only latency routing takes an awsRegion")
		}
		ro.done()
	}
	switch {
	case r.Routing.Policy == RoutingLatency && r.SetIdentifier == "":
		o.d.fail(o.n, o.sub("setIdentifier"), "latency routing needs a setIdentifier")
	case r.Routing.Policy == RoutingSimple && r.SetIdentifier != "":
		o.d.fail(o.get("setIdentifier"), o.sub("setIdentifier"), "simple routing takes no setIdentifier")
	}
	if a := o.child("alias", true); a != nil {
		r.Alias.Service = a.str("service", true)
		if r.Alias.Service != "" {
			if _, _, err := SplitService(r.Alias.Service); err != nil {
				a.d.failErr(a.get("service"), a.sub("service"), err)
			}
		}
		r.Alias.Cluster = a.str("cluster", true)
		r.Alias.AWSRegion = a.region("awsRegion")
		r.Alias.EvaluateTargetHealth = a.boolean("evaluateTargetHealth", true)
		a.done()
	}
	return r
}

// aws reports a broken AWS rule (see internal/awsrules) at key of o,
// with the rule's hint.
func (o *object) aws(n *yaml.Node, key string, err error) {
	if err != nil {
		o.d.failErr(n, o.sub(key), err)
	}
}

// region reads a required AWS region code.
func (o *object) region(key string) string {
	v := o.str(key, true)
	if v != "" {
		o.aws(o.get(key), key, awsrules.AWSRegion(v))
	}
	return v
}

// tags checks the tags of o against AWS's tag rules and the service's
// maximum number of tags per resource.
func (o *object) tags(limit int, service string) {
	n := o.get("tags")
	if n == nil || n.Kind != yaml.MappingNode {
		return
	}
	o.aws(n, "tags", awsrules.TagCount(len(n.Content)/2, limit, service))
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		o.aws(k, "tags."+k.Value, awsrules.Tag(k.Value, v.Value))
	}
}

func inZone(name, zone string) bool {
	return name == zone || strings.HasSuffix(name, "."+zone)
}
