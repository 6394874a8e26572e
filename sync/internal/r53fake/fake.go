// Package r53fake is a stateful in-memory Route53 that enforces the rules of
// the real service which moto does not: atomic change batches, CREATE of an
// existing record fails, DELETE must match the record exactly, wildcards come
// back as \052, listing pages by name, type and set identifier, the batch
// limits, one latency record set per name, type and latency region,
// idempotent health check caller references, and health check versions. Tests run the same contract against it and against moto_server.
package r53fake

import (
	"context"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	gosync "sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/aws-sdk-go-v2/service/route53/types"
)

// Route53 is the fake. The zero value is not usable; call New.
type Route53 struct {
	mu      gosync.Mutex
	zones   map[string]*zone
	hcs     map[string]*healthCheck
	refs    map[string]string // caller reference -> health check id ("" once deleted)
	changes map[string]int    // change id -> GetChange calls left before INSYNC
	nextID  int

	// PendingPolls is how many GetChange calls report PENDING before INSYNC.
	PendingPolls int
	// Calls counts the calls of each operation.
	Calls map[string]int
	// Before, when set, runs before an operation; an error is returned
	// without the operation taking effect (a request that never arrived).
	Before func(op string) error
	// After, when set, runs after an operation took effect; an error is
	// returned instead of the result (a response lost on the way back).
	After func(op string) error
}

type zone struct {
	id, name string
	records  map[string]types.ResourceRecordSet
}

type healthCheck struct {
	hc   types.HealthCheck
	tags map[string]string
}

// New returns an empty fake.
func New() *Route53 {
	return &Route53{zones: map[string]*zone{}, hcs: map[string]*healthCheck{}, refs: map[string]string{},
		changes: map[string]int{}, Calls: map[string]int{}, PendingPolls: 1}
}

// Mutating returns the number of calls that can change state.
func (f *Route53) Mutating() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, op := range []string{"ChangeResourceRecordSets", "CreateHealthCheck", "UpdateHealthCheck", "DeleteHealthCheck", "ChangeTagsForResource"} {
		n += f.Calls[op]
	}
	return n
}

func (f *Route53) id(prefix string) string {
	f.nextID++
	return fmt.Sprintf("%s%010d", prefix, f.nextID)
}

// AddZone creates a public hosted zone with its SOA and NS records and returns its id.
func (f *Route53) AddZone(name string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	name = canon(name)
	z := &zone{id: f.id("Z"), name: name, records: map[string]types.ResourceRecordSet{}}
	for _, rr := range []types.ResourceRecordSet{
		{Name: &name, Type: types.RRTypeSoa, TTL: ptr(int64(900)), ResourceRecords: []types.ResourceRecord{{Value: ptr("ns-1.awsdns-00.com. hostmaster.amazon.com. 1 7200 900 1209600 86400")}}},
		{Name: &name, Type: types.RRTypeNs, TTL: ptr(int64(172800)), ResourceRecords: []types.ResourceRecord{{Value: ptr("ns-1.awsdns-00.com.")}, {Value: ptr("ns-2.awsdns-00.net.")}}},
	} {
		z.records[key(rr)] = rr
	}
	f.zones[z.id] = z
	return z.id
}

// Records returns a copy of a zone's records in listing order.
func (f *Route53) Records(zoneID string) []types.ResourceRecordSet {
	f.mu.Lock()
	defer f.mu.Unlock()
	return sorted(f.zones[zoneID])
}

func (f *Route53) enter(op string) error {
	f.Calls[op]++
	if f.Before != nil {
		return f.Before(op)
	}
	return nil
}

func (f *Route53) leave(op string) error {
	if f.After != nil {
		return f.After(op)
	}
	return nil
}

// canon lowercases, adds the trailing dot and escapes '*' as Route53 returns it.
func canon(name string) string {
	name = strings.ToLower(name)
	if !strings.HasSuffix(name, ".") {
		name += "."
	}
	return strings.ReplaceAll(name, "*", `\052`)
}

func key(rr types.ResourceRecordSet) string {
	return canon(deref(rr.Name)) + "|" + string(rr.Type) + "|" + deref(rr.SetIdentifier)
}

// order is Route53's listing order: labels reversed, then type, then set id.
func order(rr types.ResourceRecordSet) string {
	labels := strings.Split(strings.TrimSuffix(canon(deref(rr.Name)), "."), ".")
	for i, j := 0, len(labels)-1; i < j; i, j = i+1, j-1 {
		labels[i], labels[j] = labels[j], labels[i]
	}
	return strings.Join(labels, ".") + "\x00" + string(rr.Type) + "\x00" + deref(rr.SetIdentifier)
}

func sorted(z *zone) []types.ResourceRecordSet {
	if z == nil {
		return nil
	}
	out := make([]types.ResourceRecordSet, 0, len(z.records))
	for _, rr := range z.records {
		out = append(out, rr)
	}
	sort.Slice(out, func(i, j int) bool { return order(out[i]) < order(out[j]) })
	return out
}

func invalid(format string, args ...any) error {
	return &types.InvalidChangeBatch{Message: ptr(fmt.Sprintf(format, args...))}
}

// ListHostedZonesByName lists zones in name order starting at DNSName.
func (f *Route53) ListHostedZonesByName(_ context.Context, in *route53.ListHostedZonesByNameInput, _ ...func(*route53.Options)) (*route53.ListHostedZonesByNameOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.enter("ListHostedZonesByName"); err != nil {
		return nil, err
	}
	out := &route53.ListHostedZonesByNameOutput{}
	for _, z := range f.zones {
		if in.DNSName == nil || z.name >= canon(*in.DNSName) {
			out.HostedZones = append(out.HostedZones, types.HostedZone{Id: ptr("/hostedzone/" + z.id), Name: ptr(z.name), CallerReference: ptr(z.id), Config: &types.HostedZoneConfig{}})
		}
	}
	sort.Slice(out.HostedZones, func(i, j int) bool { return *out.HostedZones[i].Name < *out.HostedZones[j].Name })
	return out, f.leave("ListHostedZonesByName")
}

// ListResourceRecordSets pages by name, type and set identifier like Route53.
func (f *Route53) ListResourceRecordSets(_ context.Context, in *route53.ListResourceRecordSetsInput, _ ...func(*route53.Options)) (*route53.ListResourceRecordSetsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.enter("ListResourceRecordSets"); err != nil {
		return nil, err
	}
	z := f.zones[strings.TrimPrefix(deref(in.HostedZoneId), "/hostedzone/")]
	if z == nil {
		return nil, &types.NoSuchHostedZone{Message: ptr("no hosted zone " + deref(in.HostedZoneId))}
	}
	if in.StartRecordIdentifier != nil && in.StartRecordType == "" {
		return nil, &types.InvalidInput{Message: ptr("StartRecordIdentifier needs StartRecordType")}
	}
	max := 300
	if in.MaxItems != nil && *in.MaxItems > 0 && int(*in.MaxItems) < max {
		max = int(*in.MaxItems)
	}
	all := sorted(z)
	start := 0
	if in.StartRecordName != nil {
		from := order(types.ResourceRecordSet{Name: in.StartRecordName, Type: in.StartRecordType, SetIdentifier: in.StartRecordIdentifier})
		for start < len(all) && order(all[start]) < from {
			start++
		}
	}
	out := &route53.ListResourceRecordSetsOutput{MaxItems: ptr(int32(max))}
	end := min(start+max, len(all))
	out.ResourceRecordSets = append(out.ResourceRecordSets, all[start:end]...)
	if end < len(all) {
		next := all[end]
		out.IsTruncated = true
		out.NextRecordName, out.NextRecordType, out.NextRecordIdentifier = next.Name, next.Type, next.SetIdentifier
	}
	return out, f.leave("ListResourceRecordSets")
}

// ChangeResourceRecordSets applies a batch atomically or not at all.
func (f *Route53) ChangeResourceRecordSets(_ context.Context, in *route53.ChangeResourceRecordSetsInput, _ ...func(*route53.Options)) (*route53.ChangeResourceRecordSetsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.enter("ChangeResourceRecordSets"); err != nil {
		return nil, err
	}
	z := f.zones[strings.TrimPrefix(deref(in.HostedZoneId), "/hostedzone/")]
	if z == nil {
		return nil, &types.NoSuchHostedZone{Message: ptr("no hosted zone " + deref(in.HostedZoneId))}
	}
	if in.ChangeBatch == nil || len(in.ChangeBatch.Changes) == 0 {
		return nil, &types.InvalidInput{Message: ptr("empty change batch")}
	}
	elems, chars := 0, 0
	for _, c := range in.ChangeBatch.Changes {
		e, ch := 1, 0
		if rr := c.ResourceRecordSet; rr != nil && len(rr.ResourceRecords) > 0 {
			e = len(rr.ResourceRecords)
			for _, v := range rr.ResourceRecords {
				ch += len(deref(v.Value))
			}
		}
		if c.Action == types.ChangeActionUpsert {
			e, ch = 2*e, 2*ch
		}
		elems, chars = elems+e, chars+ch
	}
	if elems > 1000 || chars > 32000 {
		return nil, invalid("batch has %d record elements and %d characters; the limits are 1000 and 32000", elems, chars)
	}
	next := map[string]types.ResourceRecordSet{}
	for k, v := range z.records {
		next[k] = v
	}
	for i, c := range in.ChangeBatch.Changes {
		rr := c.ResourceRecordSet
		if rr == nil || rr.Name == nil {
			return nil, &types.InvalidInput{Message: ptr(fmt.Sprintf("change %d has no record", i))}
		}
		n := canon(*rr.Name)
		if n != z.name && !strings.HasSuffix(n, "."+z.name) {
			return nil, invalid("RRSet with DNS name %s is not permitted in zone %s", n, z.name)
		}
		if err := f.validRecord(*rr); err != nil {
			return nil, err
		}
		stored := *rr
		stored.Name = &n
		k := key(stored)
		desc := fmt.Sprintf("[name='%s', type='%s', set-identifier='%s']", n, rr.Type, deref(rr.SetIdentifier))
		switch c.Action {
		case types.ChangeActionCreate:
			if _, ok := next[k]; ok {
				return nil, invalid("Tried to create resource record set %s but it already exists", desc)
			}
			next[k] = stored
		case types.ChangeActionUpsert:
			next[k] = stored
		case types.ChangeActionDelete:
			cur, ok := next[k]
			if !ok {
				return nil, invalid("Tried to delete resource record set %s but it was not found", desc)
			}
			if !same(cur, stored) {
				return nil, invalid("Tried to delete resource record set %s but the values provided do not match the current values", desc)
			}
			delete(next, k)
		default:
			return nil, &types.InvalidInput{Message: ptr("unknown action " + string(c.Action))}
		}
	}
	if err := consistent(next); err != nil {
		return nil, err
	}
	z.records = next
	id := f.id("C")
	f.changes[id] = f.PendingPolls
	out := &route53.ChangeResourceRecordSetsOutput{ChangeInfo: &types.ChangeInfo{Id: ptr("/change/" + id), Status: types.ChangeStatusPending, SubmittedAt: ptr(time.Unix(0, 0))}}
	return out, f.leave("ChangeResourceRecordSets")
}

func (f *Route53) validRecord(rr types.ResourceRecordSet) error {
	alias := rr.AliasTarget != nil
	switch {
	case alias && (rr.TTL != nil || len(rr.ResourceRecords) > 0):
		return &types.InvalidInput{Message: ptr("an alias record has no TTL and no ResourceRecords")}
	case !alias && (rr.TTL == nil || len(rr.ResourceRecords) == 0):
		return &types.InvalidInput{Message: ptr("a record needs a TTL and ResourceRecords")}
	case (rr.SetIdentifier != nil) != (rr.Region != ""):
		return &types.InvalidInput{Message: ptr("a set identifier needs a routing policy and the other way round")}
	case rr.HealthCheckId != nil && f.hcs[*rr.HealthCheckId] == nil:
		return &types.InvalidInput{Message: ptr("no health check " + *rr.HealthCheckId)}
	}
	return nil
}

// consistent enforces the rules that involve several records of a name,
// on the state a whole batch leaves (Route53 checks a batch as one
// transaction, so deleting a record and creating its successor in one batch
// is accepted).
func consistent(recs map[string]types.ResourceRecordSet) error {
	byName := map[string][]types.ResourceRecordSet{}
	latency := map[string]string{} // name|type|region -> set identifier
	for _, k := range sortedKeys(recs) {
		rr := recs[k]
		byName[*rr.Name] = append(byName[*rr.Name], rr)
		if rr.SetIdentifier == nil || rr.Region == "" {
			continue
		}
		// A latency record set is unique per name, type and latency region
		// (Route53 Developer Guide, "Values specific for latency records":
		// "you can create only one latency record for each combination of
		// name, type and region"); moto does not enforce it.
		lk := *rr.Name + "|" + string(rr.Type) + "|" + string(rr.Region)
		if other, dup := latency[lk]; dup {
			return invalid("Duplicate Resource Record: latency records of DNS name %s, type %s and region %s have set identifiers '%s' and '%s'; only one latency record set per name, type and region is allowed",
				*rr.Name, rr.Type, rr.Region, other, *rr.SetIdentifier)
		}
		latency[lk] = *rr.SetIdentifier
	}
	for name, rrs := range byName {
		routed := map[types.RRType]int{}
		simple := map[types.RRType]int{}
		hasCNAME := false
		for _, rr := range rrs {
			if rr.Type == types.RRTypeCname {
				hasCNAME = true
			}
			if rr.SetIdentifier != nil {
				routed[rr.Type]++
			} else {
				simple[rr.Type]++
			}
		}
		if hasCNAME && len(rrs) > 1 {
			return invalid("RRSet of type CNAME with DNS name %s is not permitted as it conflicts with other records with the same DNS name in zone", name)
		}
		for t := range routed {
			if simple[t] > 0 {
				return invalid("RRSet with DNS name %s, type %s cannot be created because a non-routed record with the same name and type exists", name, t)
			}
		}
	}
	return nil
}

func sortedKeys(recs map[string]types.ResourceRecordSet) []string {
	keys := make([]string, 0, len(recs))
	for k := range recs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func same(a, b types.ResourceRecordSet) bool {
	norm := func(r types.ResourceRecordSet) types.ResourceRecordSet {
		r.Name = ptr(canon(deref(r.Name)))
		if r.AliasTarget != nil {
			at := *r.AliasTarget
			at.DNSName = ptr(canon(deref(at.DNSName)))
			r.AliasTarget = &at
		}
		return r
	}
	return reflect.DeepEqual(norm(a), norm(b))
}

// GetChange reports PENDING for PendingPolls calls, then INSYNC.
func (f *Route53) GetChange(_ context.Context, in *route53.GetChangeInput, _ ...func(*route53.Options)) (*route53.GetChangeOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.enter("GetChange"); err != nil {
		return nil, err
	}
	id := strings.TrimPrefix(deref(in.Id), "/change/")
	left, ok := f.changes[id]
	if !ok {
		return nil, &types.NoSuchChange{Message: ptr("no change " + id)}
	}
	status := types.ChangeStatusInsync
	if left > 0 {
		status = types.ChangeStatusPending
		f.changes[id] = left - 1
	}
	return &route53.GetChangeOutput{ChangeInfo: &types.ChangeInfo{Id: ptr("/change/" + id), Status: status}}, f.leave("GetChange")
}

// ListHealthChecks pages 100 at a time by id.
func (f *Route53) ListHealthChecks(_ context.Context, in *route53.ListHealthChecksInput, _ ...func(*route53.Options)) (*route53.ListHealthChecksOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.enter("ListHealthChecks"); err != nil {
		return nil, err
	}
	var ids []string
	for id := range f.hcs {
		if in.Marker == nil || id >= *in.Marker {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	max := 100
	if in.MaxItems != nil && *in.MaxItems > 0 && int(*in.MaxItems) < max {
		max = int(*in.MaxItems)
	}
	out := &route53.ListHealthChecksOutput{MaxItems: ptr(int32(max))}
	for i, id := range ids {
		if i == max {
			out.IsTruncated, out.NextMarker = true, ptr(id)
			break
		}
		out.HealthChecks = append(out.HealthChecks, f.hcs[id].hc)
	}
	return out, f.leave("ListHealthChecks")
}

// CreateHealthCheck honours caller references as Route53 does.
func (f *Route53) CreateHealthCheck(_ context.Context, in *route53.CreateHealthCheckInput, _ ...func(*route53.Options)) (*route53.CreateHealthCheckOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.enter("CreateHealthCheck"); err != nil {
		return nil, err
	}
	ref := deref(in.CallerReference)
	if ref == "" || in.HealthCheckConfig == nil {
		return nil, &types.InvalidInput{Message: ptr("CallerReference and HealthCheckConfig are required")}
	}
	if id, used := f.refs[ref]; used {
		if id == "" || !reflect.DeepEqual(*f.hcs[id].hc.HealthCheckConfig, *in.HealthCheckConfig) {
			return nil, &types.HealthCheckAlreadyExists{Message: ptr("caller reference " + ref + " was used before")}
		}
		return &route53.CreateHealthCheckOutput{HealthCheck: ptr(f.hcs[id].hc), Location: ptr("/healthcheck/" + id)}, f.leave("CreateHealthCheck")
	}
	cfg := *in.HealthCheckConfig
	if cfg.RequestInterval == nil {
		cfg.RequestInterval = ptr(int32(30))
	}
	if cfg.FailureThreshold == nil {
		cfg.FailureThreshold = ptr(int32(3))
	}
	id := strings.ToLower(f.id("hc-"))
	f.hcs[id] = &healthCheck{hc: types.HealthCheck{Id: &id, CallerReference: &ref, HealthCheckConfig: &cfg, HealthCheckVersion: ptr(int64(1))}, tags: map[string]string{}}
	f.refs[ref] = id
	return &route53.CreateHealthCheckOutput{HealthCheck: ptr(f.hcs[id].hc), Location: ptr("/healthcheck/" + id)}, f.leave("CreateHealthCheck")
}

// UpdateHealthCheck checks the version and bumps it.
func (f *Route53) UpdateHealthCheck(_ context.Context, in *route53.UpdateHealthCheckInput, _ ...func(*route53.Options)) (*route53.UpdateHealthCheckOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.enter("UpdateHealthCheck"); err != nil {
		return nil, err
	}
	h := f.hcs[deref(in.HealthCheckId)]
	if h == nil {
		return nil, &types.NoSuchHealthCheck{Message: ptr("no health check " + deref(in.HealthCheckId))}
	}
	if in.HealthCheckVersion != nil && *in.HealthCheckVersion != *h.hc.HealthCheckVersion {
		return nil, &types.HealthCheckVersionMismatch{Message: ptr("version " + strconv.FormatInt(*in.HealthCheckVersion, 10) + " is not current")}
	}
	cfg := *h.hc.HealthCheckConfig
	if in.FullyQualifiedDomainName != nil {
		cfg.FullyQualifiedDomainName = in.FullyQualifiedDomainName
	}
	if in.Port != nil {
		cfg.Port = in.Port
	}
	if in.ResourcePath != nil {
		cfg.ResourcePath = in.ResourcePath
	}
	if in.FailureThreshold != nil {
		cfg.FailureThreshold = in.FailureThreshold
	}
	h.hc.HealthCheckConfig = &cfg
	h.hc.HealthCheckVersion = ptr(*h.hc.HealthCheckVersion + 1)
	return &route53.UpdateHealthCheckOutput{HealthCheck: ptr(h.hc)}, f.leave("UpdateHealthCheck")
}

// DeleteHealthCheck refuses to delete a check that a record uses.
func (f *Route53) DeleteHealthCheck(_ context.Context, in *route53.DeleteHealthCheckInput, _ ...func(*route53.Options)) (*route53.DeleteHealthCheckOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.enter("DeleteHealthCheck"); err != nil {
		return nil, err
	}
	id := deref(in.HealthCheckId)
	h := f.hcs[id]
	if h == nil {
		return nil, &types.NoSuchHealthCheck{Message: ptr("no health check " + id)}
	}
	for _, z := range f.zones {
		for _, rr := range z.records {
			if deref(rr.HealthCheckId) == id {
				return nil, &types.HealthCheckInUse{Message: ptr("health check " + id + " is used by " + deref(rr.Name))}
			}
		}
	}
	delete(f.hcs, id)
	f.refs[deref(h.hc.CallerReference)] = ""
	return &route53.DeleteHealthCheckOutput{}, f.leave("DeleteHealthCheck")
}

// ListTagsForResource returns a health check's tags.
func (f *Route53) ListTagsForResource(_ context.Context, in *route53.ListTagsForResourceInput, _ ...func(*route53.Options)) (*route53.ListTagsForResourceOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.enter("ListTagsForResource"); err != nil {
		return nil, err
	}
	h := f.hcs[deref(in.ResourceId)]
	if h == nil || in.ResourceType != types.TagResourceTypeHealthcheck {
		return nil, &types.NoSuchHealthCheck{Message: ptr("no health check " + deref(in.ResourceId))}
	}
	set := &types.ResourceTagSet{ResourceId: in.ResourceId, ResourceType: in.ResourceType, Tags: sortedTags(h.tags)}
	return &route53.ListTagsForResourceOutput{ResourceTagSet: set}, f.leave("ListTagsForResource")
}

// ListTagsForResources returns the tags of 1 to 10 health checks, as
// Route53 does (Route53 API Reference, ListTagsForResources: more than 10
// IDs, or none, is InvalidInput; an unknown ID is NoSuchHealthCheck).
func (f *Route53) ListTagsForResources(_ context.Context, in *route53.ListTagsForResourcesInput, _ ...func(*route53.Options)) (*route53.ListTagsForResourcesOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.enter("ListTagsForResources"); err != nil {
		return nil, err
	}
	if len(in.ResourceIds) == 0 || len(in.ResourceIds) > 10 {
		return nil, &types.InvalidInput{Message: ptr(fmt.Sprintf("ResourceIds holds %d IDs; it takes 1 to 10", len(in.ResourceIds)))}
	}
	if in.ResourceType != types.TagResourceTypeHealthcheck {
		return nil, &types.InvalidInput{Message: ptr("the fake holds tags of health checks only, not " + string(in.ResourceType))}
	}
	out := &route53.ListTagsForResourcesOutput{}
	for _, id := range in.ResourceIds {
		h := f.hcs[id]
		if h == nil {
			return nil, &types.NoSuchHealthCheck{Message: ptr("no health check " + id)}
		}
		out.ResourceTagSets = append(out.ResourceTagSets, types.ResourceTagSet{ResourceId: ptr(id), ResourceType: in.ResourceType, Tags: sortedTags(h.tags)})
	}
	return out, f.leave("ListTagsForResources")
}

// sortedTags returns tags as Route53 tags, sorted by key.
func sortedTags(tags map[string]string) []types.Tag {
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []types.Tag
	for _, k := range keys {
		out = append(out, types.Tag{Key: ptr(k), Value: ptr(tags[k])})
	}
	return out
}

// ChangeTagsForResource adds and removes health check tags.
func (f *Route53) ChangeTagsForResource(_ context.Context, in *route53.ChangeTagsForResourceInput, _ ...func(*route53.Options)) (*route53.ChangeTagsForResourceOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.enter("ChangeTagsForResource"); err != nil {
		return nil, err
	}
	h := f.hcs[deref(in.ResourceId)]
	if h == nil || in.ResourceType != types.TagResourceTypeHealthcheck {
		return nil, &types.NoSuchHealthCheck{Message: ptr("no health check " + deref(in.ResourceId))}
	}
	if len(in.AddTags) > 10 {
		return nil, &types.InvalidInput{Message: ptr("at most 10 tags per request")}
	}
	for _, t := range in.AddTags {
		h.tags[deref(t.Key)] = deref(t.Value)
	}
	for _, k := range in.RemoveTagKeys {
		delete(h.tags, k)
	}
	return &route53.ChangeTagsForResourceOutput{}, f.leave("ChangeTagsForResource")
}

func deref[T any](p *T) T {
	var z T
	if p == nil {
		return z
	}
	return *p
}

func ptr[T any](v T) *T { return &v }

// GetHealthCheckStatus reports one checker observing the health check as
// healthy, as moto does.
func (f *Route53) GetHealthCheckStatus(_ context.Context, in *route53.GetHealthCheckStatusInput, _ ...func(*route53.Options)) (*route53.GetHealthCheckStatusOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.enter("GetHealthCheckStatus"); err != nil {
		return nil, err
	}
	if f.hcs[deref(in.HealthCheckId)] == nil {
		return nil, &types.NoSuchHealthCheck{Message: ptr("no health check " + deref(in.HealthCheckId))}
	}
	return &route53.GetHealthCheckStatusOutput{HealthCheckObservations: []types.HealthCheckObservation{{
		Region: types.HealthCheckRegionUsEast1, StatusReport: &types.StatusReport{Status: ptr("Success: HTTP Status Code: 200. OK")},
	}}}, nil
}
