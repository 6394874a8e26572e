package sync

import "fmt"

// hcPlan is what planHealthChecks decided.
type hcPlan struct {
	// changes create or update the desired health checks.
	changes []Change
	// deletes remove replaced checks, and with --prune those no longer desired.
	deletes []Change
	// ids maps "region/name" to the ID records use, or knownAfterApply.
	ids map[string]string
}

// planHealthChecks plans the desired health checks of d against the owned
// ones of a. A check whose type, interval or latency measurement differs
// cannot be changed in place: a new one is created and the old one deleted
// after the records moved. Owned checks outside the desired state are
// deleted with --prune, otherwise kept with a note.
func planHealthChecks(p *Plan, d *Desired, a *Actual, pol Policy) hcPlan {
	hp := hcPlan{ids: map[string]string{}}
	kept := map[string]bool{}
	want := map[string]bool{}
	for _, r := range d.Regions {
		for _, h := range r.HealthChecks {
			addr := r.Region + "/" + h.Name
			want[addr] = true
			var cur *HealthCheck
			for i := range a.HealthChecks {
				ah := &a.HealthChecks[i]
				if ah.Region == r.Region && ah.Name == h.Name && hcConfigString(ah.Config) == hcConfigString(h) {
					cur = ah
					break
				}
			}
			if cur == nil {
				hp.ids[addr] = knownAfterApply
				hp.changes = append(hp.changes, Change{Action: Create, Resource: ResourceHealthCheck, Region: r.Region, Address: addr,
					Fields: hcFields(nil, h), hc: &hcOp{fleet: d.Fleet, region: r.Region, desired: h}})
				continue
			}
			kept[cur.ID] = true
			hp.ids[addr] = cur.ID
			fields := hcFields(&cur.Config, h)
			if !sameTags(cur.Config.Tags, h.Tags) {
				fields = append(fields, Field{Name: "tags", Old: tagString(cur.Config.Tags), New: tagString(h.Tags)})
			}
			if len(fields) > 0 {
				hp.changes = append(hp.changes, Change{Action: Update, Resource: ResourceHealthCheck, Region: r.Region, Address: addr + " (" + cur.ID + ")",
					Fields: fields, hc: &hcOp{fleet: d.Fleet, region: r.Region, desired: h, actual: cur}})
			}
		}
	}
	for i := range a.HealthChecks {
		ah := &a.HealthChecks[i]
		addr := ah.Region + "/" + ah.Name
		if kept[ah.ID] {
			continue
		}
		del := Change{Action: Delete, Resource: ResourceHealthCheck, Region: ah.Region, Address: addr + " (" + ah.ID + ")",
			Fields: []Field{{Name: "fqdn", Old: ah.Config.FQDN}}, hc: &hcOp{region: ah.Region, actual: ah}}
		switch {
		case want[addr]:
			del.Reason = "replaced (type, interval or latency measurement changed, or a duplicate)"
			hp.deletes = append(hp.deletes, del)
		case pol.Prune:
			del.Reason = goneReason(d, ah.Region)
			hp.deletes = append(hp.deletes, del)
		default:
			p.Kept++
			p.Notes = append(p.Notes, fmt.Sprintf("health check %s (%s) is %s; kept (use --prune to delete it)", addr, ah.ID, goneReason(d, ah.Region)))
		}
	}
	return hp
}
