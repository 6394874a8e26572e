package sync

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
)

// PlanFileFormat and PlanFileVersion identify a saved plan (see SavedPlan);
// a file with another format or version is refused, never guessed at.
const (
	PlanFileFormat  = "coderfleet-sync-plan"
	PlanFileVersion = 1
)

// SavedPlan is the plan file that `coderfleet sync plan --out FILE` writes
// and `coderfleet sync apply FILE` applies, as terraform plan -out does. It
// is plain JSON with sorted keys and no timestamps, so the same repository
// and AWS state give the same bytes (documented in docs/sync.md, "Saved
// plans"). Besides the changes it records what they were computed from:
// a digest of every repository file the desired state is read from, and a
// digest of the state of every AWS object the changes touch. Apply refuses
// the file (a *StalePlanError) when either differs, or when the plan it
// computes anew differs from the saved one.
type SavedPlan struct {
	// Format is PlanFileFormat.
	Format string `json:"format"`
	// Version is PlanFileVersion.
	Version int `json:"version"`
	// Fleet is the fleet name of the desired state.
	Fleet string `json:"fleet"`
	// Regions are the region folders of --region; empty means all.
	Regions []string `json:"regions"`
	// Prune is whether the plan was made with --prune.
	Prune bool `json:"prune"`
	// ReissueTokens is whether the plan was made with --reissue-tokens.
	ReissueTokens bool `json:"reissueTokens"`
	// Desired lists the repository files the desired state was read from
	// (regions/<r>/aws/*, overlays/fleet.yaml, overlays/<r>/region.yaml and
	// outputs.yaml), with the SHA-256 of their content, sorted by path.
	Desired []Digest `json:"desired"`
	// Actual lists the AWS and Coder objects the changes touch ("record
	// <zone>: <name> <type> [set id]", "certificate <region>/<name>",
	// "health-check <region>/<name>", "workspace-proxy <region>/<name>",
	// "provisioner-key <region>/<org>/<name>": a Coder object with its token
	// secret's metadata, never a token), with the SHA-256 of their state as
	// read ("absent" hashed for a missing one), sorted by object.
	Actual []Digest `json:"actual"`
	// Changes are the planned changes, in the order Apply makes them.
	Changes []SavedChange `json:"changes"`
	// KnownAfterApply are the validation CNAMEs of the certificates to
	// request (see Plan.KnownAfterApply).
	KnownAfterApply []SavedChange `json:"knownAfterApply"`
	// Outputs are the overlays/<region>/outputs.yaml files to rewrite.
	Outputs []string `json:"outputs"`
	// Waiting and Conflicts are the records that wait for their load
	// balancer and those that conflict, one line each as the text plan
	// words them.
	Waiting   []string `json:"waiting"`
	Conflicts []string `json:"conflicts"`
	// Notes are the plan's notes.
	Notes []string `json:"notes"`
}

// Digest is the SHA-256 (hex) of one file or AWS object.
type Digest struct {
	Name   string `json:"name"`
	SHA256 string `json:"sha256"`
}

// SavedChange is one change of a saved plan: the fields of Change.
type SavedChange struct {
	Action   Action       `json:"action"`
	Resource string       `json:"resource"`
	Region   string       `json:"region,omitempty"`
	Address  string       `json:"address"`
	Reason   string       `json:"reason,omitempty"`
	Fields   []SavedField `json:"fields,omitempty"`
}

// SavedField is one attribute of a SavedChange; see Field.
type SavedField struct {
	Name string `json:"name"`
	Old  string `json:"old,omitempty"`
	New  string `json:"new,omitempty"`
}

// StalePlanError is a saved plan that no longer matches the repository or
// AWS: what changed, one line each. Nothing was applied.
type StalePlanError struct {
	// File is the saved plan's path as given.
	File string
	// Changed names what differs: files, AWS objects or planned changes.
	Changed []string
	// NothingToApply is set when a plan made now would change nothing
	// (no change, no outputs.yaml to write): the saved plan was most
	// likely applied already.
	NothingToApply bool
}

// Error names what changed and says to plan again, or, when nothing is
// left to apply, that the plan was most likely applied already.
func (e *StalePlanError) Error() string {
	if e.NothingToApply {
		return fmt.Sprintf("saved plan %s is stale, nothing was applied: AWS and outputs.yaml already hold what it would do, so it was most likely applied already (%d difference(s) from when it was made)\n(hint: nothing is left to apply; coderfleet sync plan shows anything still waiting)",
			e.File, len(e.Changed))
	}
	return fmt.Sprintf("saved plan %s is stale, nothing was applied:\n  %s\n(hint: run coderfleet sync plan --out %s again, review it, then coderfleet sync apply %s)",
		e.File, strings.Join(e.Changed, "\n  "), e.File, e.File)
}

// planBasis is what a plan was computed from, kept with the plan so that
// it can be saved.
type planBasis struct {
	d   *Desired
	a   *Actual
	pol Policy
	// regions is the --region selection.
	regions []string
	repo    fs.FS
}

// Save returns the plan file of p, which must come from PlanChanges.
func (p *Plan) Save() ([]byte, error) {
	if p.basis == nil {
		return nil, fmt.Errorf("sync: the plan was not made by PlanChanges and cannot be saved")
	}
	sp, err := savePlan(p)
	if err != nil {
		return nil, err
	}
	b, err := json.MarshalIndent(sp, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encoding the plan file: %w", err)
	}
	return append(b, '\n'), nil
}

// LoadPlanFile parses a plan file written by Plan.Save; file names it in
// errors. A file of another format or version is an *InputError.
func LoadPlanFile(file string, data []byte) (*SavedPlan, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var sp SavedPlan
	if err := dec.Decode(&sp); err != nil {
		return nil, &InputError{File: file, Msg: "not a coderfleet sync plan file", Err: err,
			Hint: "write one with coderfleet sync plan --out " + file}
	}
	if sp.Format != PlanFileFormat || sp.Version != PlanFileVersion {
		return nil, &InputError{File: file, Msg: fmt.Sprintf("format %q version %d, want %q version %d", sp.Format, sp.Version, PlanFileFormat, PlanFileVersion),
			Hint: "make the plan again with this coderfleet: coderfleet sync plan --out " + file}
	}
	return &sp, nil
}

func savePlan(p *Plan) (*SavedPlan, error) {
	b := p.basis
	desired, err := desiredDigests(b.repo, b.d)
	if err != nil {
		return nil, err
	}
	sp := &SavedPlan{
		Format: PlanFileFormat, Version: PlanFileVersion, Fleet: b.d.Fleet,
		Regions: append([]string{}, b.regions...), Prune: b.pol.Prune, ReissueTokens: b.pol.ReissueTokens,
		Desired: desired, Actual: actualDigests(touched(p), b.a),
		Changes: savedChanges(p.Changes), KnownAfterApply: savedChanges(p.KnownAfterApply),
		Outputs: append([]string{}, p.Outputs...), Notes: append([]string{}, p.Notes...),
		Waiting: []string{}, Conflicts: []string{},
	}
	slices.Sort(sp.Regions)
	for _, w := range p.Waiting {
		if w.Role != "" {
			sp.Waiting = append(sp.Waiting, fmt.Sprintf("IAM role %s of region %s waits for EKS cluster %s (%s)", w.Role, w.Region, w.Cluster, w.AWSRegion))
			continue
		}
		sp.Waiting = append(sp.Waiting, fmt.Sprintf("record %s of region %s waits for the NLB of Service %s in cluster %s (%s)", w.Record, w.Region, w.Service, w.Cluster, w.AWSRegion))
	}
	for _, c := range p.Conflicts {
		sp.Conflicts = append(sp.Conflicts, c.String())
	}
	return sp, nil
}

func savedChanges(cs []Change) []SavedChange {
	out := []SavedChange{}
	for _, c := range cs {
		sc := SavedChange{Action: c.Action, Resource: c.Resource, Region: c.Region, Address: c.Address, Reason: c.Reason}
		for _, f := range c.Fields {
			sc.Fields = append(sc.Fields, SavedField(f))
		}
		out = append(out, sc)
	}
	return out
}

// stale compares the saved plan with now, the plan computed from the
// repository and AWS as they are, and lists what differs: repository
// files, then AWS objects the saved changes touch, then the changes.
func (sp *SavedPlan) stale(now *Plan) ([]string, error) {
	cur, err := savePlan(now)
	if err != nil {
		return nil, err
	}
	var changed []string
	changed = append(changed, diffDigests("file", sp.Desired, cur.Desired)...)
	objects := make([]string, 0, len(sp.Actual))
	for _, o := range sp.Actual {
		objects = append(objects, o.Name)
	}
	changed = append(changed, diffDigests("AWS object", sp.Actual, actualDigests(objects, now.basis.a))...)
	if len(changed) > 0 {
		return changed, nil
	}
	changed = append(changed, diffChanges(sp.Changes, cur.Changes)...)
	changed = append(changed, diffChanges(sp.KnownAfterApply, cur.KnownAfterApply)...)
	if !slices.Equal(sp.Outputs, cur.Outputs) || !slices.Equal(sp.Conflicts, cur.Conflicts) || !slices.Equal(sp.Waiting, cur.Waiting) {
		changed = append(changed, "the outputs files to write, the waiting records or the conflicts differ from the plan's")
	}
	return changed, nil
}

// diffDigests lists the names whose digest differs between was and now,
// and those only one of them has, sorted.
func diffDigests(what string, was, now []Digest) []string {
	w, n := map[string]string{}, map[string]string{}
	for _, d := range was {
		w[d.Name] = d.SHA256
	}
	for _, d := range now {
		n[d.Name] = d.SHA256
	}
	var out []string
	for _, name := range sortedUnion(w, n) {
		switch {
		case w[name] == "":
			out = append(out, fmt.Sprintf("%s %s appeared since the plan was made", what, name))
		case n[name] == "":
			out = append(out, fmt.Sprintf("%s %s is gone since the plan was made", what, name))
		case w[name] != n[name]:
			out = append(out, fmt.Sprintf("%s %s changed since the plan was made", what, name))
		}
	}
	return out
}

func sortedUnion(a, b map[string]string) []string {
	var keys []string
	for k := range a {
		keys = append(keys, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

// diffChanges lists the changes only one of was and now has, or that
// differ, by address.
func diffChanges(was, now []SavedChange) []string {
	key := func(c SavedChange) string { return fmt.Sprintf("%s %s %s", c.Action, c.Resource, c.Address) }
	enc := func(cs []SavedChange) map[string]string {
		m := map[string]string{}
		for _, c := range cs {
			b, _ := json.Marshal(c)
			m[key(c)] = string(b)
		}
		return m
	}
	w, n := enc(was), enc(now)
	var out []string
	for _, k := range sortedUnion(w, n) {
		switch {
		case w[k] == "":
			out = append(out, "the plan would now also "+k)
		case n[k] == "":
			out = append(out, "the plan would no longer "+k)
		case w[k] != n[k]:
			out = append(out, "the plan would now "+k+" with other values")
		}
	}
	return out
}

// desiredDigests hashes the repository files the desired state of d is read
// from: regions/<r>/aws/* of the loaded regions (of every region folder
// when d is complete), overlays/fleet.yaml and overlays/<r>/region.yaml and
// outputs.yaml.
func desiredDigests(repo fs.FS, d *Desired) ([]Digest, error) {
	var out []Digest
	add := func(p string) error {
		b, err := fs.ReadFile(repo, p)
		if err != nil {
			return fmt.Errorf("reading %q: %w", p, err)
		}
		sum := sha256.Sum256(b)
		out = append(out, Digest{Name: p, SHA256: hex.EncodeToString(sum[:])})
		return nil
	}
	for _, pattern := range []string{"regions/*/aws/*", "overlays/fleet.yaml", "overlays/*/region.yaml", "overlays/*/outputs.yaml"} {
		matches, err := fs.Glob(repo, pattern)
		if err != nil {
			return nil, err
		}
		for _, m := range matches {
			region := path.Base(path.Dir(m))
			if strings.HasPrefix(m, "regions/") {
				region = path.Base(path.Dir(path.Dir(m)))
			}
			if !d.Complete && m != "overlays/fleet.yaml" && !d.loaded(region) {
				continue
			}
			if err := add(m); err != nil {
				return nil, err
			}
		}
	}
	slices.SortFunc(out, func(x, y Digest) int { return strings.Compare(x.Name, y.Name) })
	return out, nil
}

// touched names the AWS objects the changes of p act on, sorted: each
// record set (and ownership TXT record) a record change writes or deletes,
// and the certificates and health checks by region and name.
func touched(p *Plan) []string {
	set := map[string]string{}
	for _, c := range p.Changes {
		switch {
		case c.rec != nil:
			zone, _, _ := strings.Cut(c.Address, ": ")
			for _, rc := range c.rec.changes {
				set["record "+zone+": "+fromRoute53(*rc.ResourceRecordSet).Key()] = ""
			}
		case c.cert != nil || c.hc != nil || c.role != nil || c.secret != nil || c.coder != nil:
			addr, _, _ := strings.Cut(c.Address, " (")
			set[c.Resource+" "+addr] = ""
		}
	}
	return sortedUnion(set, nil)
}

// actualDigests hashes the state in a of each named object (see touched).
func actualDigests(objects []string, a *Actual) []Digest {
	out := []Digest{}
	for _, o := range objects {
		var state any
		kind, rest, _ := strings.Cut(o, " ")
		switch kind {
		case "record":
			zone, key, _ := strings.Cut(rest, ": ")
			if z := a.Zones[zone]; z != nil {
				for _, r := range z.Records {
					if r.Key() == key {
						state = []any{r, r.Raw}
					}
				}
			}
		case ResourceCertificate:
			var certs []any
			for _, c := range a.Certificates {
				if c.Region+"/"+c.Name == rest {
					certs = append(certs, []any{c.ARN, c.AWSRegion, c.DomainName, c.SANs, usableCertStatus[c.Status], c.InUse})
				}
			}
			state = certs
		case ResourceHealthCheck:
			var hcs []HealthCheck
			for _, h := range a.HealthChecks {
				if h.Region+"/"+h.Name == rest {
					hcs = append(hcs, h)
				}
			}
			state = hcs
		case ResourceRole:
			// IAM is global: a role is the same object whichever region
			// folder names it.
			_, name, _ := strings.Cut(rest, "/")
			for _, r := range a.Roles {
				if r.Name == name {
					state = r
				}
			}
		case ResourceSecret:
			var secs []Secret
			for _, sec := range a.Secrets {
				if sec.Region+"/"+sec.Name == rest {
					secs = append(secs, sec)
				}
			}
			if secs != nil {
				state = secs
			}
		case ResourceWorkspaceProxy, ResourceProvisionerKey:
			state = coderDigestState(kind, rest, a)
		}
		b, _ := json.Marshal(state)
		if state == nil {
			b = []byte("absent")
		}
		sum := sha256.Sum256(b)
		out = append(out, Digest{Name: o, SHA256: hex.EncodeToString(sum[:])})
	}
	return out
}

// unreviewed lists the record changes of p, computed while applying sp,
// that sp does not hold: sp's records are made with the IDs and validation
// names known by then, so only a change of another action or address, or a
// record that is not a validation CNAME, was not reviewed. A nil sp (no
// saved plan) reviews everything.
func (sp *SavedPlan) unreviewed(p *Plan) []string {
	if sp == nil {
		return nil
	}
	reviewed := map[string]bool{}
	for _, c := range sp.Changes {
		reviewed[string(c.Action)+" "+c.Resource+" "+c.Address] = true
	}
	var out []string
	for _, c := range p.Changes {
		k := string(c.Action) + " " + c.Resource + " " + c.Address
		if c.rec == nil || reviewed[k] || c.Action == Create && c.rec.validation {
			continue
		}
		out = append(out, k)
	}
	return out
}

// coderDigestState is the state of a Coder object a saved plan touches,
// addressed "<region>/<name>" (a proxy) or "<region>/<org>/<name>" (a
// key): the object as coderd lists it (its reported status aside, which
// changes on its own) and its token secret's metadata; nil when neither
// exists.
func coderDigestState(kind, addr string, a *Actual) any {
	region, name, _ := strings.Cut(addr, "/")
	object := kind + "/" + name
	var state []any
	for _, sec := range a.Secrets {
		if sec.CoderObject == object && sec.Region == region {
			state = append(state, sec)
		}
	}
	if a.Coder != nil {
		if kind == ResourceWorkspaceProxy {
			if p := a.Coder.proxy(name); p != nil {
				state = append(state, p)
			}
		} else if org, key, _ := strings.Cut(name, "/"); a.Coder.key(org, key) != nil {
			state = append(state, a.Coder.key(org, key))
		}
	}
	if state == nil {
		return nil
	}
	return state
}
