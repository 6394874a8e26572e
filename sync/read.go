package sync

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/acm"
	acmtypes "github.com/aws/aws-sdk-go-v2/service/acm/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	tagging "github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi"
	tagtypes "github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi/types"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"
	"github.com/coderfleet/coderfleet/awsstate"
)

// Tag keys the AWS Load Balancer Controller puts on the NLB of a Service.
const (
	tagStack   = "service.k8s.aws/stack"
	tagCluster = "elbv2.k8s.aws/cluster"
)

// read collects the actual state relevant to the desired regions: the
// hosted zones of the desired state, then the owned certificates in every AWS
// region the fleet has used (see usedAWSRegions: not only those of the
// folders that exist) and the secrets (then Coder, whose ownership the
// secrets hold); meanwhile the owned health checks, the load balancers and
// IAM. Owned objects out of the run's scope (Desired.inScope) are left out.
// The reads run at once (see each), their calls bounded per service by the
// read cache the clients go through.
func (s *syncer) read(ctx context.Context, d *Desired) (*Actual, error) {
	a := &Actual{Zones: map[string]*Zone{}, LoadBalancers: map[string]LoadBalancer{}}
	// The hosted zones are read first, alone: the certificates and secrets
	// need them, and an endpoint that cannot be reached or credentials that
	// are refused show as one failing call (one retry line, one error)
	// instead of every parallel read retrying at once. It costs one round
	// trip before the rest starts.
	if err := s.readZones(ctx, d, a); err != nil {
		return nil, err
	}
	err := s.all(ctx,
		func(ctx context.Context) error { return s.readAllCertificates(ctx, d, a) },
		func(ctx context.Context) error {
			if err := s.readSecrets(ctx, d, a); err != nil {
				return err
			}
			return s.readCoder(ctx, d, a)
		},
		func(ctx context.Context) (err error) {
			a.HealthChecks, err = s.readHealthChecks(ctx, d)
			return err
		},
		func(ctx context.Context) error { return s.readLoadBalancers(ctx, d, a) },
		func(ctx context.Context) error { return s.readIAM(ctx, d, a) },
	)
	if err != nil {
		return nil, err
	}
	return a, nil
}

// readZones reads the hosted zones the desired regions name.
func (s *syncer) readZones(ctx context.Context, d *Desired, a *Actual) error {
	names := map[string]bool{}
	for _, r := range d.Regions {
		if r.HostedZone != "" {
			names[r.HostedZone] = true
		}
	}
	zs := slices.Sorted(maps.Keys(names))
	zones := make([]*Zone, len(zs))
	if err := s.each(ctx, len(zs), func(ctx context.Context, i int) (err error) {
		zones[i], err = s.readZone(ctx, zs[i])
		return err
	}); err != nil {
		return err
	}
	for i, name := range zs {
		a.Zones[name] = zones[i]
	}
	return nil
}

// readAllCertificates reads the owned certificates of every AWS region the
// desired certificates and the zones' registries name, sorted.
func (s *syncer) readAllCertificates(ctx context.Context, d *Desired, a *Actual) error {
	acmRegions := map[string]bool{}
	for _, r := range d.Regions {
		for _, c := range r.Certificates {
			acmRegions[c.AWSRegion] = true
		}
	}
	for _, z := range a.Zones {
		for _, ar := range usedAWSRegions(z, d.Fleet) {
			acmRegions[ar] = true
		}
	}
	ars := slices.Sorted(maps.Keys(acmRegions))
	certs := make([][]Certificate, len(ars))
	if err := s.each(ctx, len(ars), func(ctx context.Context, i int) (err error) {
		certs[i], err = s.readCertificates(ctx, ars[i], d, a)
		return err
	}); err != nil {
		return err
	}
	var all []Certificate
	for _, c := range certs {
		all = append(all, c...)
	}
	sort.Slice(all, func(i, j int) bool {
		x, y := all[i], all[j]
		return x.Region+"/"+x.Name+"/"+x.ARN < y.Region+"/"+y.Name+"/"+y.ARN
	})
	a.Certificates = all
	return nil
}

// ownedCert is a certificate of the fleet as its tags name it.
type ownedCert struct {
	arn, region, name string
	// names is its TagCertificateNames tag ("" without).
	names string
}

// readCertificates finds the fleet's certificates in awsRegion with the
// Resource Groups Tagging API (one paged GetResources with the fleet's tag:
// certificates of others are never asked about), adds those this run
// requested (the tagging API may list a new certificate only after a
// while), and describes those in scope. ReadStatus (s.certSummaries) takes
// what it can from the ListCertificates summaries instead (see
// certFromSummary); the zones of a must be read.
func (s *syncer) readCertificates(ctx context.Context, awsRegion string, d *Desired, a *Actual) ([]Certificate, error) {
	var owned []ownedCert
	seen := map[string]bool{}
	in := &tagging.GetResourcesInput{ResourceTypeFilters: []string{"acm"}, ResourcesPerPage: ptr(int32(100)),
		TagFilters: []tagtypes.TagFilter{{Key: ptr(awsstate.TagFleet), Values: []string{d.Fleet}}}}
	for {
		var out *tagging.GetResourcesOutput
		_, err := s.call(ctx, "listing the fleet's ACM certificates in "+awsRegion, func(ctx context.Context) (err error) {
			out, err = s.opts.Clients.Tagging(awsRegion).GetResources(ctx, in)
			return err
		})
		if err != nil {
			return nil, err
		}
		for _, m := range out.ResourceTagMappingList {
			arn := deref(m.ResourceARN)
			tm := map[string]string{}
			for _, t := range m.Tags {
				tm[deref(t.Key)] = deref(t.Value)
			}
			if !strings.Contains(arn, ":certificate/") || seen[arn] {
				continue
			}
			seen[arn] = true
			owned = append(owned, ownedCert{arn: arn, region: tm[awsstate.TagRegion], name: tm[awsstate.TagName], names: tm[TagCertificateNames]})
		}
		if deref(out.PaginationToken) == "" {
			break
		}
		in = &tagging.GetResourcesInput{ResourceTypeFilters: in.ResourceTypeFilters, ResourcesPerPage: in.ResourcesPerPage, TagFilters: in.TagFilters, PaginationToken: out.PaginationToken}
	}
	s.requestedMu.Lock()
	for _, c := range s.requested[awsRegion] {
		if !seen[c.arn] {
			seen[c.arn] = true
			owned = append(owned, c)
		}
	}
	s.requestedMu.Unlock()
	owned = slices.DeleteFunc(owned, func(c ownedCert) bool { return !d.inScope(c.region) || c.name == "" })
	c := s.opts.Clients.ACM(awsRegion)
	var summaries map[string]acmtypes.CertificateSummary
	var validated map[string]ValidationRecord
	if s.certSummaries && len(owned) > 0 {
		var err error
		if summaries, err = s.listCertificates(ctx, c, awsRegion); err != nil {
			return nil, err
		}
		validated = ownedValidation(a, d.Fleet)
	}
	found := make([]*Certificate, len(owned))
	err := s.each(ctx, len(owned), func(ctx context.Context, i int) error {
		if sum, ok := summaries[owned[i].arn]; ok {
			if cert := certFromSummary(sum, owned[i], d, validated); cert != nil {
				cert.AWSRegion = awsRegion
				found[i] = cert
				return nil
			}
		}
		cert, err := s.describeCertificate(ctx, c, owned[i].arn)
		if err != nil || cert == nil {
			return err
		}
		cert.AWSRegion, cert.Region, cert.Name = awsRegion, owned[i].region, owned[i].name
		found[i] = cert
		return nil
	})
	if err != nil {
		return nil, err
	}
	var certs []Certificate
	for _, c := range found {
		if c != nil {
			certs = append(certs, *c)
		}
	}
	return certs, nil
}

// listCertificates returns the summaries of every certificate in
// awsRegion by ARN, whatever its key type (ListCertificates lists RSA_1024
// and RSA_2048 keys only unless asked for others), 1000 a page (AWS
// Certificate Manager API Reference, ListCertificates).
func (s *syncer) listCertificates(ctx context.Context, c ACMAPI, awsRegion string) (map[string]acmtypes.CertificateSummary, error) {
	out := map[string]acmtypes.CertificateSummary{}
	in := &acm.ListCertificatesInput{MaxItems: ptr(int32(1000)), Includes: &acmtypes.Filters{KeyTypes: acmtypes.KeyAlgorithm("").Values()}}
	for {
		var page *acm.ListCertificatesOutput
		if _, err := s.call(ctx, "listing the ACM certificates in "+awsRegion, func(ctx context.Context) (err error) {
			page, err = c.ListCertificates(ctx, in)
			return err
		}); err != nil {
			return nil, err
		}
		for _, sum := range page.CertificateSummaryList {
			out[deref(sum.CertificateArn)] = sum
		}
		if deref(page.NextToken) == "" {
			return out, nil
		}
		in = &acm.ListCertificatesInput{MaxItems: in.MaxItems, Includes: in.Includes, NextToken: page.NextToken}
	}
}

// ownedValidation returns the fleet's validation CNAMEs in the zones of a
// (owned "_<label>.<name>" CNAMEs, as ACM names them) by the name they
// validate. It looks at the ownership TXT records of such CNAMEs only
// (readOwners parses every one): status runs it for each region.
func ownedValidation(a *Actual, fleet string) map[string]ValidationRecord {
	out := map[string]ValidationRecord{}
	for _, z := range a.Zones {
		owned := map[string]bool{}
		for _, r := range z.Records {
			if r.Type != "TXT" || len(r.Values) != 1 {
				continue
			}
			if name, typ, ok := ownedName(r.Name); ok && typ == "CNAME" && strings.HasPrefix(name, "_") {
				if f, _, ok := parseOwner(r.Values[0]); ok && f == fleet {
					owned[awsstate.RecordKey(name, typ, r.SetIdentifier)] = true
				}
			}
		}
		for _, r := range z.Records {
			if r.Type != "CNAME" || len(r.Values) != 1 || !owned[r.Key()] {
				continue
			}
			if _, rest, ok := strings.Cut(r.Name, "."); ok {
				out[rest] = ValidationRecord{Name: r.Name, Value: r.Values[0]}
			}
		}
	}
	return out
}

// certFromSummary is the certificate o as its ListCertificates summary
// gives it, when that is all ReadStatus needs, or nil (describe it then):
// it must be ISSUED, carry TagCertificateNames equal to the digest of its
// desired names (the summary of moto_server lacks the subject alternative
// names), and each of its names must have a validation CNAME among the
// fleet's records (validated). A validation record someone edited in
// place is thus taken as it is; sync plan, which describes every
// certificate, compares its value.
func certFromSummary(sum acmtypes.CertificateSummary, o ownedCert, d *Desired, validated map[string]ValidationRecord) *Certificate {
	if sum.Status != acmtypes.CertificateStatusIssued || o.names == "" {
		return nil
	}
	var want *awsstate.Certificate
	for _, r := range d.Regions {
		for i, c := range r.Certificates {
			if r.Region == o.region && c.Name == o.name {
				want = &r.Certificates[i]
			}
		}
	}
	if want == nil || deref(sum.DomainName) != want.DomainName || certificateNames(want.DomainName, want.SubjectAlternativeNames) != o.names {
		return nil
	}
	cert := &Certificate{ARN: o.arn, Region: o.region, Name: o.name, DomainName: want.DomainName, Status: string(sum.Status),
		InUse: deref(sum.InUse), NotAfter: deref(sum.NotAfter)}
	seen := map[string]bool{}
	for _, n := range append([]string{want.DomainName}, want.SubjectAlternativeNames...) {
		if n != want.DomainName && !slices.Contains(cert.SANs, n) {
			cert.SANs = append(cert.SANs, n)
		}
		v, ok := validated[strings.TrimPrefix(normName(n), "*.")]
		if !ok {
			return nil
		}
		if !seen[v.Name] {
			seen[v.Name] = true
			cert.Validation = append(cert.Validation, v)
		}
	}
	return cert
}

// describeCertificate returns nil when the certificate no longer exists.
func (s *syncer) describeCertificate(ctx context.Context, c ACMAPI, arn string) (*Certificate, error) {
	var out *acm.DescribeCertificateOutput
	_, err := s.call(ctx, "describing "+arn, func(ctx context.Context) (err error) {
		out, err = c.DescribeCertificate(ctx, &acm.DescribeCertificateInput{CertificateArn: &arn})
		return err
	})
	if errorCode(err) == "ResourceNotFoundException" {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	d := out.Certificate
	cert := &Certificate{ARN: arn, DomainName: deref(d.DomainName), Status: string(d.Status), InUse: len(d.InUseBy) > 0, NotAfter: deref(d.NotAfter)}
	for _, san := range d.SubjectAlternativeNames {
		if san != cert.DomainName {
			cert.SANs = append(cert.SANs, san)
		}
	}
	seen := map[string]bool{}
	for _, v := range d.DomainValidationOptions {
		if v.ResourceRecord == nil || deref(v.ResourceRecord.Name) == "" {
			continue
		}
		vr := ValidationRecord{Name: normName(deref(v.ResourceRecord.Name)), Value: normName(deref(v.ResourceRecord.Value))}
		if !seen[vr.Name] {
			seen[vr.Name] = true
			cert.Validation = append(cert.Validation, vr)
		}
	}
	return cert, nil
}

func (s *syncer) readHealthChecks(ctx context.Context, d *Desired) ([]HealthCheck, error) {
	// Deterministic references of the desired checks recognise a check whose
	// tags were never set because a run was interrupted.
	byRef := map[string][2]string{}
	for _, r := range d.Regions {
		for _, h := range r.HealthChecks {
			for attempt := 0; attempt < maxRefAttempts; attempt++ {
				byRef[healthCheckRef(d.Fleet, r.Region, h.Name, hcConfigString(h), attempt)] = [2]string{r.Region, h.Name}
			}
		}
	}
	var found []HealthCheck
	var marker *string
	for {
		var out *route53.ListHealthChecksOutput
		_, err := s.call(ctx, "listing Route53 health checks", func(ctx context.Context) (err error) {
			out, err = s.opts.Clients.Route53.ListHealthChecks(ctx, &route53.ListHealthChecksInput{Marker: marker})
			return err
		})
		if err != nil {
			return nil, err
		}
		var ids []string
		for _, h := range out.HealthChecks {
			if strings.HasPrefix(deref(h.CallerReference), hcRefPrefix) { // not created by coderfleet: never touched
				ids = append(ids, deref(h.Id))
			}
		}
		tagSets, err := s.healthCheckTags(ctx, ids)
		if err != nil {
			return nil, err
		}
		for _, h := range out.HealthChecks {
			ref := deref(h.CallerReference)
			if !strings.HasPrefix(ref, hcRefPrefix) {
				continue // not created by coderfleet: never touched
			}
			id := deref(h.Id)
			tm := tagSets[id]
			if tm == nil {
				tm = map[string]string{}
			}
			hc := HealthCheck{ID: id, CallerReference: ref, Version: deref(h.HealthCheckVersion), Config: fromHealthCheckConfig(h.HealthCheckConfig)}
			switch {
			case tm[awsstate.TagFleet] == d.Fleet && tm[awsstate.TagName] != "":
				hc.Region, hc.Name, hc.Tagged = tm[awsstate.TagRegion], tm[awsstate.TagName], true
				hc.Config.Tags = tm
			case len(tm) == 0 && byRef[ref] != [2]string{}:
				hc.Region, hc.Name = byRef[ref][0], byRef[ref][1]
			default:
				continue
			}
			if !d.inScope(hc.Region) {
				continue
			}
			hc.Config.Name = hc.Name
			found = append(found, hc)
		}
		if !out.IsTruncated || deref(out.NextMarker) == "" {
			break
		}
		marker = out.NextMarker
	}
	sort.Slice(found, func(i, j int) bool {
		x, y := found[i], found[j]
		return x.Region+"/"+x.Name+"/"+x.ID < y.Region+"/"+y.Name+"/"+y.ID
	})
	return found, nil
}

const maxRefAttempts = 5

// maxTagIDs is the most IDs one ListTagsForResources takes (Route53 API
// Reference, ListTagsForResources: ResourceIds, at most 10).
const maxTagIDs = 10

// healthCheckTags reads the tags of the health checks ids, maxTagIDs per
// call, by ID.
func (s *syncer) healthCheckTags(ctx context.Context, ids []string) (map[string]map[string]string, error) {
	chunks := slices.Collect(slices.Chunk(ids, maxTagIDs))
	sets := make([][]r53types.ResourceTagSet, len(chunks))
	if err := s.each(ctx, len(chunks), func(ctx context.Context, i int) error {
		what := fmt.Sprintf("reading tags of health checks %s", strings.Join(chunks[i], ", "))
		_, err := s.call(ctx, what, func(ctx context.Context) error {
			out, err := s.opts.Clients.Route53.ListTagsForResources(ctx, &route53.ListTagsForResourcesInput{ResourceIds: chunks[i], ResourceType: r53types.TagResourceTypeHealthcheck})
			if err == nil {
				sets[i] = out.ResourceTagSets
			}
			return err
		})
		return err
	}); err != nil {
		return nil, err
	}
	out := map[string]map[string]string{}
	for _, set := range slices.Concat(sets...) {
		tm := map[string]string{}
		for _, t := range set.Tags {
			tm[deref(t.Key)] = deref(t.Value)
		}
		out[deref(set.ResourceId)] = tm
	}
	return out, nil
}

func fromHealthCheckConfig(c *r53types.HealthCheckConfig) awsstate.HealthCheck {
	if c == nil {
		return awsstate.HealthCheck{}
	}
	return awsstate.HealthCheck{
		Type: string(c.Type), FQDN: normName(deref(c.FullyQualifiedDomainName)), Port: deref(c.Port),
		ResourcePath: deref(c.ResourcePath), RequestInterval: deref(c.RequestInterval),
		FailureThreshold: deref(c.FailureThreshold), MeasureLatency: deref(c.MeasureLatency),
	}
}

// hcConfigString is the part of a health check that Route53 cannot update in
// place; a change of it replaces the check.
func hcConfigString(h awsstate.HealthCheck) string {
	return fmt.Sprintf("%s/%d/%t", h.Type, h.RequestInterval, h.MeasureLatency)
}

func (s *syncer) readZone(ctx context.Context, name string) (*Zone, error) {
	var out *route53.ListHostedZonesByNameOutput
	_, err := s.call(ctx, "looking up hosted zone "+name, func(ctx context.Context) (err error) {
		out, err = s.opts.Clients.Route53.ListHostedZonesByName(ctx, &route53.ListHostedZonesByNameInput{DNSName: ptr(name)})
		return err
	})
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, z := range out.HostedZones {
		if normName(deref(z.Name)) == name && (z.Config == nil || !z.Config.PrivateZone) {
			ids = append(ids, strings.TrimPrefix(deref(z.Id), "/hostedzone/"))
		}
	}
	switch len(ids) {
	case 0:
		return nil, fmt.Errorf("public hosted zone %q not found in Route53: create it, or fix hostedZone in overlays/fleet.yaml and re-render", name)
	case 1:
	default:
		return nil, fmt.Errorf("%d public hosted zones are named %q (%s): keep one", len(ids), name, strings.Join(ids, ", "))
	}
	z := &Zone{ID: ids[0], Name: name}
	recs, err := s.listRecords(ctx, z.ID)
	if err != nil {
		return nil, err
	}
	z.Records = recs
	return z, nil
}

// listRecords pages through a zone by name, type and set identifier. A page
// that repeats records already seen (moto does so when the page boundary falls
// among records with set identifiers) is deduplicated; a page that does not
// advance ends the listing with an error instead of looping.
func (s *syncer) listRecords(ctx context.Context, zoneID string) ([]Record, error) {
	in := &route53.ListResourceRecordSetsInput{HostedZoneId: ptr(zoneID), MaxItems: ptr(s.opts.RecordPageSize)}
	seen := map[string]bool{}
	var recs []Record
	for {
		var out *route53.ListResourceRecordSetsOutput
		_, err := s.call(ctx, "listing records of hosted zone "+zoneID, func(ctx context.Context) (err error) {
			out, err = s.opts.Clients.Route53.ListResourceRecordSets(ctx, in)
			return err
		})
		if err != nil {
			return nil, err
		}
		added := 0
		for _, rr := range out.ResourceRecordSets {
			r := fromRoute53(rr)
			if seen[r.Key()] {
				continue
			}
			seen[r.Key()] = true
			recs = append(recs, r)
			added++
		}
		if !out.IsTruncated {
			break
		}
		next := &route53.ListResourceRecordSetsInput{HostedZoneId: ptr(zoneID), MaxItems: in.MaxItems,
			StartRecordName: out.NextRecordName, StartRecordType: out.NextRecordType, StartRecordIdentifier: out.NextRecordIdentifier}
		if added == 0 && deref(next.StartRecordName) == deref(in.StartRecordName) && next.StartRecordType == in.StartRecordType &&
			deref(next.StartRecordIdentifier) == deref(in.StartRecordIdentifier) {
			return nil, fmt.Errorf("listing records of hosted zone %s: pagination did not advance at %q %s", zoneID, deref(next.StartRecordName), next.StartRecordType)
		}
		in = next
	}
	// Sorted by key, each computed once (a zone of thousands of records
	// would otherwise build two keys per comparison).
	type keyedRecord struct {
		key string
		rec Record
	}
	keyed := make([]keyedRecord, len(recs))
	for i, r := range recs {
		keyed[i].key, keyed[i].rec = r.Key(), r
	}
	slices.SortFunc(keyed, func(x, y keyedRecord) int { return strings.Compare(x.key, y.key) })
	for i := range keyed {
		recs[i] = keyed[i].rec
	}
	return recs, nil
}

func (s *syncer) readLoadBalancers(ctx context.Context, d *Desired, a *Actual) error {
	refs := map[string]LBRef{}
	for _, r := range d.Regions {
		for _, rec := range r.Records {
			ref := LBRef{AWSRegion: rec.Alias.AWSRegion, Cluster: rec.Alias.Cluster, Service: rec.Alias.Service}
			refs[ref.String()] = ref
		}
	}
	byRegion := map[string][]LBRef{}
	for _, k := range slices.Sorted(maps.Keys(refs)) {
		byRegion[refs[k].AWSRegion] = append(byRegion[refs[k].AWSRegion], refs[k])
	}
	ars := slices.Sorted(maps.Keys(byRegion))
	type regionLBs struct {
		lbs  []elbtypes.LoadBalancer
		tags map[string]map[string]string
	}
	read := make([]regionLBs, len(ars))
	if err := s.each(ctx, len(ars), func(ctx context.Context, i int) (err error) {
		read[i].lbs, read[i].tags, err = s.listLoadBalancers(ctx, ars[i])
		return err
	}); err != nil {
		return err
	}
	for i, ar := range ars {
		lbs, tags := read[i].lbs, read[i].tags
		for _, ref := range byRegion[ar] {
			var match []elbtypes.LoadBalancer
			for _, lb := range lbs {
				t := tags[deref(lb.LoadBalancerArn)]
				if t[tagStack] == ref.Service && t[tagCluster] == ref.Cluster {
					match = append(match, lb)
				}
			}
			if len(match) > 1 {
				return fmt.Errorf("%d load balancers in %s carry %s=%s and %s=%s: delete the stale one", len(match), ar, tagStack, ref.Service, tagCluster, ref.Cluster)
			}
			if len(match) == 1 {
				a.LoadBalancers[ref.String()] = LoadBalancer{
					ARN: deref(match[0].LoadBalancerArn), DNSName: normName(deref(match[0].DNSName)),
					HostedZoneID: deref(match[0].CanonicalHostedZoneId),
				}
				if st := match[0].State; st != nil {
					lb := a.LoadBalancers[ref.String()]
					lb.State = string(st.Code)
					a.LoadBalancers[ref.String()] = lb
				}
			}
		}
	}
	return nil
}

// listLoadBalancers lists the network load balancers of awsRegion ar and
// their tags by ARN (DescribeTags takes 20 ARNs).
func (s *syncer) listLoadBalancers(ctx context.Context, ar string) ([]elbtypes.LoadBalancer, map[string]map[string]string, error) {
	c := s.opts.Clients.ELB(ar)
	var lbs []elbtypes.LoadBalancer
	var marker *string
	for {
		var out *elbv2.DescribeLoadBalancersOutput
		_, err := s.call(ctx, "listing load balancers in "+ar, func(ctx context.Context) (err error) {
			out, err = c.DescribeLoadBalancers(ctx, &elbv2.DescribeLoadBalancersInput{Marker: marker})
			return err
		})
		if err != nil {
			return nil, nil, err
		}
		for _, lb := range out.LoadBalancers {
			if lb.Type == elbtypes.LoadBalancerTypeEnumNetwork {
				lbs = append(lbs, lb)
			}
		}
		if deref(out.NextMarker) == "" {
			break
		}
		marker = out.NextMarker
	}
	tags := map[string]map[string]string{}
	for i := 0; i < len(lbs); i += 20 {
		var arns []string
		for _, lb := range lbs[i:min(i+20, len(lbs))] {
			arns = append(arns, deref(lb.LoadBalancerArn))
		}
		var out *elbv2.DescribeTagsOutput
		_, err := s.call(ctx, "reading load balancer tags in "+ar, func(ctx context.Context) (err error) {
			out, err = c.DescribeTags(ctx, &elbv2.DescribeTagsInput{ResourceArns: arns})
			return err
		})
		if err != nil {
			return nil, nil, err
		}
		for _, td := range out.TagDescriptions {
			m := map[string]string{}
			for _, t := range td.Tags {
				m[deref(t.Key)] = deref(t.Value)
			}
			tags[deref(td.ResourceArn)] = m
		}
	}
	return lbs, tags, nil
}
