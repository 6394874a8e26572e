package sync

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"maps"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"

	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"
	"github.com/coderfleet/coderfleet/awsstate"
)

// Action is what a change does.
type Action string

// The actions of a plan.
const (
	// Create makes a new object.
	Create Action = "create"
	// Update changes an object in place.
	Update Action = "update"
	// Delete removes an owned object.
	Delete Action = "delete"
)

// Resource kinds of a change.
const (
	ResourceCertificate = "certificate"
	ResourceHealthCheck = "health-check"
	ResourceRecord      = "record"
)

// knownAfterApply stands for a value that only exists once an earlier change is made.
const knownAfterApply = "(known after apply)"

// Field is one attribute of a change; Old is empty for a create, New for a delete.
type Field struct {
	Name string `json:"name"`
	Old  string `json:"old,omitempty"`
	New  string `json:"new,omitempty"`
}

// Change is one planned create, update or delete.
type Change struct {
	Action   Action  `json:"action"`
	Resource string  `json:"resource"`
	Region   string  `json:"region,omitempty"`
	Address  string  `json:"address"`
	Reason   string  `json:"reason,omitempty"`
	Fields   []Field `json:"fields,omitempty"`

	cert *certOp
	hc   *hcOp
	rec  *recOp
}

type certOp struct {
	fleet, region string
	desired       awsstate.Certificate
	arn           string
}

type hcOp struct {
	fleet, region string
	desired       awsstate.HealthCheck
	actual        *HealthCheck
}

type recOp struct {
	zoneID  string
	changes []r53types.Change
	pending bool
	// registry marks the change of the fleet's registry record, applied
	// before any certificate is requested.
	registry bool
	// src locates the desired record in the repository for errors:
	// "regions/<r>/aws/records.yaml:<line>: records[<i>]".
	src string
}

// Waiting is a record that cannot be made yet because its load balancer does
// not exist.
type Waiting struct {
	Region    string `json:"region"`
	Record    string `json:"record"`
	Service   string `json:"service"`
	Cluster   string `json:"cluster"`
	AWSRegion string `json:"awsRegion"`
}

// Conflict is a desired record that collides with a record coderfleet does not own.
type Conflict struct {
	Zone   string `json:"zone"`
	Record string `json:"record"`
	Reason string `json:"reason"`
}

// Plan is the difference between desired and actual state, as plain data.
type Plan struct {
	Changes   []Change   `json:"changes"`
	Waiting   []Waiting  `json:"waiting"`
	Conflicts []Conflict `json:"conflicts"`
	// Notes tell about owned objects kept because --prune was not given and
	// similar decisions.
	Notes []string `json:"notes"`
	// Outputs lists the overlays/<region>/outputs.yaml files apply would
	// rewrite because they do not list exactly the issued certificates;
	// each has a note.
	Outputs []string `json:"outputs"`
	// Kept counts the owned objects outside the desired state (left out of
	// it, or of a region folder that no longer exists) that stay because
	// --prune was not given; each has a note.
	Kept int `json:"kept"`
}

// Counts returns the number of creates, updates and deletes.
func (p *Plan) Counts() (add, change, destroy int) {
	for _, c := range p.Changes {
		switch c.Action {
		case Create:
			add++
		case Update:
			change++
		case Delete:
			destroy++
		}
	}
	return
}

// Converged reports whether nothing is left to do: p.Status() is
// StatusConverged.
func (p *Plan) Converged() bool {
	return p.Status() == StatusConverged
}

// Status is the one classification of a plan. The text summary line, the
// "status" of the JSON plan and the exit code of sync plan
// --detailed-exitcode (0 for StatusConverged, 2 otherwise) all derive from
// it, so they always say the same thing.
type Status string

// The statuses of a plan, from the most to the least urgent; a plan has the
// first that applies.
const (
	// StatusConflicts: desired records collide with records coderfleet does
	// not own; apply makes every other change, then fails listing them.
	StatusConflicts Status = "conflicts"
	// StatusChangesPending: apply would create, change or delete objects,
	// or rewrite an overlays/<region>/outputs.yaml.
	StatusChangesPending Status = "changes-pending"
	// StatusWaiting: nothing can be done now, but records wait for their
	// load balancers; apply again once Flux has applied regions/.
	StatusWaiting Status = "waiting"
	// StatusConverged: AWS and the outputs files match the desired state.
	// Owned objects only --prune would delete (Kept) do not count: apply
	// without --prune would not touch them.
	StatusConverged Status = "converged"
)

// Status classifies p (see Status).
func (p *Plan) Status() Status {
	switch {
	case len(p.Conflicts) > 0:
		return StatusConflicts
	case len(p.Changes) > 0 || len(p.Outputs) > 0:
		return StatusChangesPending
	case len(p.Waiting) > 0:
		return StatusWaiting
	default:
		return StatusConverged
	}
}

// MarshalJSON encodes p with its Status as "status", so that JSON readers
// need not re-derive it.
func (p *Plan) MarshalJSON() ([]byte, error) {
	type plain Plan
	return json.Marshal(struct {
		Status Status `json:"status"`
		*plain
	}{p.Status(), (*plain)(p)})
}

// Policy holds the switches of Compute.
type Policy struct {
	// Prune allows deleting owned objects that left the desired state.
	Prune bool
}

var usableCertStatus = map[string]bool{"ISSUED": true, "PENDING_VALIDATION": true}

// Compute is the pure planning function: desired and actual state in, plan
// out. It never deletes or changes what coderfleet does not own.
func Compute(d *Desired, a *Actual, pol Policy) *Plan {
	p := &Plan{Changes: []Change{}, Waiting: []Waiting{}, Conflicts: []Conflict{}, Notes: []string{}, Outputs: []string{}}
	var certChanges, hcChanges, recChanges, hcDeletes, certDeletes, registry []Change

	// Certificates.
	current := map[string]*Certificate{}
	wantCert := map[string]bool{}
	for _, r := range d.Regions {
		for _, c := range r.Certificates {
			addr := r.Region + "/" + c.Name
			wantCert[addr] = true
			if best := bestCertificate(a, r.Region, c); best != nil {
				current[addr] = best
				continue
			}
			certChanges = append(certChanges, Change{
				Action: Create, Resource: ResourceCertificate, Region: r.Region, Address: addr,
				Fields: certFields(c),
				cert:   &certOp{fleet: d.Fleet, region: r.Region, desired: c},
			})
		}
	}
	for i := range a.Certificates {
		ac := &a.Certificates[i]
		addr := ac.Region + "/" + ac.Name
		if current[addr] == ac {
			continue
		}
		reason := "superseded by a certificate with other names or a failed status"
		if !wantCert[addr] {
			reason = goneReason(d, ac.Region)
		}
		switch {
		case !pol.Prune:
			p.Kept++
			p.Notes = append(p.Notes, fmt.Sprintf("certificate %s (%s) is %s; kept (use --prune to delete it)", addr, ac.ARN, reason))
		case ac.InUse:
			p.Notes = append(p.Notes, fmt.Sprintf("certificate %s (%s) is %s but still in use by a load balancer; kept until the Service uses the new one (render, commit, let Flux apply, then sync again)", addr, ac.ARN, reason))
		default:
			certDeletes = append(certDeletes, Change{Action: Delete, Resource: ResourceCertificate, Region: ac.Region, Address: addr, Reason: reason,
				Fields: []Field{{Name: "arn", Old: ac.ARN}, {Name: "domain", Old: ac.DomainName}},
				cert:   &certOp{region: ac.Region, arn: ac.ARN, desired: awsstate.Certificate{AWSRegion: ac.AWSRegion}}})
		}
	}

	// Health checks.
	hcID := map[string]string{}
	keptHC := map[string]bool{}
	wantHC := map[string]bool{}
	for _, r := range d.Regions {
		for _, h := range r.HealthChecks {
			addr := r.Region + "/" + h.Name
			wantHC[addr] = true
			var cur *HealthCheck
			for i := range a.HealthChecks {
				ah := &a.HealthChecks[i]
				if ah.Region == r.Region && ah.Name == h.Name && hcConfigString(ah.Config) == hcConfigString(h) {
					cur = ah
					break
				}
			}
			if cur == nil {
				hcID[addr] = knownAfterApply
				hcChanges = append(hcChanges, Change{Action: Create, Resource: ResourceHealthCheck, Region: r.Region, Address: addr,
					Fields: hcFields(nil, h), hc: &hcOp{fleet: d.Fleet, region: r.Region, desired: h}})
				continue
			}
			keptHC[cur.ID] = true
			hcID[addr] = cur.ID
			fields := hcFields(&cur.Config, h)
			if !sameTags(cur.Config.Tags, h.Tags) {
				fields = append(fields, Field{Name: "tags", Old: tagString(cur.Config.Tags), New: tagString(h.Tags)})
			}
			if len(fields) > 0 {
				hcChanges = append(hcChanges, Change{Action: Update, Resource: ResourceHealthCheck, Region: r.Region, Address: addr + " (" + cur.ID + ")",
					Fields: fields, hc: &hcOp{fleet: d.Fleet, region: r.Region, desired: h, actual: cur}})
			}
		}
	}
	for i := range a.HealthChecks {
		ah := &a.HealthChecks[i]
		addr := ah.Region + "/" + ah.Name
		if keptHC[ah.ID] {
			continue
		}
		del := Change{Action: Delete, Resource: ResourceHealthCheck, Region: ah.Region, Address: addr + " (" + ah.ID + ")",
			Fields: []Field{{Name: "fqdn", Old: ah.Config.FQDN}}, hc: &hcOp{region: ah.Region, actual: ah}}
		switch {
		case wantHC[addr]:
			del.Reason = "replaced (type, interval or latency measurement changed, or a duplicate)"
			hcDeletes = append(hcDeletes, del)
		case pol.Prune:
			del.Reason = goneReason(d, ah.Region)
			hcDeletes = append(hcDeletes, del)
		default:
			p.Kept++
			p.Notes = append(p.Notes, fmt.Sprintf("health check %s (%s) is %s; kept (use --prune to delete it)", addr, ah.ID, goneReason(d, ah.Region)))
		}
	}

	// Records, zone by zone.
	zones := map[string][]RegionState{}
	for _, r := range d.Regions {
		zones[r.HostedZone] = append(zones[r.HostedZone], r)
	}
	for _, zn := range slices.Sorted(maps.Keys(zones)) {
		z := a.Zones[zn]
		if z == nil {
			z = &Zone{Name: zn}
		}
		recChanges = append(recChanges, planZone(p, d, z, zones[zn], a, current, hcID, pol)...)
		if c := planRegistry(p, d, z, a); c != nil {
			registry = append(registry, *c)
		}
	}

	p.Changes = append(p.Changes, registry...)
	p.Changes = append(p.Changes, certChanges...)
	p.Changes = append(p.Changes, hcChanges...)
	p.Changes = append(p.Changes, recChanges...)
	p.Changes = append(p.Changes, hcDeletes...)
	p.Changes = append(p.Changes, certDeletes...)
	return p
}

// goneReason says why an owned object of region is no longer desired.
func goneReason(d *Desired, region string) string {
	if !d.loaded(region) {
		return "an orphan: its region folder regions/" + region + " no longer exists"
	}
	return "no longer in the desired state"
}

type desiredRecord struct {
	rec        Record
	region     string
	validation bool
	pendingHC  bool
	src        string
}

func planZone(p *Plan, d *Desired, z *Zone, regions []RegionState, a *Actual, certs map[string]*Certificate, hcID map[string]string, pol Policy) []Change {
	fleet := d.Fleet
	want := map[string]*desiredRecord{}
	protected := map[string]bool{}
	for _, r := range regions {
		for i, rec := range r.Records {
			ref := LBRef{AWSRegion: rec.Alias.AWSRegion, Cluster: rec.Alias.Cluster, Service: rec.Alias.Service}
			lb, ok := a.LoadBalancers[ref.String()]
			if !ok {
				p.Waiting = append(p.Waiting, Waiting{Region: r.Region, Record: rec.Key(), Service: rec.Alias.Service, Cluster: rec.Alias.Cluster, AWSRegion: rec.Alias.AWSRegion})
				protected[rec.Key()] = true
				continue
			}
			dr := &desiredRecord{region: r.Region, src: recordSource(r.Region, i, rec.Line), rec: Record{
				Name: strings.ToLower(rec.Name), Type: rec.Type, SetIdentifier: rec.SetIdentifier, Region: rec.Routing.AWSRegion,
				Alias: &AliasTarget{DNSName: lb.DNSName, HostedZoneID: lb.HostedZoneID, EvaluateTargetHealth: rec.Alias.EvaluateTargetHealth},
			}}
			if rec.HealthCheck != "" {
				dr.rec.HealthCheckID = hcID[r.Region+"/"+rec.HealthCheck]
				dr.pendingHC = dr.rec.HealthCheckID == knownAfterApply
			}
			want[dr.rec.Key()] = dr
		}
		for i, c := range r.Certificates {
			cur := certs[r.Region+"/"+c.Name]
			if cur == nil {
				continue
			}
			for _, v := range cur.Validation {
				rec := Record{Name: v.Name, Type: "CNAME", TTL: c.Validation.TTL, Values: []string{v.Value}}
				if _, dup := want[rec.Key()]; !dup {
					want[rec.Key()] = &desiredRecord{rec: rec, region: r.Region, validation: true,
						src: fmt.Sprintf("regions/%s/aws/%s: certificates[%d] (its validation record)", r.Region, awsstate.CertificatesFile, i)}
				}
			}
		}
	}

	actual := map[string]Record{}
	byName := map[string][]Record{}
	for _, r := range z.Records {
		actual[r.Key()] = r
		byName[r.Name] = append(byName[r.Name], r)
	}
	// owners maps an owned record key to the TXT record that marks it.
	owners := map[string]Record{}
	ownerRegion := map[string]string{}
	for _, r := range z.Records {
		if r.Type != "TXT" || len(r.Values) != 1 {
			continue
		}
		name, typ, ok := ownedName(r.Name)
		if !ok {
			continue
		}
		f, region, ok := parseOwner(r.Values[0])
		if !ok || f != fleet {
			continue
		}
		k := awsstate.RecordKey(name, typ, r.SetIdentifier)
		owners[k], ownerRegion[k] = r, region
	}

	var deletes, creates, updates []Change
	for _, k := range slices.Sorted(maps.Keys(want)) {
		dr := want[k]
		rec := dr.rec
		act, exists := actual[k]
		_, owned := owners[k]
		if exists && !owned {
			if !rec.equal(act) {
				p.Conflicts = append(p.Conflicts, Conflict{Zone: z.Name, Record: k,
					Reason: "a record coderfleet does not own exists with other values; delete it (or add its ownership TXT record) to let coderfleet manage it"})
			}
			continue
		}
		if !exists {
			if why := blocked(rec, byName[rec.Name], owners); why != "" {
				p.Conflicts = append(p.Conflicts, Conflict{Zone: z.Name, Record: k, Reason: why})
				continue
			}
			ownerKey := awsstate.RecordKey(ownerName(rec.Name, rec.Type), "TXT", rec.SetIdentifier)
			if ot, ok := actual[ownerKey]; ok && !owned {
				p.Conflicts = append(p.Conflicts, Conflict{Zone: z.Name, Record: k,
					Reason: fmt.Sprintf("the ownership record name %s is taken by a TXT record coderfleet does not own (%s)", ot.Name, strings.Join(ot.Values, " "))})
				continue
			}
		}
		if exists && rec.equal(act) && (ownerRegion[k] == dr.region || dr.validation) {
			continue
		}
		c := Change{Resource: ResourceRecord, Region: dr.region, Address: z.Name + ": " + k, rec: &recOp{zoneID: z.ID, pending: dr.pendingHC, src: dr.src}}
		owner := ownerRecord(rec, fleet, dr.region)
		switch {
		case !exists:
			c.Action = Create
			c.Fields = recordFields(nil, &rec)
			if dr.validation {
				c.Reason = "certificate validation"
			}
			recAction, txtAction := r53types.ChangeActionCreate, r53types.ChangeActionCreate
			if dr.validation {
				recAction = r53types.ChangeActionUpsert
			}
			if owned || dr.validation {
				txtAction = r53types.ChangeActionUpsert
			}
			c.rec.changes = []r53types.Change{{Action: recAction, ResourceRecordSet: rec.toRoute53()}, {Action: txtAction, ResourceRecordSet: owner.toRoute53()}}
			creates = append(creates, c)
		default:
			c.Action = Update
			c.Fields = recordFields(&act, &rec)
			if len(c.Fields) == 0 {
				c.Fields = []Field{{Name: "owner", Old: ownerRegion[k], New: dr.region}}
			}
			c.rec.changes = []r53types.Change{{Action: r53types.ChangeActionUpsert, ResourceRecordSet: rec.toRoute53()}, {Action: r53types.ChangeActionUpsert, ResourceRecordSet: owner.toRoute53()}}
			updates = append(updates, c)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(owners)) {
		if _, ok := want[k]; ok || protected[k] || !d.inScope(ownerRegion[k]) {
			continue
		}
		txt := owners[k]
		act, exists := actual[k]
		if !pol.Prune {
			p.Kept++
			p.Notes = append(p.Notes, fmt.Sprintf("record %s: %s is owned by region %s and %s; kept (use --prune to delete it)", z.Name, k, ownerRegion[k], goneReason(d, ownerRegion[k])))
			continue
		}
		c := Change{Action: Delete, Resource: ResourceRecord, Region: ownerRegion[k], Address: z.Name + ": " + k, Reason: goneReason(d, ownerRegion[k]), rec: &recOp{zoneID: z.ID}}
		if exists {
			c.Fields = recordFields(&act, nil)
			c.rec.changes = append(c.rec.changes, r53types.Change{Action: r53types.ChangeActionDelete, ResourceRecordSet: act.Raw})
		}
		c.rec.changes = append(c.rec.changes, r53types.Change{Action: r53types.ChangeActionDelete, ResourceRecordSet: txt.Raw})
		deletes = append(deletes, c)
	}
	out := append(deletes, creates...)
	return append(out, updates...)
}

// recordSource locates record i of region's records.yaml: file, line and key.
func recordSource(region string, i, line int) string {
	file := "regions/" + region + "/aws/" + awsstate.RecordsFile
	if line > 0 {
		file += ":" + strconv.Itoa(line)
	}
	return fmt.Sprintf("%s: records[%d]", file, i)
}

// blocked says why Route53 would refuse a new record next to the existing
// records of the same name, or "".
func blocked(rec Record, same []Record, owners map[string]Record) string {
	for _, o := range same {
		_, owned := owners[o.Key()]
		switch {
		case o.Type == "CNAME" && rec.Type != "CNAME":
			return fmt.Sprintf("a CNAME record exists at %s; no other record can share its name", o.Name)
		case rec.Type == "CNAME" && o.Type != "CNAME" && o.Type != "NS" && o.Type != "SOA":
			return fmt.Sprintf("a %s record exists at %s; a CNAME cannot share its name", o.Type, o.Name)
		case o.Type == rec.Type && (o.SetIdentifier == "") != (rec.SetIdentifier == "") && !owned:
			if o.SetIdentifier == "" {
				return fmt.Sprintf("a simple %s record coderfleet does not own exists at %s; latency records cannot share its name and type", o.Type, o.Name)
			}
			return fmt.Sprintf("routed %s records (set identifier %q) coderfleet does not own exist at %s; a simple record cannot share their name and type", o.Type, o.SetIdentifier, o.Name)
		}
	}
	return ""
}

func sameNames(a *Certificate, c awsstate.Certificate) bool {
	if a.DomainName != c.DomainName {
		return false
	}
	x := append([]string(nil), a.SANs...)
	y := []string{}
	for _, s := range c.SubjectAlternativeNames {
		if s != c.DomainName {
			y = append(y, s)
		}
	}
	sort.Strings(x)
	sort.Strings(y)
	return strings.Join(x, ",") == strings.Join(y, ",")
}

func hcFields(old *awsstate.HealthCheck, h awsstate.HealthCheck) []Field {
	var o awsstate.HealthCheck
	if old != nil {
		o = *old
	}
	var out []Field
	add := func(name, ov, nv string) {
		if old == nil || ov != nv {
			if old == nil {
				ov = ""
			}
			out = append(out, Field{Name: name, Old: ov, New: nv})
		}
	}
	add("type", o.Type, h.Type)
	add("fqdn", o.FQDN, h.FQDN)
	add("port", itoa(int64(o.Port)), itoa(int64(h.Port)))
	add("path", o.ResourcePath, h.ResourcePath)
	add("interval", itoa(int64(o.RequestInterval)), itoa(int64(h.RequestInterval)))
	add("failure-threshold", itoa(int64(o.FailureThreshold)), itoa(int64(h.FailureThreshold)))
	add("measure-latency", strconv.FormatBool(o.MeasureLatency), strconv.FormatBool(h.MeasureLatency))
	return out
}

func recordFields(old, rec *Record) []Field {
	get := func(r *Record) map[string]string {
		m := map[string]string{}
		if r == nil {
			return m
		}
		if r.Region != "" {
			m["routing"] = "latency " + r.Region
		} else {
			m["routing"] = "simple"
		}
		if r.Alias != nil {
			m["alias"] = fmt.Sprintf("%s (zone %s, evaluate health %t)", r.Alias.DNSName, r.Alias.HostedZoneID, r.Alias.EvaluateTargetHealth)
		} else {
			m["ttl"] = itoa(r.TTL)
			m["value"] = strings.Join(r.Values, " ")
		}
		if r.HealthCheckID != "" {
			m["health-check"] = r.HealthCheckID
		}
		return m
	}
	o, n := get(old), get(rec)
	var out []Field
	for _, name := range []string{"routing", "alias", "ttl", "value", "health-check"} {
		if o[name] != n[name] {
			out = append(out, Field{Name: name, Old: o[name], New: n[name]})
		}
	}
	return out
}

func sameTags(have, want map[string]string) bool {
	for k, v := range want {
		if have[k] != v {
			return false
		}
	}
	return true
}

func tagString(m map[string]string) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, k+"="+m[k])
	}
	return strings.Join(parts, ",")
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func certFields(c awsstate.Certificate) []Field {
	f := []Field{{Name: "domain", New: c.DomainName}}
	if len(c.SubjectAlternativeNames) > 0 {
		f = append(f, Field{Name: "sans", New: strings.Join(c.SubjectAlternativeNames, ", ")})
	}
	return append(f, Field{Name: "aws-region", New: c.AWSRegion},
		Field{Name: "validation", New: "DNS in " + c.Validation.HostedZone + ", records " + knownAfterApply})
}

// bestCertificate is the certificate of a that serves the desired
// certificate c of region: one with c's names in a usable status, an ISSUED
// one first; nil when there is none.
func bestCertificate(a *Actual, region string, c awsstate.Certificate) *Certificate {
	var best *Certificate
	for i := range a.Certificates {
		ac := &a.Certificates[i]
		if ac.Region != region || ac.Name != c.Name || ac.AWSRegion != c.AWSRegion || !usableCertStatus[ac.Status] || !sameNames(ac, c) {
			continue
		}
		if best == nil || (best.Status != "ISSUED" && ac.Status == "ISSUED") {
			best = ac
		}
	}
	return best
}

// outputsPath is the outputs file of a region folder, slash-separated.
func outputsPath(region string) string { return path.Join("overlays", region, "outputs.yaml") }

// planOutputs adds to p the outputs files apply would rewrite, each with a
// note naming what it lacks: those of d's regions whose desired
// certificates are all ISSUED in a (so the content apply writes is known
// now) and that differ from that content, a missing file included. A region
// with a certificate still to create or to wait for gets its file written
// after that, which the plan already shows as a change or not at all.
func planOutputs(p *Plan, repo fs.FS, d *Desired, a *Actual) {
regions:
	for _, r := range d.Regions {
		o := awsstate.Outputs{Certificates: map[string]string{}}
		for _, c := range r.Certificates {
			cur := bestCertificate(a, r.Region, c)
			if cur == nil || cur.Status != "ISSUED" {
				continue regions
			}
			o.Certificates[c.Name] = cur.ARN
		}
		file := outputsPath(r.Region)
		old, err := fs.ReadFile(repo, file)
		if err == nil && string(old) == string(awsstate.MarshalOutputs(o)) {
			continue
		}
		var have map[string]string
		if err == nil {
			if parsed, perr := awsstate.ParseOutputs(file, old); perr == nil {
				have = parsed.Certificates
			}
		}
		var lacks []string
		for _, name := range slices.Sorted(maps.Keys(o.Certificates)) {
			if have[name] != o.Certificates[name] {
				lacks = append(lacks, fmt.Sprintf("%s (%s)", name, o.Certificates[name]))
			}
		}
		what := "does not list exactly the issued certificates"
		switch {
		case len(lacks) > 0:
			what = "lacks the ARN of issued certificate(s) " + strings.Join(lacks, ", ")
		case err != nil:
			what = "does not exist"
		}
		p.Outputs = append(p.Outputs, file)
		p.Notes = append(p.Notes, fmt.Sprintf("%s %s; sync apply writes it (then run coderfleet render and commit)", file, what))
	}
}
