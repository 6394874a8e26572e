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
	// ResourceRole is an IAM role for a service account (roles.yaml).
	ResourceRole = "iam-role"
	// ResourceSecret is a Secrets Manager secret (secrets.yaml).
	ResourceSecret = "secret"
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

	cert   *certOp
	hc     *hcOp
	rec    *recOp
	role   *roleOp
	secret *secretOp
	coder  *coderOp
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
	// validation marks a certificate's DNS validation CNAME.
	validation bool
	// src locates the desired record in the repository for errors:
	// "regions/<r>/aws/records.yaml:<line>: records[<i>]".
	src string
}

// Waiting is a record that cannot be made yet because its load balancer does
// not exist, or (Role set) an IAM role whose EKS cluster does not exist yet,
// so that its trust policy is known only after the cluster is made.
type Waiting struct {
	Region string `json:"region"`
	Record string `json:"record,omitempty"`
	// Role is the name of a waiting IAM role; Record and Service are empty then.
	Role string `json:"role,omitempty"`
	// ServiceAccount is the waiting role's ServiceAccount, namespace/name.
	ServiceAccount string `json:"serviceAccount,omitempty"`
	Service        string `json:"service,omitempty"`
	Cluster        string `json:"cluster"`
	AWSRegion      string `json:"awsRegion"`
}

// Conflict is a desired object that collides with one coderfleet does not
// own: a record (Resource empty; Zone is its hosted zone), an IAM role
// (ResourceRole) or a secret (ResourceSecret; Zone is its AWS region).
// Record is the record key, or the role's or secret's region/name.
type Conflict struct {
	Resource string `json:"resource,omitempty"`
	Zone     string `json:"zone"`
	Record   string `json:"record"`
	Reason   string `json:"reason"`
}

// String words c as one line: "<zone>: <record>: <reason>" for a record,
// "<kind> <region>/<name>[ (<aws region>)]: <reason>" for a role or secret.
func (c Conflict) String() string {
	switch c.Resource {
	case "":
		return fmt.Sprintf("%s: %s: %s", c.Zone, c.Record, c.Reason)
	case ResourceSecret:
		return fmt.Sprintf("%s %s (%s): %s", c.Resource, c.Record, c.Zone, c.Reason)
	default:
		return fmt.Sprintf("%s %s: %s", c.Resource, c.Record, c.Reason)
	}
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
	// KnownAfterApply lists the DNS validation CNAMEs of the certificates
	// the plan requests: ACM names them only once a certificate exists, so
	// their name and value are "(known after apply)". They are counted apart
	// from Changes (Counts), as Apply reports them apart (Result.Counts).
	// Not part of the -o json document.
	KnownAfterApply []Change `json:"-"`
	// Kept counts the owned objects outside the desired state (left out of
	// it, or of a region folder that no longer exists) that stay because
	// --prune was not given; each has a note.
	Kept int `json:"kept"`
	// Coder is the Coder part: whether it was skipped, what the desired
	// state lists, and each desired workspace proxy as coderd reports it.
	Coder *CoderPlan `json:"coder"`

	// basis is what PlanChanges computed the plan from (for Save).
	basis *planBasis
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
	// ReissueTokens allows re-issuing the token of a Coder object whose
	// token secret lost its value, and adopting a Coder object of a desired
	// name that no token secret of the fleet names (re-issuing its token).
	ReissueTokens bool
}

var usableCertStatus = map[string]bool{"ISSUED": true, "PENDING_VALIDATION": true}

// Compute is the pure planning function: desired and actual state in, plan
// out. It never deletes or changes what coderfleet does not own. As in
// external-dns, each kind of object has its own small planner, and records
// are planned against the owners the zone's ownership TXT records name
// (readOwners). The changes come in the order Apply makes them: the
// registry of AWS regions, certificates, health checks, records, then the
// deletions of health checks and certificates that records no longer use.
func Compute(d *Desired, a *Actual, pol Policy) *Plan {
	p := &Plan{Changes: []Change{}, Waiting: []Waiting{}, Conflicts: []Conflict{}, Notes: []string{}, Outputs: []string{}}
	certs := planCertificates(p, d, a, pol)
	p.KnownAfterApply = planValidationUnknowns(certs, a, d.Fleet)
	hcs := planHealthChecks(p, d, a, pol)
	var records, registry []Change
	zones := map[string][]RegionState{}
	for _, r := range d.Regions {
		zones[r.HostedZone] = append(zones[r.HostedZone], r)
	}
	for _, zn := range slices.Sorted(maps.Keys(zones)) {
		z := a.Zones[zn]
		if z == nil {
			z = &Zone{Name: zn}
		}
		zp := &zonePlan{plan: p, d: d, z: z, owners: readOwners(z.Records, d.Fleet), pol: pol}
		zp.desire(zones[zn], a, certs.current, hcs.ids)
		records = append(records, zp.changes()...)
		if c := planRegistry(p, d, z, a); c != nil {
			registry = append(registry, *c)
		}
	}
	roles, roleDeletes := planRoles(p, d, a, pol)
	secrets, secretDeletes := planSecrets(p, d, a, pol)
	coder, coderDeletes := planCoder(p, d, a, pol)
	p.Changes = slices.Concat(registry, certs.creates, hcs.changes, roles, secrets, coder, records, hcs.deletes, certs.deletes, roleDeletes, secretDeletes, coderDeletes)
	return p
}

// goneReason says why an owned object of region is no longer desired.
func goneReason(d *Desired, region string) string {
	if !d.loaded(region) {
		return "an orphan: its region folder regions/" + region + " no longer exists"
	}
	return "no longer in the desired state"
}

// recordSource locates record i of region's records.yaml: file, line and key.
func recordSource(region string, i, line int) string {
	file := "regions/" + region + "/aws/" + awsstate.RecordsFile
	if line > 0 {
		file += ":" + strconv.Itoa(line)
	}
	return fmt.Sprintf("%s: records[%d]", file, i)
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
