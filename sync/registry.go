package sync

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"
)

// The fleet registry is one TXT record per hosted zone, named
// registryName(fleet, zone), with one value per AWS region in which the fleet
// has ever had certificates. Route53 is global, so the registry can be read
// before anything else; it tells sync where to look for the fleet's ACM
// certificates once a region folder (and with it the last mention of its AWS
// region in the repository) is gone. It only grows: it is written before a
// certificate is requested in a new AWS region, and an AWS region left in it
// costs one ListCertificates call per read.
const registryLabel = "_coderfleet"

// registryName returns the name of fleet's registry record in zone. Its first
// label does not start with ownerPrefix, so it is never taken for the
// ownership record of another record.
func registryName(fleet, zone string) string {
	return registryLabel + "." + fleet + "." + zone
}

// registryValue is the quoted TXT value registering awsRegion for fleet.
func registryValue(fleet, awsRegion string) string {
	return fmt.Sprintf(`"%s,coderfleet/fleet=%s,coderfleet/aws-region=%s"`, heritage, fleet, awsRegion)
}

// parseRegistryValue reads fleet and AWS region from a registry TXT value.
func parseRegistryValue(value string) (fleet, awsRegion string, ok bool) {
	kv, ok := parseHeritage(value)
	fleet, awsRegion = kv["coderfleet/fleet"], kv["coderfleet/aws-region"]
	return fleet, awsRegion, ok && fleet != "" && awsRegion != ""
}

// registryOf returns the registry record of fleet in z (nil when absent), the
// AWS regions it lists, and whether a record at its name is not the fleet's
// (a value without the heritage and fleet): then sync neither reads nor
// writes it.
func registryOf(z *Zone, fleet string) (rec *Record, awsRegions []string, foreign bool) {
	name := registryName(fleet, z.Name)
	for i := range z.Records {
		r := &z.Records[i]
		if r.Name != name {
			continue
		}
		if r.Type != "TXT" || r.SetIdentifier != "" {
			return r, nil, true
		}
		for _, v := range r.Values {
			f, ar, ok := parseRegistryValue(v)
			if !ok || f != fleet {
				return r, nil, true
			}
			awsRegions = append(awsRegions, ar)
		}
		return r, awsRegions, false
	}
	return nil, nil, false
}

// usedAWSRegions returns the AWS regions the zone says the fleet has used:
// those of its registry record and the latency regions of its owned records
// (whose ownership TXT records carry the latency region too), sorted.
func usedAWSRegions(z *Zone, fleet string) []string {
	set := map[string]bool{}
	if _, regs, foreign := registryOf(z, fleet); !foreign {
		for _, r := range regs {
			set[r] = true
		}
	}
	for _, own := range readOwners(z.Records, fleet) {
		if own.txt.Region != "" {
			set[own.txt.Region] = true
		}
	}
	return slices.Sorted(maps.Keys(set))
}

// planRegistry returns the change that makes the registry of zone z list
// every AWS region in it already, every AWS region of a desired certificate
// and every AWS region an owned certificate was found in; nil when it does.
func planRegistry(p *Plan, d *Desired, z *Zone, a *Actual) *Change {
	rec, old, foreign := registryOf(z, d.Fleet)
	name := registryName(d.Fleet, z.Name)
	if foreign {
		p.Conflicts = append(p.Conflicts, Conflict{Zone: z.Name, Record: name,
			Reason: "the name of coderfleet's registry of AWS regions is taken by a record coderfleet does not own; delete it so sync can record where the fleet's certificates are"})
		return nil
	}
	set := map[string]bool{}
	for _, r := range old {
		set[r] = true
	}
	for _, r := range d.Regions {
		for _, c := range r.Certificates {
			set[c.AWSRegion] = true
		}
	}
	for _, c := range a.Certificates {
		set[c.AWSRegion] = true
	}
	want := slices.Sorted(maps.Keys(set))
	if len(want) == 0 || (rec != nil && strings.Join(slices.Sorted(slices.Values(old)), " ") == strings.Join(want, " ")) {
		return nil
	}
	next := Record{Name: name, Type: "TXT", TTL: ownerTTL}
	for _, r := range want {
		next.Values = append(next.Values, registryValue(d.Fleet, r))
	}
	c := &Change{Resource: ResourceRecord, Address: z.Name + ": " + next.Key(), Reason: "registry of the AWS regions the fleet uses",
		Fields: []Field{{Name: "aws-regions", Old: strings.Join(slices.Sorted(slices.Values(old)), " "), New: strings.Join(want, " ")}},
		rec:    &recOp{zoneID: z.ID, registry: true, src: "hosted zone " + z.Name + ": registry record " + name}}
	// An UPSERT either way: a retried request whose first attempt took
	// effect must not fail, and the registry only grows.
	c.Action = Update
	if rec == nil {
		c.Action = Create
	}
	c.rec.changes = []r53types.Change{{Action: r53types.ChangeActionUpsert, ResourceRecordSet: next.toRoute53()}}
	return c
}
