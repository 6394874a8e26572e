package sync

import (
	"fmt"
	"strings"

	"github.com/coderfleet/coderfleet/awsstate"
)

// certPlan is what planCertificates decided.
type certPlan struct {
	// creates request the desired certificates that have no usable one.
	creates []Change
	// deletes remove owned certificates that serve nothing (with --prune).
	deletes []Change
	// current maps "region/name" to the certificate that serves it.
	current map[string]*Certificate
}

// planCertificates plans the desired certificates of d against the owned
// ones of a: a request for each desired certificate without a usable one
// (bestCertificate), and for each other owned certificate a deletion (with
// --prune, unless a load balancer still uses it) or a note saying it is kept.
func planCertificates(p *Plan, d *Desired, a *Actual, pol Policy) certPlan {
	cp := certPlan{current: map[string]*Certificate{}}
	want := map[string]bool{}
	for _, r := range d.Regions {
		for _, c := range r.Certificates {
			addr := r.Region + "/" + c.Name
			want[addr] = true
			if best := bestCertificate(a, r.Region, c); best != nil {
				cp.current[addr] = best
				continue
			}
			cp.creates = append(cp.creates, Change{
				Action: Create, Resource: ResourceCertificate, Region: r.Region, Address: addr,
				Fields: certFields(c),
				cert:   &certOp{fleet: d.Fleet, region: r.Region, desired: c},
			})
		}
	}
	for i := range a.Certificates {
		ac := &a.Certificates[i]
		addr := ac.Region + "/" + ac.Name
		if cp.current[addr] == ac {
			continue
		}
		reason := "superseded by a certificate with other names or a failed status"
		if !want[addr] {
			reason = goneReason(d, ac.Region)
		}
		switch {
		case !pol.Prune:
			p.Kept++
			p.Notes = append(p.Notes, fmt.Sprintf("certificate %s (%s) is %s; kept (use --prune to delete it)", addr, ac.ARN, reason))
		case ac.InUse:
			p.Notes = append(p.Notes, fmt.Sprintf("certificate %s (%s) is %s but still in use by a load balancer; kept until the Service uses the new one (render, commit, let Flux apply, then sync again)", addr, ac.ARN, reason))
		default:
			cp.deletes = append(cp.deletes, Change{Action: Delete, Resource: ResourceCertificate, Region: ac.Region, Address: addr, Reason: reason,
				Fields: []Field{{Name: "arn", Old: ac.ARN}, {Name: "domain", Old: ac.DomainName}},
				cert:   &certOp{region: ac.Region, arn: ac.ARN, desired: awsstate.Certificate{AWSRegion: ac.AWSRegion}}})
		}
	}
	return cp
}

// planValidationUnknowns lists the DNS validation CNAMEs the certificates
// to request will need, as changes whose name and value are known after
// apply. ACM asks for one CNAME per name, a wildcard "*.x" sharing that of
// "x", and gives the same CNAME for the same name in one account, so a name
// that two new certificates share, or that a current certificate already
// validates (or an owned "_<hash>.<name>" CNAME of an earlier certificate
// holds), adds one record or none: the count is what Apply will add.
func planValidationUnknowns(cp certPlan, a *Actual, fleet string) []Change {
	have := map[string]bool{}
	validated := func(name string) {
		if label, rest, ok := strings.Cut(name, "."); ok && strings.HasPrefix(label, "_") {
			have[rest] = true
		}
	}
	for _, cur := range cp.current {
		for _, v := range cur.Validation {
			validated(v.Name)
		}
	}
	for _, z := range a.Zones {
		for _, own := range readOwners(z.Records, fleet) {
			if own.typ == "CNAME" {
				validated(own.name)
			}
		}
	}
	out := []Change{}
	for _, c := range cp.creates {
		cert := c.cert.desired
		for _, name := range append([]string{cert.DomainName}, cert.SubjectAlternativeNames...) {
			name = strings.ToLower(strings.TrimPrefix(name, "*."))
			if have[name] {
				continue
			}
			have[name] = true
			out = append(out, Change{Action: Create, Resource: ResourceRecord, Region: c.Region,
				Address: cert.Validation.HostedZone + ": validation CNAME of " + name,
				Reason:  "certificate validation of " + c.Address,
				Fields:  []Field{{Name: "name", New: knownAfterApply}, {Name: "ttl", New: itoa(cert.Validation.TTL)}, {Name: "value", New: knownAfterApply}},
			})
		}
	}
	return out
}
