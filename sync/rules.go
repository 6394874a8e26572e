package sync

import (
	"errors"
	"fmt"
	"maps"
	"slices"

	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"
)

// checkRoute53Rules refuses, before any call, a plan whose record changes
// real Route53 would reject while moto accepts them. It replays the plan's
// record changes, in order, on the records read from each zone and checks
// the state they leave, as Route53 checks a change batch as one transaction
// (Route53 API Reference, ChangeResourceRecordSets):
//
//   - one latency record set per name, type and latency region (Route53
//     Developer Guide, "Values specific for latency records");
//   - a CNAME shares its name with no other record (RFC 1034 section 3.6.2;
//     Route53 Developer Guide, "Choosing between alias and non-alias records");
//   - records of one name and type are all routed (with set identifiers) or
//     one simple record;
//   - an alias record has no TTL and no values (Route53 API Reference,
//     ResourceRecordSet: "If you're creating an alias resource record set,
//     omit TTL").
//
// Only rules broken by a record the plan creates or changes are reported, so
// an old inconsistency in a zone does not block unrelated work. The error is
// an *InputError naming the desired record's file, line and key.
func checkRoute53Rules(p *Plan, a *Actual, d *Desired, pol Policy) error {
	zones := map[string]*Zone{}
	for _, z := range a.Zones {
		zones[z.ID] = z
	}
	state := map[string]map[string]Record{}   // zone id -> key -> record
	touched := map[string]map[string]string{} // zone id -> key -> source
	var errs []error
	for _, c := range p.Changes {
		if c.rec == nil {
			continue
		}
		zid := c.rec.zoneID
		if state[zid] == nil {
			state[zid], touched[zid] = map[string]Record{}, map[string]string{}
			if z := zones[zid]; z != nil {
				for _, r := range z.Records {
					state[zid][r.Key()] = r
				}
			}
		}
		for _, rc := range c.rec.changes {
			rr := rc.ResourceRecordSet
			rec := fromRoute53(*rr)
			if rc.Action == r53types.ChangeActionDelete {
				delete(state[zid], rec.Key())
				continue
			}
			if rr.AliasTarget != nil && (rr.TTL != nil || len(rr.ResourceRecords) > 0) {
				errs = append(errs, fmt.Errorf("%s: alias record %s has a TTL or values; Route53 takes neither on an alias record (Route53 API Reference, ResourceRecordSet) (hint: this is a coderfleet bug: report it with the plan)", c.rec.src, rec.Key()))
			}
			state[zid][rec.Key()] = rec
			touched[zid][rec.Key()] = c.rec.src
		}
	}
	for _, zid := range slices.Sorted(maps.Keys(state)) {
		zoneName := zid
		if z := zones[zid]; z != nil {
			zoneName = z.Name
		}
		errs = append(errs, zoneRuleErrors(d, pol, zoneName, state[zid], touched[zid])...)
	}
	if len(errs) > 0 {
		return &InputError{Err: errors.Join(errs...)}
	}
	return nil
}

func zoneRuleErrors(d *Desired, pol Policy, zone string, recs map[string]Record, touched map[string]string) []error {
	var errs []error
	byName := map[string][]Record{}
	latency := map[string][]Record{} // name|type|region -> records
	for _, k := range slices.Sorted(maps.Keys(recs)) {
		r := recs[k]
		byName[r.Name] = append(byName[r.Name], r)
		if r.SetIdentifier != "" && r.Region != "" {
			lk := r.Name + "|" + r.Type + "|" + r.Region
			latency[lk] = append(latency[lk], r)
		}
	}
	// first returns the source of the first touched record of a group of
	// several records, and that record; ok is false for a group of one or
	// one the plan does not write to.
	first := func(rs []Record) (src string, r Record, ok bool) {
		if len(rs) < 2 {
			return "", Record{}, false
		}
		for _, r := range rs {
			if src, ok := touched[r.Key()]; ok {
				return src, r, true
			}
		}
		return "", Record{}, false
	}
	for _, lk := range slices.Sorted(maps.Keys(latency)) {
		rs := latency[lk]
		src, r, ok := first(rs)
		if !ok {
			continue
		}
		for _, o := range rs {
			if o.Key() == r.Key() {
				continue
			}
			errs = append(errs, fmt.Errorf("%s: latency record %s %s for AWS region %s would be a second one in hosted zone %s beside set identifier %q (%s); Route53 allows one latency record set per name, type and latency region and rejects the change batch (InvalidChangeBatch; Route53 Developer Guide, \"Values specific for latency records\") (hint: %s)",
				src, r.Name, r.Type, r.Region, zone, o.SetIdentifier, ownerOf(recs, o, d), latencyHint(recs, o, d, pol)))
			break
		}
	}
	for _, name := range slices.Sorted(maps.Keys(byName)) {
		rs := byName[name]
		src, r, ok := first(rs)
		if !ok {
			continue
		}
		simple, routed := map[string]bool{}, map[string]bool{}
		for _, o := range rs {
			if o.SetIdentifier == "" {
				simple[o.Type] = true
			} else {
				routed[o.Type] = true
			}
		}
		for _, o := range rs {
			if o.Key() == r.Key() || (o.Type != "CNAME" && r.Type != "CNAME") {
				continue
			}
			errs = append(errs, fmt.Errorf("%s: record %s would share its name with %s in hosted zone %s; a CNAME record shares its name with no other record (RFC 1034 section 3.6.2; Route53 rejects the change batch with InvalidChangeBatch) (hint: %s)",
				src, r.Key(), o.Key(), zone, otherHint(recs, o, d)))
			break
		}
		if simple[r.Type] && routed[r.Type] {
			errs = append(errs, fmt.Errorf("%s: record %s would mix a simple record and routed records of type %s at %s in hosted zone %s; Route53 requires all records of one name and type to have a routing policy and set identifier, or one simple record (InvalidChangeBatch) (hint: delete the records of the other kind, or run coderfleet sync apply --prune if coderfleet owns them)",
				src, r.Key(), r.Type, name, zone))
		}
	}
	return errs
}

// ownerOf describes who owns record r: a region of the fleet, or nobody coderfleet knows.
func ownerOf(recs map[string]Record, r Record, d *Desired) string {
	region, ok := recordOwner(recs, r, d.Fleet)
	switch {
	case !ok:
		return "not owned by coderfleet"
	case !d.loaded(region) && d.Complete:
		return "owned by region " + region + ", whose folder regions/" + region + " no longer exists"
	default:
		return "owned by region " + region
	}
}

// recordOwner returns the region named by r's ownership TXT record in recs.
func recordOwner(recs map[string]Record, r Record, fleet string) (string, bool) {
	txt, ok := recs[ownerRecord(r, fleet, "").Key()]
	if !ok || len(txt.Values) != 1 {
		return "", false
	}
	f, region, ok := parseOwner(txt.Values[0])
	if !ok || f != fleet {
		return "", false
	}
	return region, true
}

// latencyHint says how to resolve two latency records of one name, type and
// region, the other one being o.
func latencyHint(recs map[string]Record, o Record, d *Desired, pol Policy) string {
	region, owned := recordOwner(recs, o, d.Fleet)
	switch {
	case !owned:
		return fmt.Sprintf("the record with set identifier %q is not coderfleet's: delete it, or route it to another AWS region, then run coderfleet sync again", o.SetIdentifier)
	case d.loaded(region):
		return fmt.Sprintf("regions %s and the record's own region claim the same AWS region %s for this name: give one of them another awsRegion in overlays/<region>/region.yaml and run coderfleet render", region, o.Region)
	case !d.Complete:
		return fmt.Sprintf("region %s is outside this run (--region): if its folder was renamed or removed, run coderfleet sync apply --prune without --region, which deletes its record in the same change batch", region)
	case !pol.Prune:
		return fmt.Sprintf("the folder regions/%s no longer exists (renamed?): run coderfleet sync apply --prune, which deletes its record in the same change batch, or restore the folder", region)
	default:
		return "this is a coderfleet bug: report it with the plan"
	}
}

// otherHint says what to do about a record o in the way of a CNAME.
func otherHint(recs map[string]Record, o Record, d *Desired) string {
	if region, owned := recordOwner(recs, o, d.Fleet); owned {
		return fmt.Sprintf("%s is owned by region %s: if it is no longer desired, run coderfleet sync apply --prune first", o.Key(), region)
	}
	return fmt.Sprintf("%s is not coderfleet's: delete or rename it, or change the names of the desired state", o.Key())
}
