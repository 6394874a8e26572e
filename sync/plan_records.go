package sync

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"
	"github.com/coderfleet/coderfleet/awsstate"
)

// desiredRecord is a record one region wants in a zone.
type desiredRecord struct {
	rec        Record
	region     string
	validation bool
	pendingHC  bool
	src        string
}

// zonePlan plans the records of one hosted zone.
type zonePlan struct {
	plan   *Plan
	d      *Desired
	z      *Zone
	owners owners
	pol    Policy
	// want maps a record key to the record desired there.
	want map[string]*desiredRecord
	// protected are the keys of records waiting for their load balancer:
	// their current records are neither changed nor pruned.
	protected map[string]bool
	actual    map[string]Record
	byName    map[string][]Record
}

// desire collects the records the regions want in the zone: their alias
// records (those whose load balancer exists; the others wait) and the
// validation CNAMEs of their current certificates, shared names once.
func (zp *zonePlan) desire(regions []RegionState, a *Actual, certs map[string]*Certificate, hcID map[string]string) {
	zp.want, zp.protected = map[string]*desiredRecord{}, map[string]bool{}
	for _, r := range regions {
		for i, rec := range r.Records {
			ref := LBRef{AWSRegion: rec.Alias.AWSRegion, Cluster: rec.Alias.Cluster, Service: rec.Alias.Service}
			lb, ok := a.LoadBalancers[ref.String()]
			if !ok {
				zp.plan.Waiting = append(zp.plan.Waiting, Waiting{Region: r.Region, Record: rec.Key(), Service: rec.Alias.Service, Cluster: rec.Alias.Cluster, AWSRegion: rec.Alias.AWSRegion})
				zp.protected[rec.Key()] = true
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
			zp.want[dr.rec.Key()] = dr
		}
		for i, c := range r.Certificates {
			cur := certs[r.Region+"/"+c.Name]
			if cur == nil {
				continue
			}
			for _, v := range cur.Validation {
				rec := Record{Name: v.Name, Type: "CNAME", TTL: c.Validation.TTL, Values: []string{v.Value}}
				if _, dup := zp.want[rec.Key()]; !dup {
					zp.want[rec.Key()] = &desiredRecord{rec: rec, region: r.Region, validation: true,
						src: fmt.Sprintf("regions/%s/aws/%s: certificates[%d] (its validation record)", r.Region, awsstate.CertificatesFile, i)}
				}
			}
		}
	}
	zp.actual, zp.byName = map[string]Record{}, map[string][]Record{}
	for _, r := range zp.z.Records {
		zp.actual[r.Key()] = r
		zp.byName[r.Name] = append(zp.byName[r.Name], r)
	}
}

// changes returns the record changes of the zone: deletions (with --prune),
// then creations, then updates, each sorted by record key.
func (zp *zonePlan) changes() []Change {
	var creates, updates []Change
	for _, k := range slices.Sorted(maps.Keys(zp.want)) {
		c := zp.planRecord(k, zp.want[k])
		switch {
		case c == nil:
		case c.Action == Create:
			creates = append(creates, *c)
		default:
			updates = append(updates, *c)
		}
	}
	return slices.Concat(zp.prune(), creates, updates)
}

// planRecord returns the change that makes the desired record dr at key k,
// nil when it is in place or cannot be made (a conflict, then recorded).
func (zp *zonePlan) planRecord(k string, dr *desiredRecord) *Change {
	rec := dr.rec
	act, exists := zp.actual[k]
	own, owned := zp.owners[k]
	if why := zp.conflict(rec, exists, owned); why != "" {
		zp.plan.Conflicts = append(zp.plan.Conflicts, Conflict{Zone: zp.z.Name, Record: k, Reason: why})
		return nil
	}
	if exists && (!owned || rec.equal(act) && (own.region == dr.region || dr.validation)) {
		return nil // a foreign record equal to the desired one is left alone
	}
	c := &Change{Resource: ResourceRecord, Region: dr.region, Address: zp.z.Name + ": " + k, rec: &recOp{zoneID: zp.z.ID, pending: dr.pendingHC, src: dr.src}}
	txt := ownerRecord(rec, zp.d.Fleet, dr.region)
	if exists {
		c.Action = Update
		c.Fields = recordFields(&act, &rec)
		if len(c.Fields) == 0 {
			c.Fields = []Field{{Name: "owner", Old: own.region, New: dr.region}}
		}
		c.rec.changes = []r53types.Change{{Action: r53types.ChangeActionUpsert, ResourceRecordSet: rec.toRoute53()}, {Action: r53types.ChangeActionUpsert, ResourceRecordSet: txt.toRoute53()}}
		return c
	}
	c.Action = Create
	c.Fields = recordFields(nil, &rec)
	c.rec.validation = dr.validation
	if dr.validation {
		c.Reason = "certificate validation"
	}
	// A new record is a CREATE, a validation CNAME too: Route53 counts an
	// UPSERT as two changes (batchCost), so a new fleet's records fit in
	// the fewest batches. The certificates of a plan that share a
	// validation CNAME want it once (desire). Should another run make the
	// record between the read and the write, the CREATE fails the batch
	// with "already exists" and apply re-reads the zone and plans again
	// (errReplan). Its ownership TXT record is a CREATE too unless it
	// exists (owned: the record went missing), then an UPSERT.
	txtAction := r53types.ChangeActionCreate
	if owned {
		txtAction = r53types.ChangeActionUpsert
	}
	c.rec.changes = []r53types.Change{{Action: r53types.ChangeActionCreate, ResourceRecordSet: rec.toRoute53()}, {Action: txtAction, ResourceRecordSet: txt.toRoute53()}}
	return c
}

// conflict says why the desired record rec cannot be made next to the
// zone's records coderfleet does not own, or "".
func (zp *zonePlan) conflict(rec Record, exists, owned bool) string {
	act := zp.actual[rec.Key()]
	switch {
	case exists && !owned && !rec.equal(act):
		return "a record coderfleet does not own exists with other values; delete it (or add its ownership TXT record) to let coderfleet manage it"
	case exists:
		return ""
	}
	if why := blocked(rec, zp.byName[rec.Name], zp.owners); why != "" {
		return why
	}
	ownerKey := awsstate.RecordKey(ownerName(rec.Name, rec.Type), "TXT", rec.SetIdentifier)
	if ot, ok := zp.actual[ownerKey]; ok && !owned {
		return fmt.Sprintf("the ownership record name %s is taken by a TXT record coderfleet does not own (%s)", ot.Name, strings.Join(ot.Values, " "))
	}
	return ""
}

// prune plans the deletion of the owned records in scope that no region
// wants any more (a record and its TXT together), or keeps them with a note
// without --prune. Records waiting for their load balancer are left alone.
func (zp *zonePlan) prune() []Change {
	var deletes []Change
	for _, k := range slices.Sorted(maps.Keys(zp.owners)) {
		own := zp.owners[k]
		if _, ok := zp.want[k]; ok || zp.protected[k] || !zp.d.inScope(own.region) {
			continue
		}
		why := goneReason(zp.d, own.region)
		if !zp.pol.Prune {
			zp.plan.Kept++
			zp.plan.Notes = append(zp.plan.Notes, fmt.Sprintf("record %s: %s is owned by region %s and %s; kept (use --prune to delete it)", zp.z.Name, k, own.region, why))
			continue
		}
		c := Change{Action: Delete, Resource: ResourceRecord, Region: own.region, Address: zp.z.Name + ": " + k, Reason: why, rec: &recOp{zoneID: zp.z.ID}}
		if act, exists := zp.actual[k]; exists {
			c.Fields = recordFields(&act, nil)
			c.rec.changes = append(c.rec.changes, r53types.Change{Action: r53types.ChangeActionDelete, ResourceRecordSet: act.Raw})
		}
		c.rec.changes = append(c.rec.changes, r53types.Change{Action: r53types.ChangeActionDelete, ResourceRecordSet: own.txt.Raw})
		deletes = append(deletes, c)
	}
	return deletes
}

// blocked says why Route53 would refuse a new record next to the existing
// records of the same name, or "".
func blocked(rec Record, same []Record, owned owners) string {
	for _, o := range same {
		_, isOwned := owned[o.Key()]
		switch {
		case o.Type == "CNAME" && rec.Type != "CNAME":
			return fmt.Sprintf("a CNAME record exists at %s; no other record can share its name", o.Name)
		case rec.Type == "CNAME" && o.Type != "CNAME" && o.Type != "NS" && o.Type != "SOA":
			return fmt.Sprintf("a %s record exists at %s; a CNAME cannot share its name", o.Type, o.Name)
		case o.Type == rec.Type && (o.SetIdentifier == "") != (rec.SetIdentifier == "") && !isOwned:
			if o.SetIdentifier == "" {
				return fmt.Sprintf("a simple %s record coderfleet does not own exists at %s; latency records cannot share its name and type", o.Type, o.Name)
			}
			return fmt.Sprintf("routed %s records (set identifier %q) coderfleet does not own exist at %s; a simple record cannot share their name and type", o.Type, o.SetIdentifier, o.Name)
		}
	}
	return ""
}
