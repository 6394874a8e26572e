package sync

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"
)

// Route53's rules on the records of one hosted zone that moto does not
// enforce. Each rule is written once, in ruleBreaks, and checked in two
// places on different pairs of records:
//
//   - before the AWS read (desiredRuleErrors, called by LoadDesired), on the
//     desired records alone: two records the region folders desire that
//     cannot stand together need no AWS call to see;
//   - after the read (checkRoute53Rules), on the state the plan leaves in
//     each zone: a desired record beside one only the zone holds (a foreign
//     record, or one of a region outside this run or without a folder). A
//     pair of desired records is never reported again there.
type route53Rule int

const (
	// ruleOneRecordSet: a name, type and set identifier is one record set
	// in a hosted zone (Route53 API Reference, ChangeResourceRecordSets).
	ruleOneRecordSet route53Rule = iota
	// ruleOneLatencySet: one latency record set per name, type and latency
	// region (Route53 Developer Guide, "Values specific for latency records").
	ruleOneLatencySet
	// ruleCNAMEAlone: a CNAME shares its name with no other record (RFC 1034
	// section 3.6.2; Route53 Developer Guide, "Choosing between alias and
	// non-alias records").
	ruleCNAMEAlone
	// ruleSimpleOrRouted: the records of one name and type are all routed
	// (with set identifiers) or one simple record (Route53 API Reference,
	// ChangeResourceRecordSets).
	ruleSimpleOrRouted
)

// ruleRecord is a record as the Route53 rules see it.
type ruleRecord struct {
	Record
	// src locates the desired record ("file:line: records[i]"); empty for a
	// record the check does not report (one only the zone holds).
	src string
	// region is the region folder that desires the record; empty when no
	// loaded folder does.
	region string
}

// ruleBreak is a record that breaks a rule beside another record of its zone.
type ruleBreak struct {
	rule route53Rule
	// rec breaks the rule; it has a src.
	rec ruleRecord
	// other is the record in its way, earlier in the records checked.
	other ruleRecord
}

// ruleBreaks checks the records of one hosted zone in order: a record with
// a src breaks a rule when an earlier record is in its way, and is reported
// once per rule, beside the first such record.
func ruleBreaks(recs []ruleRecord) []ruleBreak {
	var out []ruleBreak
	keys := map[string]ruleRecord{}
	latency := map[string]ruleRecord{}  // name, type and latency region -> first record
	byName := map[string][]ruleRecord{} // name -> records
	for _, r := range recs {
		name := strings.ToLower(r.Name)
		lk := ""
		if r.SetIdentifier != "" && r.Region != "" {
			lk = name + " " + r.Type + " " + r.Region
		}
		if r.src != "" {
			if o, ok := keys[r.Key()]; ok && o.region != r.region {
				out = append(out, ruleBreak{ruleOneRecordSet, r, o})
			}
			if o, ok := latency[lk]; ok && lk != "" {
				out = append(out, ruleBreak{ruleOneLatencySet, r, o})
			}
			for _, o := range byName[name] {
				if o.Key() != r.Key() && (o.Type == "CNAME" || r.Type == "CNAME") {
					out = append(out, ruleBreak{ruleCNAMEAlone, r, o})
					break
				}
			}
			for _, o := range byName[name] {
				if o.Type == r.Type && (o.SetIdentifier == "") != (r.SetIdentifier == "") {
					out = append(out, ruleBreak{ruleSimpleOrRouted, r, o})
					break
				}
			}
		}
		if _, ok := keys[r.Key()]; !ok {
			keys[r.Key()] = r
		}
		if _, ok := latency[lk]; !ok && lk != "" {
			latency[lk] = r
		}
		byName[name] = append(byName[name], r)
	}
	return out
}

// error words b found in hosted zone zone: who describes the other record
// (its owner), hint what to do.
func (b ruleBreak) error(zone, who, hint string) error {
	r, o := b.rec, b.other
	switch b.rule {
	case ruleOneRecordSet:
		return fmt.Errorf("%s: record %s is also desired by region %s (%s); one record set of a name, type and set identifier exists once in a hosted zone (hint: %s)",
			r.src, r.Key(), o.region, o.src, hint)
	case ruleOneLatencySet:
		return fmt.Errorf("%s: latency record %s %s for AWS region %s would be a second one in hosted zone %s beside set identifier %q (%s); Route53 allows one latency record set per name, type and latency region and rejects the change batch (InvalidChangeBatch; Route53 Developer Guide, \"Values specific for latency records\") (hint: %s)",
			r.src, r.Name, r.Type, r.Region, zone, o.SetIdentifier, who, hint)
	case ruleCNAMEAlone:
		return fmt.Errorf("%s: record %s would share its name with %s (%s) in hosted zone %s; a CNAME record shares its name with no other record (RFC 1034 section 3.6.2; Route53 rejects the change batch with InvalidChangeBatch) (hint: %s)",
			r.src, r.Key(), o.Key(), who, zone, hint)
	default: // ruleSimpleOrRouted
		return fmt.Errorf("%s: record %s is %s, but %s (%s) is %s of that name and type in hosted zone %s; Route53 holds either one simple record or only routed records per name and type and rejects the change batch (InvalidChangeBatch; Route53 API Reference, ChangeResourceRecordSets) (hint: %s)",
			r.src, r.Key(), routingKind(r.Record), o.Key(), who, routingKind(o.Record), zone, hint)
	}
}

// routingKind words whether r is a simple or a routed record.
func routingKind(r Record) string {
	if r.SetIdentifier == "" {
		return "a simple record"
	}
	return "a routed record (set identifier " + r.SetIdentifier + ")"
}

// desiredRuleErrors checks the Route53 rules on the desired records alone,
// zone by zone, before any AWS call: each record is reported at its file,
// line and key, beside the record of a region folder sorted before it.
func desiredRuleErrors(d *Desired) []error {
	zones := map[string][]ruleRecord{}
	for _, r := range d.Regions {
		for i, rec := range r.Records {
			zones[r.HostedZone] = append(zones[r.HostedZone], ruleRecord{
				Record: Record{Name: strings.ToLower(rec.Name), Type: rec.Type, SetIdentifier: rec.SetIdentifier, Region: rec.Routing.AWSRegion},
				src:    recordSource(r.Region, i, rec.Line), region: r.Region,
			})
		}
	}
	var errs []error
	for _, zone := range slices.Sorted(maps.Keys(zones)) {
		for _, b := range ruleBreaks(zones[zone]) {
			errs = append(errs, b.error(zone, "desired by region "+b.other.region+" at "+b.other.src, desiredHint(b)))
		}
	}
	return errs
}

// desiredHint says how to resolve a break between two desired records.
func desiredHint(b ruleBreak) string {
	switch {
	case b.rule == ruleOneRecordSet:
		return "a region folder was copied or renamed: run coderfleet render without --region so every folder is rendered from its overlay"
	case b.rule == ruleOneLatencySet && b.other.region == b.rec.region:
		return "one folder routes this name to one AWS region twice: keep one of the two records (a hand edit? run coderfleet render to restore the file)"
	case b.rule == ruleOneLatencySet:
		return "two region folders route this name to one AWS region: remove the stale folder with coderfleet render, or give one region another awsRegion"
	case b.rule == ruleCNAMEAlone:
		return "give the CNAME a name of its own in the overlays and run coderfleet render"
	default:
		return "give every record of this name a routing policy with a set identifier, or keep only the simple one"
	}
}

// checkRoute53Rules refuses, before any call, a plan whose record changes
// real Route53 would reject while moto accepts them. It replays the plan's
// record changes, in order, on the records read from each zone and checks
// the rules of ruleBreaks on the state they leave, as Route53 checks a
// change batch as one transaction (Route53 API Reference,
// ChangeResourceRecordSets), and that an alias record has no TTL and no
// values (Route53 API Reference, ResourceRecordSet: "If you're creating an
// alias resource record set, omit TTL").
//
// Only rules broken by a record the plan creates or changes are reported, so
// an old inconsistency in a zone does not block unrelated work; a pair of
// records both desired is left to LoadDesired, which refused it before the
// read. The error is an *InputError naming the desired record's file, line
// and key.
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
	desired := map[string]bool{} // desired records and their ownership TXT records
	for _, r := range d.Regions {
		for _, rec := range r.Records {
			dr := Record{Name: strings.ToLower(rec.Name), Type: rec.Type, SetIdentifier: rec.SetIdentifier}
			desired[dr.Key()] = true
			desired[ownerRecord(dr, d.Fleet, r.Region).Key()] = true
		}
	}
	for _, zid := range slices.Sorted(maps.Keys(state)) {
		zoneName := zid
		if z := zones[zid]; z != nil {
			zoneName = z.Name
		}
		errs = append(errs, zoneRuleErrors(d, pol, zoneName, state[zid], touched[zid], desired)...)
	}
	if len(errs) > 0 {
		return &InputError{Err: errors.Join(errs...)}
	}
	return nil
}

// zoneRuleErrors checks the rules on the state recs the plan leaves in one
// zone: the records it does not write first, then those it writes (touched,
// with their sources), each group sorted by key.
func zoneRuleErrors(d *Desired, pol Policy, zone string, recs map[string]Record, touched map[string]string, desired map[string]bool) []error {
	owned := readOwners(slices.Collect(maps.Values(recs)), d.Fleet)
	var kept, written []ruleRecord
	for _, k := range slices.Sorted(maps.Keys(recs)) {
		r := ruleRecord{Record: recs[k], src: touched[k]}
		if own, ok := owned[k]; ok {
			r.region = own.region
		}
		if r.src == "" {
			kept = append(kept, r)
		} else {
			written = append(written, r)
		}
	}
	var errs []error
	for _, b := range ruleBreaks(slices.Concat(kept, written)) {
		if desired[b.rec.Key()] && desired[b.other.Key()] {
			continue // checked on the desired records before the read
		}
		var hint string
		switch b.rule {
		case ruleOneLatencySet:
			hint = latencyHint(b.other, owned, d, pol)
		case ruleCNAMEAlone:
			hint = otherHint(b.other, owned)
		default:
			hint = "delete the records of the other kind, or run coderfleet sync apply --prune if coderfleet owns them"
		}
		errs = append(errs, b.error(zone, ownerOf(b.other, owned, d), hint))
	}
	return errs
}

// ownerOf describes who owns record r: a region of the fleet, or nobody coderfleet knows.
func ownerOf(r ruleRecord, owned owners, d *Desired) string {
	own, ok := owned[r.Key()]
	switch {
	case !ok:
		return "not owned by coderfleet"
	case !d.loaded(own.region) && d.Complete:
		return "owned by region " + own.region + ", whose folder regions/" + own.region + " no longer exists"
	default:
		return "owned by region " + own.region
	}
}

// latencyHint says how to resolve two latency records of one name, type and
// region, the other one being o.
func latencyHint(o ruleRecord, owned owners, d *Desired, pol Policy) string {
	own, isOwned := owned[o.Key()]
	switch {
	case !isOwned:
		return fmt.Sprintf("the record with set identifier %q is not coderfleet's: delete it, or route it to another AWS region, then run coderfleet sync again", o.SetIdentifier)
	case d.loaded(own.region):
		return fmt.Sprintf("regions %s and the record's own region claim the same AWS region %s for this name: give one of them another awsRegion in overlays/<region>/region.yaml and run coderfleet render", own.region, o.Region)
	case !d.Complete:
		return fmt.Sprintf("region %s is outside this run (--region): if its folder was renamed or removed, run coderfleet sync apply --prune without --region, which deletes its record in the same change batch", own.region)
	case !pol.Prune:
		return fmt.Sprintf("the folder regions/%s no longer exists (renamed?): run coderfleet sync apply --prune, which deletes its record in the same change batch, or restore the folder", own.region)
	default:
		return "this is a coderfleet bug: report it with the plan"
	}
}

// otherHint says what to do about a record o in the way of a CNAME.
func otherHint(o ruleRecord, owned owners) string {
	if own, ok := owned[o.Key()]; ok {
		return fmt.Sprintf("%s is owned by region %s: if it is no longer desired, run coderfleet sync apply --prune first", o.Key(), own.region)
	}
	return fmt.Sprintf("%s is not coderfleet's: delete or rename it, or change the names of the desired state", o.Key())
}
