package sync

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"

	"github.com/coderfleet/coderfleet/awsstate"
)

// Ownership markers. A Route53 record is owned when a TXT record named
// ownerName(record) exists with the same set identifier and routing, whose
// value carries the heritage and this fleet, as external-dns does.
const (
	ownerPrefix   = "_cf-"
	wildcardLabel = "_wildcard"
	ownerTTL      = 300
	heritage      = "heritage=coderfleet"
	hcRefPrefix   = "cf-"
)

// ownerName returns the name of the ownership TXT record of a record:
// "_cf-<type>.<name>", with a leading "*" label spelled "_wildcard" so the
// TXT name is not itself a wildcard.
func ownerName(name, typ string) string {
	if strings.HasPrefix(name, "*.") {
		name = wildcardLabel + name[1:]
	}
	return ownerPrefix + strings.ToLower(typ) + "." + name
}

// ownedName inverts ownerName; ok is false for names that are not owner names.
func ownedName(txtName string) (name, typ string, ok bool) {
	if !strings.HasPrefix(txtName, ownerPrefix) {
		return "", "", false
	}
	typ, name, ok = strings.Cut(strings.TrimPrefix(txtName, ownerPrefix), ".")
	if !ok || typ == "" {
		return "", "", false
	}
	if strings.HasPrefix(name, wildcardLabel+".") {
		name = "*" + strings.TrimPrefix(name, wildcardLabel)
	}
	return name, strings.ToUpper(typ), true
}

// ownerValue is the quoted TXT value marking a record as owned by fleet for region.
func ownerValue(fleet, region string) string {
	return fmt.Sprintf(`"%s,coderfleet/fleet=%s,coderfleet/region=%s"`, heritage, fleet, region)
}

// parseOwner reads fleet and region from an ownership TXT value.
func parseOwner(value string) (fleet, region string, ok bool) {
	// What parseHeritage reads, without a map: this runs for every TXT
	// record of the zone, for each region status reads.
	first, rest, _ := strings.Cut(strings.Trim(value, `"`), ",")
	if first != heritage {
		return "", "", false
	}
	for rest != "" {
		var kv string
		kv, rest, _ = strings.Cut(rest, ",")
		switch k, v, _ := strings.Cut(kv, "="); k {
		case "coderfleet/fleet":
			fleet = v
		case "coderfleet/region":
			region = v
		}
	}
	return fleet, region, fleet != ""
}

// parseHeritage reads the key=value pairs of a quoted TXT value written by
// coderfleet ("heritage=coderfleet,k=v,..."); ok is false for other values.
func parseHeritage(value string) (kv map[string]string, ok bool) {
	parts := strings.Split(strings.Trim(value, `"`), ",")
	if len(parts) == 0 || parts[0] != heritage {
		return nil, false
	}
	kv = map[string]string{}
	for _, p := range parts[1:] {
		k, v, _ := strings.Cut(p, "=")
		kv[k] = v
	}
	return kv, true
}

// ownerRecord is the TXT record that marks r as owned.
func ownerRecord(r Record, fleet, region string) Record {
	return Record{
		Name: ownerName(r.Name, r.Type), Type: "TXT", SetIdentifier: r.SetIdentifier, Region: r.Region,
		TTL: ownerTTL, Values: []string{ownerValue(fleet, region)},
	}
}

// healthCheckRef is the deterministic CallerReference of a health check: the
// same fleet, region, name and settings give the same reference, so a retried
// create returns the existing check. attempt changes it after a deletion
// (Route53 refuses to reuse the reference of a deleted check).
func healthCheckRef(fleet, region, name string, cfg string, attempt int) string {
	sum := sha256.Sum256([]byte(fmt.Sprintf("%s\x00%s\x00%s\x00%s\x00%d", fleet, region, name, cfg, attempt)))
	return hcRefPrefix + hex.EncodeToString(sum[:])[:40]
}

// certificateToken is the deterministic ACM idempotency token of a
// certificate: a retried request within an hour returns the same ARN.
func certificateToken(fleet, region, name string, domains []string) string {
	sum := sha256.Sum256([]byte(fleet + "\x00" + region + "\x00" + name + "\x00" + strings.Join(domains, "\x00")))
	return hex.EncodeToString(sum[:])[:32]
}

// TagCertificateNames is the tag sync gives each certificate it requests:
// certificateNames of the names requested. ACM never changes a
// certificate's names, so ReadStatus compares this tag with the desired
// names instead of describing the certificate (ListCertificates summaries
// list subject alternative names in AWS, SubjectAlternativeNameSummaries,
// but moto_server leaves them out). Without the tag, or with another
// value, the certificate is described.
const TagCertificateNames = "coderfleet.io/names"

// certificateNames is the digest TagCertificateNames holds: 32 hex digits
// of the domain name and the other names, sorted, compared as sameNames
// compares them.
func certificateNames(domain string, sans []string) string {
	others := slices.DeleteFunc(slices.Clone(sans), func(n string) bool { return n == domain })
	slices.Sort(others)
	sum := sha256.Sum256([]byte(domain + "\x00" + strings.Join(others, "\x00")))
	return hex.EncodeToString(sum[:])[:32]
}

// owner is what an ownership TXT record says about the record it marks.
type owner struct {
	// txt is the ownership TXT record itself.
	txt Record
	// region is the region folder that owns the record.
	region string
	// name and typ are those of the owned record.
	name, typ string
}

// owners maps the key of each record of one zone that the fleet owns to its
// owner. It is the registry step of planning, as external-dns's TXT
// registry turns TXT records into owner labels before its planner runs.
type owners map[string]owner

// readOwners collects the ownership TXT records of fleet among the records
// of one zone: a record owned by another fleet, or one without its TXT
// record, is foreign. The planner reads a zone's records with it, the
// Route53 rules the state a plan leaves, the scope the AWS regions used.
func readOwners(recs []Record, fleet string) owners {
	o := owners{}
	for _, r := range recs {
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
		o[awsstate.RecordKey(name, typ, r.SetIdentifier)] = owner{txt: r, region: region, name: name, typ: typ}
	}
	return o
}
