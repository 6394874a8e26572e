package sync

import (
	"strconv"
	"strings"

	"github.com/coderfleet/coderfleet/internal/jsonout"
)

// The schema versions of `sync plan -o json` and `sync apply -o json`
// (docs/json.md, docs/schemas/).
var (
	PlanSchema  = jsonout.Schema("sync-plan")
	ApplySchema = jsonout.Schema("sync-apply")
)

// planBody is a plan as JSON: the text plan's data with typed values and
// resources addressed as jsonout.Resource.
type planBody struct {
	Status  Status       `json:"status"`
	Summary planSummary  `json:"summary"`
	Changes []jsonChange `json:"changes"`
	// KnownAfterApply are the DNS validation CNAMEs of the certificates to
	// request: their names and values exist only once ACM has the request
	// (Plan.KnownAfterApply); counted apart from add, as the text plan does.
	KnownAfterApply []jsonChange   `json:"knownAfterApply"`
	Waiting         []jsonWaiting  `json:"waiting"`
	Conflicts       []jsonConflict `json:"conflicts"`
	Notes           []string       `json:"notes"`
	Outputs         []string       `json:"outputs"`
	Coder           jsonCoder      `json:"coder"`
}

// jsonCoder is the Coder part of a plan (CoderPlan).
type jsonCoder struct {
	// Skipped: the run had no coderd (no CODER_URL).
	Skipped        bool             `json:"skipped"`
	DesiredProxies int              `json:"desiredProxies"`
	DesiredKeys    int              `json:"desiredKeys"`
	Proxies        []jsonProxyState `json:"proxies"`
}

// jsonProxyState is one desired proxy as coderd reports it.
type jsonProxyState struct {
	Resource   jsonout.Resource `json:"resource"`
	Registered bool             `json:"registered"`
	// Status is coderd's status, null when not registered.
	Status *string `json:"status"`
}

// planSummary counts a plan as its text summary line does.
type planSummary struct {
	Add     int `json:"add"`
	Change  int `json:"change"`
	Destroy int `json:"destroy"`
	// KnownAfterApply counts the validation CNAMEs to add (not in Add).
	KnownAfterApply int `json:"knownAfterApply"`
	Outputs         int `json:"outputs"`
	Waiting         int `json:"waiting"`
	Conflicts       int `json:"conflicts"`
	Kept            int `json:"kept"`
	Notes           int `json:"notes"`
}

type planDocument struct {
	SchemaVersion string `json:"schemaVersion"`
	planBody
}

type jsonChange struct {
	Action   Action           `json:"action"`
	Resource jsonout.Resource `json:"resource"`
	// Zone is a record's hosted zone; null for other kinds.
	Zone   *string     `json:"zone"`
	Reason *string     `json:"reason"`
	Fields []jsonField `json:"fields"`
}

type jsonField struct {
	Name string `json:"name"`
	Old  any    `json:"old"`
	New  any    `json:"new"`
	// KnownAfterApply: New is null because the value exists only once an
	// earlier change of the plan is made (a new health check's ID).
	KnownAfterApply bool `json:"knownAfterApply"`
}

type jsonWaiting struct {
	Resource jsonout.Resource `json:"resource"`
	// Service is a waiting record's Service; "" for a role.
	Service string `json:"service"`
	// ServiceAccount is a waiting role's ServiceAccount; omitted for a record.
	ServiceAccount string `json:"serviceAccount,omitempty"`
	Cluster        string `json:"cluster"`
	AWSRegion      string `json:"awsRegion"`
}

type jsonConflict struct {
	Resource jsonout.Resource `json:"resource"`
	Zone     string           `json:"zone"`
	Reason   string           `json:"reason"`
}

// newPlanBody converts p; it reads only p's exported data.
func newPlanBody(p *Plan) planBody {
	add, change, destroy := p.Counts()
	b := planBody{
		Status: p.Status(),
		Summary: planSummary{Add: add, Change: change, Destroy: destroy, KnownAfterApply: len(p.KnownAfterApply),
			Outputs: len(p.Outputs), Waiting: len(p.Waiting), Conflicts: len(p.Conflicts), Kept: p.Kept, Notes: len(p.Notes)},
		Changes:         jsonChanges(p.Changes),
		KnownAfterApply: jsonChanges(p.KnownAfterApply),
		Waiting:         make([]jsonWaiting, 0, len(p.Waiting)),
		Conflicts:       make([]jsonConflict, 0, len(p.Conflicts)),
		Notes:           append([]string{}, p.Notes...),
		Outputs:         append([]string{}, p.Outputs...),
	}
	b.Coder = jsonCoder{Skipped: true, Proxies: []jsonProxyState{}}
	if c := p.Coder; c != nil {
		b.Coder.Skipped, b.Coder.DesiredProxies, b.Coder.DesiredKeys = c.Skipped, c.DesiredProxies, c.DesiredKeys
		for _, ps := range c.Proxies {
			jp := jsonProxyState{Resource: jsonout.NewResource(ps.Region, jsonout.KindWorkspaceProxy, ps.Name, ""), Registered: ps.Registered}
			if ps.Registered {
				st := ps.Status
				jp.Status = &st
			}
			b.Coder.Proxies = append(b.Coder.Proxies, jp)
		}
	}
	for _, w := range p.Waiting {
		res := jsonout.NewResource(w.Region, jsonout.KindRecord, w.Record, "")
		if w.Role != "" {
			res = jsonout.NewResource(w.Region, jsonout.KindRole, w.Role, "")
		}
		b.Waiting = append(b.Waiting, jsonWaiting{Resource: res,
			Service: w.Service, ServiceAccount: w.ServiceAccount, Cluster: w.Cluster, AWSRegion: w.AWSRegion})
	}
	for _, c := range p.Conflicts {
		// A record conflict names no region folder: the address has the
		// fleet scope. A role's or secret's is "<region>/<name>".
		res := jsonout.NewResource("", jsonout.KindRecord, c.Record, "")
		if c.Resource != "" {
			region, name, _ := strings.Cut(c.Record, "/")
			res = jsonout.NewResource(region, c.Resource, name, "")
		}
		b.Conflicts = append(b.Conflicts, jsonConflict{Resource: res, Zone: c.Zone, Reason: c.Reason})
	}
	return b
}

func jsonChanges(changes []Change) []jsonChange {
	out := make([]jsonChange, 0, len(changes))
	for _, c := range changes {
		jc := jsonChange{Action: c.Action, Resource: changeResource(c), Fields: make([]jsonField, 0, len(c.Fields))}
		if c.Resource == ResourceRecord {
			zone, _, _ := strings.Cut(c.Address, ": ")
			jc.Zone = &zone
		}
		if c.Reason != "" {
			reason := c.Reason
			jc.Reason = &reason
		}
		for _, f := range c.Fields {
			jf := jsonField{Name: f.Name, Old: typedValue(f.Name, f.Old), New: typedValue(f.Name, f.New)}
			if f.New == knownAfterApply {
				jf.New, jf.KnownAfterApply = nil, true
			}
			jc.Fields = append(jc.Fields, jf)
		}
		out = append(out, jc)
	}
	return out
}

// changeResource addresses what c changes, from the text plan's address:
// "<region>/<name>" for a certificate, "<region>/<name> (<id>)" for an
// existing health check, "<zone>: <record key>" for a record.
func changeResource(c Change) jsonout.Resource {
	switch c.Resource {
	case ResourceRecord:
		_, key, _ := strings.Cut(c.Address, ": ")
		return jsonout.NewResource(c.Region, jsonout.KindRecord, key, "")
	case ResourceHealthCheck:
		name, id := strings.TrimPrefix(c.Address, c.Region+"/"), ""
		if i := strings.LastIndex(name, " ("); i >= 0 && strings.HasSuffix(name, ")") {
			name, id = name[:i], name[i+2:len(name)-1]
		}
		return jsonout.NewResource(c.Region, jsonout.KindHealthCheck, name, id)
	case ResourceRole:
		id := ""
		if c.role != nil && c.role.actual != nil {
			id = c.role.actual.ARN
		}
		return jsonout.NewResource(c.Region, jsonout.KindRole, strings.TrimPrefix(c.Address, c.Region+"/"), id)
	case ResourceSecret:
		id := ""
		if c.secret != nil && c.secret.actual != nil {
			id = c.secret.actual.ARN
		}
		return jsonout.NewResource(c.Region, jsonout.KindSecret, strings.TrimPrefix(c.Address, c.Region+"/"), id)
	case ResourceWorkspaceProxy, ResourceProvisionerKey:
		id := ""
		if op := c.coder; op != nil && op.curProxy != nil {
			id = op.curProxy.ID
		} else if op != nil && op.curKey != nil {
			id = op.curKey.ID
		}
		return jsonout.NewResource(c.Region, c.Resource, strings.TrimPrefix(c.Address, c.Region+"/"), id)
	default:
		arn := ""
		for _, f := range c.Fields {
			if f.Name == "arn" {
				arn = f.Old
			}
		}
		return jsonout.NewResource(c.Region, jsonout.KindCertificate, strings.TrimPrefix(c.Address, c.Region+"/"), arn)
	}
}

// Fields whose values are numbers or booleans in JSON (the text plan
// prints every value as text).
var (
	numberFields = map[string]bool{"port": true, "interval": true, "failure-threshold": true, "ttl": true}
	boolFields   = map[string]bool{"measure-latency": true}
)

// typedValue is a field's value as JSON: null when absent, a number or a
// boolean for the fields that hold one, else the text.
func typedValue(name, v string) any {
	if v == "" {
		return nil
	}
	if numberFields[name] {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			return n
		}
	}
	if boolFields[name] {
		if b, err := strconv.ParseBool(v); err == nil {
			return b
		}
	}
	return v
}

// applyDocument is `sync apply -o json`.
type applyDocument struct {
	SchemaVersion string `json:"schemaVersion"`
	// Status is "applied" or "failed".
	Status  string       `json:"status"`
	Summary applySummary `json:"summary"`
	// Plan is the plan made before any change; Final the one made after
	// (null when apply stopped before it).
	Plan    *planBody    `json:"plan"`
	Applied []jsonChange `json:"applied"`
	Final   *planBody    `json:"final"`
	Outputs []string     `json:"outputs"`
	// Diagnostics say why a failed apply stopped; [] when it completed.
	Diagnostics []jsonout.Diagnostic `json:"diagnostics"`
}

// applySummary counts what apply did, and what the final plan leaves.
type applySummary struct {
	Added     int `json:"added"`
	Changed   int `json:"changed"`
	Destroyed int `json:"destroyed"`
	// AddedKnownAfterApply counts the validation CNAMEs added (not in
	// Added, so Added equals the plan's add when everything was made).
	AddedKnownAfterApply int `json:"addedKnownAfterApply"`
	OutputsWritten       int `json:"outputsWritten"`
	Retries              int `json:"retries"`
	Waiting              int `json:"waiting"`
	Conflicts            int `json:"conflicts"`
	Kept                 int `json:"kept"`
}

func newApplyDocument(r *Result) applyDocument {
	add, change, destroy, known := r.Counts()
	d := applyDocument{SchemaVersion: ApplySchema, Status: "applied",
		Summary: applySummary{Added: add, Changed: change, Destroyed: destroy, AddedKnownAfterApply: known,
			OutputsWritten: len(r.Outputs), Retries: r.Retries},
		Applied: jsonChanges(r.Applied), Outputs: append([]string{}, r.Outputs...), Diagnostics: []jsonout.Diagnostic{}}
	if r.Error != "" {
		d.Status, d.Diagnostics = "failed", jsonout.Diagnostics(r.Error)
	}
	if r.Plan != nil {
		b := newPlanBody(r.Plan)
		d.Plan = &b
	}
	if r.Final != nil {
		b := newPlanBody(r.Final)
		d.Final = &b
		d.Summary.Waiting, d.Summary.Conflicts, d.Summary.Kept = len(r.Final.Waiting), len(r.Final.Conflicts), r.Final.Kept
	}
	return d
}
