package awsstate

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"unicode"

	"go.yaml.in/yaml/v3"

	"github.com/coderfleet/coderfleet/internal/awsrules"
	"github.com/coderfleet/coderfleet/internal/diag"
	"github.com/coderfleet/coderfleet/internal/strictyaml"
)

// ParseError is an error in a desired-state or outputs file, located by file
// (the path as given to Parse), line, column and key path (e.g.
// records[2].alias.service). It prints as "path:line:col: key: msg".
type ParseError = diag.Error

// header is what every desired-state file starts with.
type header struct {
	APIVersion string `yaml:"apiVersion" cf:"required"`
	Kind       Kind   `yaml:"kind" cf:"required"`
	Fleet      string `yaml:"fleet" cf:"required"`
	Region     string `yaml:"region" cf:"required"`
}

// The files as written, one type per kind; Parse decodes and Marshal
// encodes them.
type (
	certificateList struct {
		header       `yaml:",inline"`
		Certificates []Certificate `yaml:"certificates"`
	}
	healthCheckList struct {
		header       `yaml:",inline"`
		HealthChecks []HealthCheck `yaml:"healthChecks"`
	}
	recordList struct {
		header     `yaml:",inline"`
		HostedZone string   `yaml:"hostedZone" cf:"required"`
		Records    []Record `yaml:"records"`
	}
	roleList struct {
		header `yaml:",inline"`
		Roles  []Role `yaml:"roles"`
	}
	secretList struct {
		header  `yaml:",inline"`
		Secrets []Secret `yaml:"secrets"`
	}
	workspaceProxyList struct {
		header           `yaml:",inline"`
		WorkspaceProxies []WorkspaceProxy `yaml:"workspaceProxies"`
	}
	provisionerKeyList struct {
		header          `yaml:",inline"`
		ProvisionerKeys []ProvisionerKey `yaml:"provisionerKeys"`
	}
)

// missingKeyHint is the hint of a missing key in a file coderfleet writes.
const missingKeyHint = "add it, or run coderfleet render to write the file again; docs/sync.md describes the format"

// checker runs the checks of a decoded file that its Go types cannot say,
// placing each problem at the value behind its key path.
type checker struct{ d *strictyaml.Decoder }

// decode parses data and decodes it strictly into v(root), the value for
// the file's root node. It returns nil and the problems when the file is
// not YAML or is empty.
func decode(path string, data []byte, v func(root *yaml.Node) any) (*checker, diag.List) {
	root, err := strictyaml.Parse(path, data)
	if err != nil {
		return nil, diag.All(err)
	}
	if root == nil {
		return nil, diag.List{{File: path, Msg: "file is empty; expected a mapping with apiVersion and kind"}}
	}
	d := strictyaml.NewDecoder(path)
	d.TagKey, d.BareKeys, d.MissingKeyHint = "yaml", true, missingKeyHint
	d.Decode(root, v(root), "")
	d.Nodes[""] = root
	return &checker{d}, nil
}

// node returns the value node of key, or of the nearest enclosing key that
// has one.
func (c *checker) node(key string) *yaml.Node {
	for p := key; ; p = strictyaml.Parent(p) {
		if n := c.d.Nodes[p]; n != nil || p == "" {
			return n
		}
	}
}

// written reports whether key was given a value that is not null.
func (c *checker) written(key string) bool { return !strictyaml.IsNull(c.d.Nodes[key]) }

func (c *checker) fail(key, format string, args ...any) {
	c.d.Errorf(c.node(key), key, "", format, args...)
}

// aws reports a broken AWS rule (see internal/awsrules) at key, with the
// rule's hint.
func (c *checker) aws(key string, err error) {
	if err != nil {
		c.d.Fail(c.node(key), key, &diag.Error{Err: err, Hint: awsrules.HintOf(err)})
	}
}

// isString reports whether key was written as a string (a missing, null or
// other value is reported by the decoder).
func (c *checker) isString(key string) bool {
	n := c.d.Nodes[key]
	return n != nil && n.ShortTag() == "!!str"
}

// nonEmpty refuses a written string of only spaces.
func (c *checker) nonEmpty(key, v string) {
	if c.isString(key) && strings.TrimSpace(v) == "" {
		c.fail(key, "must not be empty")
	}
}

// enum refuses a written string that is not one of allowed.
func (c *checker) enum(key, v string, allowed ...string) {
	if c.isString(key) && !slices.Contains(allowed, v) {
		c.fail(key, "unsupported value %q (supported: %s)", v, strings.Join(allowed, ", "))
	}
}

// between refuses a written integer outside lo..hi; it reports whether
// the value was written, decoded and in range.
func (c *checker) between(key string, v, lo, hi int64) bool {
	n := c.d.Nodes[key]
	if n == nil || n.ShortTag() != "!!int" {
		return false // missing or not an integer: the decoder has said so
	}
	if v < lo || v > hi {
		c.fail(key, "expected an integer from %d to %d, got %q", lo, hi, n.Value)
		return false
	}
	return true
}

// region checks a written AWS region code.
func (c *checker) region(key, v string) {
	c.nonEmpty(key, v)
	if v != "" {
		c.aws(key, awsrules.AWSRegion(v))
	}
}

// Parse reads one desired-state file strictly: unknown keys, wrong types,
// missing values, an unsupported apiVersion or kind and inconsistent values
// are errors naming path, line, column and key. path is used only in
// messages.
func Parse(path string, data []byte) (*File, error) {
	f, _, err := ParseRoot(path, data)
	return f, err
}

// ParseRoot is Parse that also returns the file's parsed YAML root (a
// mapping node, with lines), for a caller that runs more checks over the
// same document (sync runs the secret guard, validate.AWSTree, on it)
// without parsing it again. The root is nil when err is not.
func ParseRoot(path string, data []byte) (*File, *yaml.Node, error) {
	// The kind says which keys the file may hold.
	var doc any
	var h *header
	c, errs := decode(path, data, func(root *yaml.Node) any {
		switch kindOf(root) {
		case KindCertificateList:
			l := &certificateList{}
			doc, h = l, &l.header
		case KindHealthCheckList:
			l := &healthCheckList{}
			doc, h = l, &l.header
		case KindRecordList:
			l := &recordList{}
			doc, h = l, &l.header
		case KindRoleList:
			l := &roleList{}
			doc, h = l, &l.header
		case KindSecretList:
			l := &secretList{}
			doc, h = l, &l.header
		case KindWorkspaceProxyList:
			l := &workspaceProxyList{}
			doc, h = l, &l.header
		case KindProvisionerKeyList:
			l := &provisionerKeyList{}
			doc, h = l, &l.header
		default:
			h = &header{}
			doc = h
		}
		return doc
	})
	if c == nil {
		return nil, nil, errs.Err()
	}
	if c.written("apiVersion") && h.APIVersion != APIVersion {
		c.fail("apiVersion", "unsupported apiVersion %q; this coderfleet reads %q (re-render the region with this version)", h.APIVersion, APIVersion)
	}
	c.enum("kind", string(h.Kind), string(KindCertificateList), string(KindHealthCheckList), string(KindRecordList), string(KindRoleList), string(KindSecretList), string(KindWorkspaceProxyList), string(KindProvisionerKeyList))
	c.nonEmpty("fleet", h.Fleet)
	c.nonEmpty("region", h.Region)
	f := &File{Kind: h.Kind, Fleet: h.Fleet, Region: h.Region}
	switch l := doc.(type) {
	case *certificateList:
		f.Certificates = l.Certificates
		for i := range f.Certificates {
			c.certificate(strictyaml.Item("certificates", i), &f.Certificates[i])
		}
		c.unique("certificates", len(f.Certificates), func(i int) string { return f.Certificates[i].Name })
	case *healthCheckList:
		f.HealthChecks = l.HealthChecks
		for i := range f.HealthChecks {
			c.healthCheck(strictyaml.Item("healthChecks", i), &f.HealthChecks[i])
		}
		c.unique("healthChecks", len(f.HealthChecks), func(i int) string { return f.HealthChecks[i].Name })
	case *recordList:
		c.nonEmpty("hostedZone", l.HostedZone)
		f.HostedZone = strings.ToLower(strings.TrimSuffix(l.HostedZone, "."))
		f.Records = l.Records
		for i := range f.Records {
			c.record(strictyaml.Item("records", i), &f.Records[i], f.HostedZone)
		}
		c.unique("records", len(f.Records), func(i int) string { return f.Records[i].Key() })
	case *roleList:
		f.Roles = l.Roles
		for i := range f.Roles {
			c.role(strictyaml.Item("roles", i), &f.Roles[i])
		}
		c.unique("roles", len(f.Roles), func(i int) string { return f.Roles[i].Name })
		c.unique("roles", len(f.Roles), func(i int) string { return f.Roles[i].ServiceAccount.Subject() })
	case *secretList:
		f.Secrets = l.Secrets
		for i := range f.Secrets {
			c.secret(strictyaml.Item("secrets", i), &f.Secrets[i])
		}
		c.unique("secrets", len(f.Secrets), func(i int) string { return f.Secrets[i].AWSRegion + " " + f.Secrets[i].Name })
	case *workspaceProxyList:
		f.WorkspaceProxies = l.WorkspaceProxies
		for i := range f.WorkspaceProxies {
			c.workspaceProxy(strictyaml.Item("workspaceProxies", i), &f.WorkspaceProxies[i])
		}
		c.unique("workspaceProxies", len(f.WorkspaceProxies), func(i int) string { return f.WorkspaceProxies[i].Name })
	case *provisionerKeyList:
		f.ProvisionerKeys = l.ProvisionerKeys
		for i := range f.ProvisionerKeys {
			c.provisionerKey(strictyaml.Item("provisionerKeys", i), &f.ProvisionerKeys[i])
		}
		c.unique("provisionerKeys", len(f.ProvisionerKeys), func(i int) string {
			return f.ProvisionerKeys[i].Organization + "/" + f.ProvisionerKeys[i].Name
		})
	}
	if err := c.d.Errs.Sorted().Err(); err != nil {
		return nil, nil, err
	}
	return f, c.d.Nodes[""], nil
}

// kindOf returns the kind a file's root mapping says it is, or "" when it
// does not say (decoding reports why).
func kindOf(root *yaml.Node) Kind {
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == "kind" && root.Content[i+1].Kind == yaml.ScalarNode {
			return Kind(root.Content[i+1].Value)
		}
	}
	return ""
}

// unique reports list items that share an identity.
func (c *checker) unique(key string, n int, id func(int) string) {
	seen := map[string]int{}
	for i := 0; i < n; i++ {
		k := id(i)
		if j, dup := seen[k]; dup {
			c.fail(strictyaml.Item(key, i), "%q is also defined by %s[%d]; names must be unique", k, key, j)
		}
		seen[k] = i
	}
}

func (c *checker) certificate(at string, cert *Certificate) {
	key := func(k string) string { return strictyaml.Join(at, k) }
	c.nonEmpty(key("name"), cert.Name)
	c.region(key("awsRegion"), cert.AWSRegion)
	c.nonEmpty(key("domainName"), cert.DomainName)
	if cert.DomainName != "" {
		c.aws(key("domainName"), awsrules.DomainName(cert.DomainName))
	}
	for i, s := range cert.SubjectAlternativeNames {
		c.aws(strictyaml.Item(key("subjectAlternativeNames"), i), awsrules.DomainName(s))
	}
	if c.written(key("subjectAlternativeNames")) {
		c.aws(key("subjectAlternativeNames"), awsrules.CertificateNames(1+len(cert.SubjectAlternativeNames)))
	}
	c.tags(key("tags"), cert.Tags, awsrules.MaxTagsACM, "ACM certificate")
	v := &cert.Validation
	c.enum(key("validation.method"), v.Method, "DNS")
	c.nonEmpty(key("validation.hostedZone"), v.HostedZone)
	v.HostedZone = strings.TrimSuffix(v.HostedZone, ".")
	c.between(key("validation.ttl"), v.TTL, 1, 172800)
	if z := v.HostedZone; z != "" {
		for _, name := range append([]string{cert.DomainName}, cert.SubjectAlternativeNames...) {
			if name != "" && !inZone(strings.TrimPrefix(name, "*."), z) {
				c.d.Errorf(c.node(at), key("validation.hostedZone"), "", "name %q is outside hosted zone %q, so it cannot be validated there", name, z)
			}
		}
	}
}

func (c *checker) healthCheck(at string, h *HealthCheck) {
	key := func(k string) string { return strictyaml.Join(at, k) }
	c.nonEmpty(key("name"), h.Name)
	c.enum(key("type"), h.Type, "HTTPS", "HTTP")
	c.nonEmpty(key("fqdn"), h.FQDN)
	c.between(key("port"), int64(h.Port), 1, 65535)
	c.nonEmpty(key("resourcePath"), h.ResourcePath)
	c.between(key("failureThreshold"), int64(h.FailureThreshold), 1, 10)
	if c.between(key("requestInterval"), int64(h.RequestInterval), 10, 30) && h.RequestInterval != 10 && h.RequestInterval != 30 {
		c.fail(key("requestInterval"), "Route53 supports 10 or 30 seconds, got %d", h.RequestInterval)
	}
	if h.ResourcePath != "" {
		c.aws(key("resourcePath"), awsrules.ResourcePath(h.ResourcePath))
	}
	if h.FQDN != "" {
		c.aws(key("fqdn"), awsrules.HealthCheckFQDN(h.FQDN))
		c.aws(key("fqdn"), awsrules.DomainName(h.FQDN))
	}
	c.tags(key("tags"), h.Tags, awsrules.MaxTagsHealthCheck, "Route53 health check")
}

func (c *checker) record(at string, r *Record, zone string) {
	key := func(k string) string { return strictyaml.Join(at, k) }
	c.nonEmpty(key("name"), r.Name)
	r.Name = strings.TrimSuffix(r.Name, ".")
	r.Line = c.node(at).Line
	c.enum(key("type"), r.Type, "A", "AAAA")
	if err := awsrules.DomainName(r.Name); r.Name != "" && err != nil {
		c.aws(key("name"), err)
	} else if r.Name != "" && !inZone(r.Name, zone) {
		c.fail(key("name"), "%q is not a lowercase DNS name inside hosted zone %q", r.Name, zone)
	}
	if r.SetIdentifier != "" {
		c.aws(key("setIdentifier"), awsrules.SetIdentifier(r.SetIdentifier))
	}
	ro := &r.Routing
	c.enum(key("routing.policy"), ro.Policy, RoutingSimple, RoutingLatency)
	if !c.written(key("routing.awsRegion")) && ro.Policy == RoutingLatency && c.written(key("routing")) {
		c.d.Errorf(c.node(key("routing.awsRegion")), key("routing.awsRegion"), missingKeyHint, "missing required key")
	}
	if ro.AWSRegion != "" {
		c.aws(key("routing.awsRegion"), awsrules.AWSRegion(ro.AWSRegion))
	}
	if ro.Policy == RoutingSimple && ro.AWSRegion != "" {
		c.fail(key("routing.awsRegion"), "only latency routing takes an awsRegion")
	}
	switch {
	case ro.Policy == RoutingLatency && r.SetIdentifier == "":
		c.d.Errorf(c.node(at), key("setIdentifier"), "", "latency routing needs a setIdentifier")
	case ro.Policy == RoutingSimple && r.SetIdentifier != "":
		c.fail(key("setIdentifier"), "simple routing takes no setIdentifier")
	}
	a := &r.Alias
	c.nonEmpty(key("alias.service"), a.Service)
	if a.Service != "" {
		if _, _, err := SplitService(a.Service); err != nil {
			c.aws(key("alias.service"), err)
		}
	}
	c.nonEmpty(key("alias.cluster"), a.Cluster)
	c.region(key("alias.awsRegion"), a.AWSRegion)
}

// tags checks tags (written at key) against AWS's tag rules and the
// service's maximum number of tags per resource.
func (c *checker) tags(key string, tags map[string]string, limit int, service string) {
	if !c.written(key) {
		return
	}
	c.aws(key, awsrules.TagCount(len(tags), limit, service))
	n := c.d.Nodes[key]
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if err := awsrules.Tag(k.Value, tags[k.Value]); err != nil {
			c.d.Fail(k, key+"."+k.Value, &diag.Error{Err: err, Hint: awsrules.HintOf(err)})
		}
	}
}

func inZone(name, zone string) bool {
	return name == zone || strings.HasSuffix(name, "."+zone)
}

func (c *checker) role(at string, r *Role) {
	key := func(k string) string { return strictyaml.Join(at, k) }
	c.nonEmpty(key("name"), r.Name)
	if r.Name != "" {
		c.aws(key("name"), awsrules.RoleName(r.Name, "role names are <clusterName>-<purpose>, such as <clusterName>-provisioner-<namespace>: shorten the region's clusterName or the namespace"))
	}
	c.nonEmpty(key("path"), r.Path)
	if r.Path != "" {
		c.aws(key("path"), awsrules.RolePath(r.Path))
	}
	c.aws(key("description"), awsrules.RoleDescription(r.Description))
	c.nonEmpty(key("serviceAccount.namespace"), r.ServiceAccount.Namespace)
	c.nonEmpty(key("serviceAccount.name"), r.ServiceAccount.Name)
	c.nonEmpty(key("cluster.name"), r.Cluster.Name)
	c.region(key("cluster.awsRegion"), r.Cluster.AWSRegion)
	c.tags(key("tags"), r.Tags, awsrules.MaxTagsIAM, "IAM role")
	c.unique(key("inlinePolicies"), len(r.InlinePolicies), func(i int) string { return r.InlinePolicies[i].Name })
	c.unique(key("managedPolicies"), len(r.ManagedPolicies), func(i int) string { return r.ManagedPolicies[i] })
	for i, p := range r.ManagedPolicies {
		c.aws(strictyaml.Item(key("managedPolicies"), i), awsrules.ManagedPolicyARN(p))
	}
	c.aws(key("managedPolicies"), awsrules.ManagedPolicyCount(len(r.ManagedPolicies)))
	size := 0
	for i := range r.InlinePolicies {
		p := strictyaml.Item(key("inlinePolicies"), i)
		c.nonEmpty(strictyaml.Join(p, "name"), r.InlinePolicies[i].Name)
		if r.InlinePolicies[i].Name != "" {
			c.aws(strictyaml.Join(p, "name"), awsrules.PolicyName(r.InlinePolicies[i].Name))
		}
		d := &r.InlinePolicies[i].Document
		c.enum(strictyaml.Join(p, "document.Version"), d.Version, "2012-10-17")
		for j := range d.Statement {
			st := strictyaml.Item(strictyaml.Join(p, "document.Statement"), j)
			c.enum(strictyaml.Join(st, "Effect"), d.Statement[j].Effect, "Allow", "Deny")
			if c.written(strictyaml.Join(st, "Action")) && len(d.Statement[j].Action) == 0 {
				c.fail(strictyaml.Join(st, "Action"), "a statement needs at least one action")
			}
			if c.written(strictyaml.Join(st, "Resource")) && len(d.Statement[j].Resource) == 0 {
				c.fail(strictyaml.Join(st, "Resource"), "a statement needs at least one resource")
			}
		}
		size += PolicySize(*d)
	}
	c.aws(key("inlinePolicies"), awsrules.RoleInlinePolicySize(size))
}

// PolicySize returns the size IAM counts for policy document d against its
// policy size quotas: the characters of its JSON form, white space not
// counted (awsrules.SourceIAMQuotas).
func PolicySize(d PolicyDocument) int {
	b, err := json.Marshal(d)
	if err != nil {
		return 0 // strings and lists of strings always encode
	}
	n := 0
	for _, r := range string(b) {
		if !unicode.IsSpace(r) {
			n++
		}
	}
	return n
}

func (c *checker) secret(at string, s *Secret) {
	key := func(k string) string { return strictyaml.Join(at, k) }
	c.nonEmpty(key("name"), s.Name)
	if s.Name != "" {
		c.aws(key("name"), awsrules.SecretName(s.Name))
	}
	c.region(key("awsRegion"), s.AWSRegion)
	c.tags(key("tags"), s.Tags, 50, "Secrets Manager secret")
}

// coderNameRE is Coder's rule for names (codersdk NameValid): letters and
// digits in groups joined by single hyphens.
var coderNameRE = regexp.MustCompile(`^[a-zA-Z0-9]+(?:-[a-zA-Z0-9]+)*$`)

// coderName checks a Coder object name of at most max characters.
func (c *checker) coderName(key, v string, max int) {
	if v != "" && (len(v) > max || !coderNameRE.MatchString(v)) {
		c.fail(key, "%q is not a valid Coder name: at most %d letters, digits and single hyphens, starting and ending with a letter or digit", v, max)
	}
}

func (c *checker) workspaceProxy(at string, p *WorkspaceProxy) {
	key := func(k string) string { return strictyaml.Join(at, k) }
	c.nonEmpty(key("name"), p.Name)
	c.coderName(key("name"), p.Name, 32)
	c.nonEmpty(key("displayName"), p.DisplayName)
	if len(p.DisplayName) > 64 {
		c.fail(key("displayName"), "Coder display names are at most 64 characters, got %d", len(p.DisplayName))
	}
	c.nonEmpty(key("icon"), p.Icon)
	c.secret(key("tokenSecret"), &p.TokenSecret)
}

func (c *checker) provisionerKey(at string, k *ProvisionerKey) {
	key := func(s string) string { return strictyaml.Join(at, s) }
	c.nonEmpty(key("name"), k.Name)
	if len(k.Name) > 64 {
		c.fail(key("name"), "Coder provisioner key names are at most 64 characters, got %d", len(k.Name))
	}
	for _, reserved := range []string{"built-in", "user-auth", "psk"} {
		if strings.EqualFold(k.Name, reserved) {
			c.fail(key("name"), "%q is a name Coder reserves for its own provisioner keys", k.Name)
		}
	}
	c.nonEmpty(key("organization"), k.Organization)
	c.secret(key("tokenSecret"), &k.TokenSecret)
}
