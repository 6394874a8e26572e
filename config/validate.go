package config

import (
	"fmt"
	"maps"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"
	"github.com/robfig/cron/v3"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/coderfleet/coderfleet/internal/awsrules"
	"github.com/coderfleet/coderfleet/internal/strictyaml"
)

// AWSRegions are the AWS region codes a region may run in (the commercial
// and GovCloud partitions), sorted; see awsrules.Regions.
var AWSRegions = awsrules.Regions

// IsAWSRegion reports whether code is a known AWS region code.
func IsAWSRegion(code string) bool { return awsrules.AWSRegion(code) == nil }

var (
	dnsLabelRE   = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)
	accountRE    = regexp.MustCompile(`^[0-9]{12}$`)
	envNameRE    = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	imageRepoRE  = regexp.MustCompile(`^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._/-][a-z0-9]+)*)*$`)
	imageTagRE   = regexp.MustCompile(`^[\w][\w.-]{0,127}$`)
	kubeVerRE    = regexp.MustCompile(`^1\.[0-9]{2}$`)
	chartRepoRE  = regexp.MustCompile(`^(https|oci)://[^\s]+$`)
	fluxDuration = regexp.MustCompile(`^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$`)
)

// IsDNSName reports whether s is a lower-case DNS name of at least two
// labels (no trailing dot).
func IsDNSName(s string) bool {
	if len(s) > 253 {
		return false
	}
	labels := strings.Split(s, ".")
	if len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if !dnsLabelRE.MatchString(l) {
			return false
		}
	}
	return true
}

// checker collects validation problems, placing each at the line where its
// key was written (or at the file when the key took its default).
type checker struct {
	pos    positions
	file   string // file to blame for keys that were not written
	prefix string // key prefix of the checked value
	region string // region whose effective settings are checked, for messages
	// written maps role ARNs expanded from placeholders to what was
	// written, for messages.
	written map[string]string
	// managed is set when iam.mode is managed: role ARN settings are
	// refused (coderfleet makes the roles).
	managed bool
	errs    ErrorList
}

func (c *checker) fail(key, hint, format string, args ...any) {
	full := join(c.prefix, key)
	e := &Error{File: c.file, Key: full, Msg: fmt.Sprintf(format, args...), Hint: hint}
	// Blame the key, or when it was not written (a default, a missing
	// value), the nearest enclosing key that was.
	for p := full; p != ""; p = parentKey(p) {
		if at, ok := c.pos[p]; ok {
			e.File, e.Line, e.Col = at.File, at.Line, at.Col
			break
		}
	}
	c.errs = append(c.errs, e)
}

// parentKey drops the last segment of a key path ("a.b[2].c" -> "a.b[2]").
func parentKey(p string) string { return strictyaml.Parent(p) }

func (c *checker) oneOf(key, val string, allowed ...string) {
	for _, a := range allowed {
		if val == a {
			return
		}
	}
	c.fail(key, "use one of: "+strings.Join(allowed, ", "), "invalid value %q", val)
}

func (c *checker) dnsLabel(key, val string) {
	if !dnsLabelRE.MatchString(val) {
		c.fail(key, "use lower-case letters, digits and '-', at most 63 characters", "%q is not a valid DNS label", val)
	}
}

func (c *checker) roleARN(key, val string, required bool) {
	if c.managed {
		// Defaults fill some of these keys; only what the user wrote is refused.
		if _, written := c.pos[join(c.prefix, key)]; written {
			c.fail(key, "coderfleet makes this role (iam.mode: managed); remove the setting, or set iam.mode: external to keep your own roles",
				"%s is set, but iam.mode is managed", key)
		}
		return
	}
	if val == "" {
		if required {
			c.fail(key, "set the ARN of the IAM role (placeholders {account}, {cluster}, {region}, {awsRegion} are expanded)", "an IAM role ARN is required")
		}
		return
	}
	if err := awsrules.IAMRoleARN(val); err != nil {
		msg := err.Error()
		if w, ok := c.written[val]; ok && strings.ContainsAny(strings.ReplaceAll(w, "{account}", ""), "{}") {
			// Placeholders make the value differ per region.
			msg = fmt.Sprintf("region %s: %s (expanded from %q)", c.region, msg, w)
		}
		c.fail(key, awsrules.HintOf(err), "%s", msg)
	}
}

// aws reports a broken AWS rule (see internal/awsrules) at key.
func (c *checker) aws(key string, err error) {
	if err != nil {
		c.fail(key, awsrules.HintOf(err), "%s", err.Error())
	}
}

// certARN checks a certificate ARN setting. When the region's load
// balancer uses it (used), it must be in the region's AWS region and the
// fleet's account; otherwise only its format is checked.
func (c *checker) certARN(key, val string, used bool, at awsPlace) {
	if val == "" {
		return
	}
	const orEmpty = "; or leave it empty to use the certificate `coderfleet sync` issues"
	if err := awsrules.CertificateARN(val, "", ""); err != nil {
		c.fail(key, awsrules.HintOf(err)+orEmpty, "%s", err.Error())
		return
	}
	if !used {
		return
	}
	if err := awsrules.CertificateARN(val, at.awsRegion, at.account); err != nil {
		// The same setting may be right for one region and wrong for another.
		c.fail(key, awsrules.HintOf(err)+orEmpty, "region %s: %s", at.region, err.Error())
	}
}

// awsPlace is where a region's AWS resources live.
type awsPlace struct {
	region    string // region folder name, for messages
	awsRegion string
	account   string
}

func (c *checker) image(key string, img Image) {
	if !imageRepoRE.MatchString(img.Repository) {
		c.fail(key+".repository", "for example ghcr.io/coder/coder", "%q is not an image repository", img.Repository)
	}
	switch {
	case img.Tag == "":
		c.fail(key+".tag", "pin an exact version", "an image tag is required")
	case img.Tag == "latest":
		c.fail(key+".tag", "pin an exact version; `latest` changes under you and breaks reproducible renders", "image tag %q is not pinned", img.Tag)
	case !imageTagRE.MatchString(img.Tag):
		c.fail(key+".tag", "", "%q is not a valid image tag", img.Tag)
	}
}

func (c *checker) resources(key string, r Resources) {
	for _, q := range []struct{ k, v string }{
		{"requests.cpu", r.Requests.CPU}, {"requests.memory", r.Requests.Memory},
		{"limits.cpu", r.Limits.CPU}, {"limits.memory", r.Limits.Memory},
	} {
		if _, err := resource.ParseQuantity(q.v); err != nil || q.v == "" {
			c.fail(key+"."+q.k, "use a Kubernetes quantity such as 500m, 2, 512Mi or 4Gi", "%q is not a valid quantity", q.v)
		}
	}
	for _, pair := range []struct{ name, req, lim string }{{"cpu", r.Requests.CPU, r.Limits.CPU}, {"memory", r.Requests.Memory, r.Limits.Memory}} {
		req, err1 := resource.ParseQuantity(pair.req)
		lim, err2 := resource.ParseQuantity(pair.lim)
		if err1 == nil && err2 == nil && req.Cmp(lim) > 0 {
			// Blame the one a region's override changed, if either.
			keys := []string{key + ".requests." + pair.name, key + ".limits." + pair.name}
			k := keys[culprit(2, func(i int) (Pos, bool) { p, ok := c.pos[join(c.prefix, keys[i])]; return p, ok })]
			c.fail(k, "a request cannot exceed its limit", "request %s is above limit %s", pair.req, pair.lim)
		}
	}
}

func (c *checker) loadBalancer(key string, lb LoadBalancer) {
	c.oneOf(key+".targetType", lb.TargetType, "ip", "instance")
	c.oneOf(key+".scheme", lb.Scheme, "internet-facing", "internal")
	for i, r := range lb.SourceRanges {
		if _, err := netip.ParsePrefix(r); err != nil {
			c.fail(fmt.Sprintf("%s.sourceRanges[%d]", key, i), "use CIDR notation such as 203.0.113.0/24", "%q is not a CIDR", r)
		}
	}
}

func (c *checker) duration(key, val string) (time.Duration, bool) {
	d, err := time.ParseDuration(val)
	if err != nil || d <= 0 || !fluxDuration.MatchString(val) {
		c.fail(key, "use a duration such as 30s, 15m or 12h", "%q is not a positive duration", val)
		return 0, false
	}
	return d, true
}

func (c *checker) schedule(key, val string) {
	if _, err := cron.ParseStandard(val); err != nil || strings.HasPrefix(val, "@every") || strings.Contains(val, "TZ=") {
		c.fail(key, "use a five-field cron expression such as \"*/15 * * * *\"", "%q is not a valid cron schedule", val)
	}
}

func validateFleet(f *Fleet, pos positions) ErrorList {
	c := &checker{pos: pos, file: FleetFile}
	if f.APIVersion != APIVersion {
		c.fail("apiVersion", "this coderfleet reads "+APIVersion, "unsupported apiVersion %q", f.APIVersion)
	}
	if f.Kind != "Fleet" {
		c.fail("kind", "fleet.yaml has kind: Fleet", "expected kind Fleet, got %q", f.Kind)
	}
	c.dnsLabel("name", f.Name)
	domainOK := IsDNSName(f.Domain)
	if !domainOK {
		c.fail("domain", "a lower-case DNS name such as coder.example.com, without a trailing dot", "%q is not a valid domain name", f.Domain)
	}
	if !IsDNSName(f.HostedZone) {
		c.fail("hostedZone", "the Route53 hosted zone's name, such as example.com, without a trailing dot", "%q is not a valid zone name", f.HostedZone)
	} else if domainOK && f.Domain != f.HostedZone && !strings.HasSuffix(f.Domain, "."+f.HostedZone) {
		c.fail("domain", fmt.Sprintf("the domain must be %s or a name under it", f.HostedZone), "%q is outside the hosted zone %q", f.Domain, f.HostedZone)
	}
	if domainOK {
		// The names coderfleet derives from the domain for ACM and Route53.
		for _, n := range []string{"*." + f.Domain, "llm." + f.Domain} {
			if err := awsrules.DomainName(n); err != nil {
				c.aws("domain", err)
				break
			}
		}
	}
	if !accountRE.MatchString(f.AWSAccountID) {
		c.fail("awsAccountID", "the 12-digit AWS account id, quoted", "%q is not an AWS account id", f.AWSAccountID)
	}
	return c.errs
}

// validateSettings checks one region's effective settings. Keys are blamed
// on the file they were written in (fleet.yaml or the region's overrides).
// at says where region r's load balancers live (the certificates they use
// must be there); written maps expanded role ARNs to their written form
// (see expandPlaceholders).
func validateSettings(s *Settings, pos positions, file, prefix string, r *Region, at awsPlace, written map[string]string) ErrorList {
	c := &checker{pos: pos, file: file, prefix: prefix, region: r.Name, written: written, managed: s.IAM.Mode == IAMManaged}
	c.iam(s, at)
	if !kubeVerRE.MatchString(s.Kubernetes.Version) {
		c.fail("kubernetes.version", "a minor version such as \"1.33\", quoted", "%q is not a Kubernetes minor version", s.Kubernetes.Version)
	}
	c.dnsLabel("flux.sourceName", s.Flux.SourceName)
	c.dnsLabel("flux.sourceNamespace", s.Flux.SourceNamespace)
	c.duration("flux.interval", s.Flux.Interval)
	c.duration("flux.timeout", s.Flux.Timeout)

	c.image("coder.image", s.Coder.Image)
	if s.Coder.Replicas < 1 {
		c.fail("coder.replicas", "coderd needs at least one replica", "replicas must be at least 1, got %d", s.Coder.Replicas)
	}
	c.resources("coder.resources", s.Coder.Resources)
	c.loadBalancer("coder.loadBalancer", s.Coder.LoadBalancer)
	c.certARN("coder.certificateARN", s.Coder.CertificateARN, r.Role == RolePrimary, at)
	c.roleARN("coder.serviceAccountRoleARN", s.Coder.ServiceAccountRoleARN, false)
	for _, k := range slices.Sorted(maps.Keys(s.Coder.Env)) {
		if !envNameRE.MatchString(k) {
			c.fail("coder.env."+k, "environment variable names are letters, digits and '_'", "%q is not a valid environment variable name", k)
		}
	}

	if s.Proxy.Replicas < 1 {
		c.fail("proxy.replicas", "a proxy needs at least one replica", "replicas must be at least 1, got %d", s.Proxy.Replicas)
	}
	c.resources("proxy.resources", s.Proxy.Resources)
	c.loadBalancer("proxy.loadBalancer", s.Proxy.LoadBalancer)
	c.certARN("proxy.certificateARN", s.Proxy.CertificateARN, r.Role == RoleProxy, at)
	c.resources("provisioner.resources", s.Provisioner.Resources)

	seenNS := map[string]int{}
	for i, ns := range s.WorkspaceNamespaces {
		key := fmt.Sprintf("workspaceNamespaces[%d]", i)
		c.dnsLabel(key+".name", ns.Name)
		if prev, dup := seenNS[ns.Name]; dup {
			c.fail(key+".name", fmt.Sprintf("it is already workspaceNamespaces[%d]", prev), "duplicate workspace namespace %q", ns.Name)
		}
		seenNS[ns.Name] = i
		if ns.Organization == "" {
			c.fail(key+".organization", "the Coder organization whose workspaces run here", "organization is required")
		}
		if ns.Replicas < 0 {
			c.fail(key+".replicas", "", "replicas cannot be negative")
		}
		c.roleARN(key+".roleARN", ns.RoleARN, false)
		c.workspaceIAM(key+".iam", ns.IAM)
	}

	if s.LiteLLM.Enabled {
		c.image("litellm.image", s.LiteLLM.Image)
		if s.LiteLLM.Replicas < 1 {
			c.fail("litellm.replicas", "", "replicas must be at least 1, got %d", s.LiteLLM.Replicas)
		}
		c.resources("litellm.resources", s.LiteLLM.Resources)
		c.oneOf("litellm.exposure", s.LiteLLM.Exposure, "public", "internal")
		c.roleARN("litellm.roleARN", s.LiteLLM.RoleARN, true)
		c.loadBalancer("litellm.loadBalancer", s.LiteLLM.LoadBalancer)
		c.certARN("litellm.certificateARN", s.LiteLLM.CertificateARN, r.Role == RolePrimary && s.LiteLLM.Exposure == "public", at)
		if s.LiteLLM.BedrockRegion != "" && !IsAWSRegion(s.LiteLLM.BedrockRegion) {
			c.fail("litellm.bedrockRegion", "an AWS region code such as us-east-1", "unknown AWS region %q", s.LiteLLM.BedrockRegion)
		}
	}

	ks := s.KeySync
	c.oneOf("keySync.mode", ks.Mode, "externalsecrets", "cronjob")
	c.aws("keySync.secretID", awsrules.SecretName(ks.SecretID))
	c.duration("keySync.refreshInterval", ks.RefreshInterval)
	c.duration("keySync.keyLifetime", ks.KeyLifetime)
	c.schedule("keySync.rotateSchedule", ks.RotateSchedule)
	c.schedule("keySync.syncSchedule", ks.SyncSchedule)
	if _, err := time.LoadLocation(ks.TimeZone); err != nil || ks.TimeZone == "" || ks.TimeZone == "Local" {
		c.fail("keySync.timeZone", "an IANA time zone such as Etc/UTC or Europe/London", "unknown time zone %q", ks.TimeZone)
	}
	c.image("keySync.image", ks.Image)
	c.resources("keySync.resources", ks.Resources)
	c.roleARN("keySync.roleARN", ks.RoleARN, len(s.WorkspaceNamespaces) > 0 && ks.Mode == "cronjob")
	c.roleARN("keySync.rotateRoleARN", ks.RotateRoleARN, false)
	if ks.KMSKeyID != "" {
		c.aws("keySync.kmsKeyID", awsrules.KMSKeyARN(ks.KMSKeyID, ""))
	}

	c.oneOf("secrets.mode", s.Secrets.Mode, SecretsExternal, SecretsManual)
	c.duration("secrets.refreshInterval", s.Secrets.RefreshInterval)
	// Every namespace reading a secret has a SecretStore; in manual mode
	// only key sync's externalsecrets mode makes one.
	stores := s.Secrets.Mode == SecretsExternal || (ks.Mode == "externalsecrets" && len(s.WorkspaceNamespaces) > 0)
	c.roleARN("secrets.roleARN", s.Secrets.RoleARN, stores)

	for _, name := range slices.Sorted(maps.Keys(s.Addons)) {
		a := s.Addons[name]
		key := "addons." + name
		c.dnsLabel(key, name)
		if !a.Enabled {
			continue
		}
		if a.Chart == "" {
			c.fail(key+".chart", "the chart's name in its repository", "chart is required")
		}
		if !chartRepoRE.MatchString(a.Repository) {
			c.fail(key+".repository", "an https:// chart repository or an oci:// registry path", "%q is not a chart repository URL", a.Repository)
		}
		if !exactVersion(a.Version) {
			c.fail(key+".version", "pin an exact chart version such as 1.13.2; ranges are not allowed", "%q is not an exact version", a.Version)
		}
		c.dnsLabel(key+".namespace", a.Namespace)
		if a.Namespace == "default" {
			c.fail(key+".namespace", "install add-ons into kube-system or a namespace of their own", "add-ons must not go into namespace default")
		}
		c.roleARN(key+".roleARN", a.RoleARN, false)
	}
	for i, a := range s.SecretGuard.Allow {
		awsFile := strings.HasPrefix(a.Object, "aws/") && strings.Count(a.Object, "/") == 1 && strings.HasSuffix(a.Object, ".yaml")
		if strings.Count(a.Object, "/") < 2 && !awsFile {
			c.fail(fmt.Sprintf("secretGuard.allow[%d].object", i), "write <component>/<Kind>/<namespace>/<name> or <component>/<Kind>/<name>, or aws/<file>.yaml for an AWS desired-state file", "%q does not name an object", a.Object)
		}
	}
	for i, k := range s.Validation.AllowKinds {
		if !allowKindRE.MatchString(k) {
			c.fail(fmt.Sprintf("validation.allowKinds[%d]", i), "write <apiVersion>/<Kind> as the object spells them, such as monitoring.coreos.com/v1/ServiceMonitor or v1/Pod",
				"%q is not an apiVersion and kind", k)
		}
	}
	return c.errs
}

// allowKindRE matches "<group>/<version>/<Kind>" or "<version>/<Kind>"
// (the core group has no name).
var allowKindRE = regexp.MustCompile(`^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?v[0-9]+((alpha|beta)[0-9]+)?/[A-Z][A-Za-z0-9]*$`)

func validateRegion(rc *RegionConfig, folder, file string, pos positions) ErrorList {
	c := &checker{pos: pos, file: file}
	r := &rc.Region
	if r.APIVersion != APIVersion {
		c.fail("apiVersion", "this coderfleet reads "+APIVersion, "unsupported apiVersion %q", r.APIVersion)
	}
	if r.Kind != "Region" {
		c.fail("kind", "region.yaml has kind: Region", "expected kind Region, got %q", r.Kind)
	}
	if r.Name != folder {
		c.fail("name", fmt.Sprintf("rename the folder to overlays/%s or set name: %s", r.Name, folder),
			"name %q differs from its folder %q", r.Name, folder)
	}
	if !dnsLabelRE.MatchString(r.Name) {
		c.fail("name", "region names become DNS labels (<region>.<domain>): lower-case letters, digits and '-'", "%q is not a valid region name", r.Name)
	}
	if !IsAWSRegion(r.AWSRegion) {
		c.fail("awsRegion", nearestRegionHint(r.AWSRegion), "unknown AWS region %q", r.AWSRegion)
	}
	c.oneOf("role", r.Role, RolePrimary, RoleProxy)
	c.aws("clusterName", awsrules.EKSClusterName(r.ClusterName))
	if r.DisplayName == "" {
		r.DisplayName = r.Name
	}
	if r.Icon == "" {
		r.Icon = "/emojis/1f310.png"
	}
	if r.VPCID != "" {
		c.aws("vpcID", awsrules.VPCID(r.VPCID))
	}
	return c.errs
}

func nearestRegionHint(code string) string {
	hint := unknownKeyHint(code, AWSRegions)
	if strings.HasPrefix(hint, "valid keys") {
		return "use an AWS region code such as us-east-2"
	}
	return hint
}

// validateFleetRegions checks what involves several regions at once.
func validateFleetRegions(cfg *Config) ErrorList {
	var errs ErrorList
	regionFile := func(r *RegionConfig) string { return r.Dir + "/" + RegionFile }
	if len(cfg.Regions) == 0 {
		return ErrorList{{File: OverlaysDir, Msg: "the fleet has no regions",
			Hint: "add a folder overlays/<region>/ with a region.yaml, e.g. `coderfleet region add us-east-2 --aws-region us-east-2 --role primary`"}}
	}
	var primaries []*RegionConfig
	names := map[string]*RegionConfig{}
	clusters := map[string]*RegionConfig{}
	for _, r := range cfg.Regions {
		if r.Region.Role == RolePrimary {
			primaries = append(primaries, r)
		}
		lower := strings.ToLower(r.Region.Name)
		if prev, ok := names[lower]; ok {
			errs = append(errs, r.at("name", fmt.Sprintf("duplicate region name %q", r.Region.Name), "it is also the name in "+regionFile(prev)))
		}
		names[lower] = r
		ck := r.Region.AWSRegion + "/" + r.Region.ClusterName
		if prev, ok := clusters[ck]; ok {
			errs = append(errs, r.at("clusterName", fmt.Sprintf("cluster %q in %s is also used by region %q", r.Region.ClusterName, r.Region.AWSRegion, prev.Region.Name),
				"each region deploys to a cluster of its own"))
		}
		clusters[ck] = r
	}
	switch len(primaries) {
	case 0:
		errs = append(errs, &Error{File: OverlaysDir, Key: "role", Msg: "no region has role: primary",
			Hint: "exactly one region runs coderd, its database and LiteLLM; set role: primary in its region.yaml"})
	case 1:
		for _, r := range cfg.Regions {
			errs = append(errs, crossFieldRules(r, primaries[0])...)
		}
	default:
		var files []string
		for _, p := range primaries {
			files = append(files, regionFile(p))
		}
		for _, p := range primaries[1:] {
			errs = append(errs, p.at("role", "a second region has role: primary ("+strings.Join(files, ", ")+")",
				"exactly one region is primary; make the others role: proxy"))
		}
	}
	return errs
}

// exactVersion reports whether v is one exact semantic version
// (MAJOR.MINOR.PATCH, optionally "v"-prefixed, with pre-release and build
// metadata as semver.org 2.0.0 allows them), as Masterminds/semver parses it
// strictly; ranges and partial versions such as "1.2" are not.
func exactVersion(v string) bool {
	_, err := semver.StrictNewVersion(strings.TrimPrefix(v, "v"))
	return err == nil
}
