package sync

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"

	"github.com/coderfleet/coderfleet/awsstate"
	"github.com/coderfleet/coderfleet/config"
	"github.com/coderfleet/coderfleet/validate"
)

// InputError is a problem in the repository's files that the user must fix.
// The CLI maps it to exit code 3.
type InputError struct {
	// Err is the underlying error; it names the file and line when known.
	Err error
}

// Error returns the underlying message.
func (e *InputError) Error() string { return e.Err.Error() }

// Unwrap returns the underlying error.
func (e *InputError) Unwrap() error { return e.Err }

// RegionState is the desired AWS state of one region, read from regions/<region>/aws/.
type RegionState struct {
	// Region is the region folder name.
	Region string
	// Fleet is the fleet name used in ownership markers.
	Fleet string
	// HostedZone is the zone name of the region's records.
	HostedZone string
	// Certificates are the region's ACM certificates.
	Certificates []awsstate.Certificate
	// HealthChecks are the region's Route53 health checks.
	HealthChecks []awsstate.HealthCheck
	// Records are the region's alias records.
	Records []awsstate.Record
}

// Desired is the desired state of the selected regions, sorted by region.
type Desired struct {
	// Fleet is the fleet name shared by every region.
	Fleet string
	// Regions holds one entry per selected region.
	Regions []RegionState
}

// AllowFunc returns the secret guard's allowances for a region folder
// (secretGuard.allow of the region's effective settings in
// overlays/fleet.yaml); nil allows nothing.
type AllowFunc func(region string) []config.Allowance

// LoadDesired reads regions/<region>/aws/ of the repository for the given
// regions, or for every region that has an aws/ folder when regions is empty.
// Every file passes the secret guard render runs (validate.AWSFile) with the
// allowances of allow (nil: none) once it parses, so a credential
// hand-edited into a committed file never reaches AWS. Errors are
// *InputError values naming the file and line.
func LoadDesired(repo fs.FS, regions []string, allow AllowFunc) (*Desired, error) {
	if len(regions) == 0 {
		entries, err := fs.ReadDir(repo, "regions")
		if err != nil {
			return nil, &InputError{fmt.Errorf("reading %q: %w (run coderfleet render first, or pass --repo)", "regions", err)}
		}
		for _, e := range entries {
			if _, err := fs.Stat(repo, path.Join("regions", e.Name(), "aws")); e.IsDir() && err == nil {
				regions = append(regions, e.Name())
			}
		}
		if len(regions) == 0 {
			return nil, &InputError{fmt.Errorf("no regions/<region>/aws/ folder found: run coderfleet render first")}
		}
	}
	sort.Strings(regions)
	d := &Desired{}
	var errs []error
	seen := map[string]bool{}
	for _, r := range regions {
		if seen[r] {
			continue
		}
		seen[r] = true
		var allowed []config.Allowance
		if allow != nil {
			allowed = allow(r)
		}
		rs, err := loadRegion(repo, r, allowed)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if d.Fleet == "" {
			d.Fleet = rs.Fleet
		} else if d.Fleet != rs.Fleet {
			errs = append(errs, fmt.Errorf("region %q belongs to fleet %q but region %q to fleet %q: re-render the repository", r, rs.Fleet, d.Regions[0].Region, d.Fleet))
		}
		d.Regions = append(d.Regions, *rs)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, &InputError{err}
	}
	return d, nil
}

func loadRegion(repo fs.FS, region string, allow []config.Allowance) (*RegionState, error) {
	dir := path.Join("regions", region, "aws")
	if _, err := fs.Stat(repo, dir); err != nil {
		return nil, fmt.Errorf("region %q: reading %q: %w (is the region name right? run coderfleet render to create it)", region, dir, err)
	}
	rs := &RegionState{Region: region}
	var errs []error
	for _, want := range []struct {
		file string
		kind awsstate.Kind
	}{{awsstate.CertificatesFile, awsstate.KindCertificateList}, {awsstate.HealthChecksFile, awsstate.KindHealthCheckList}, {awsstate.RecordsFile, awsstate.KindRecordList}} {
		p := path.Join(dir, want.file)
		data, err := fs.ReadFile(repo, p)
		if err != nil {
			errs = append(errs, fmt.Errorf("reading %q: %w (run coderfleet render)", p, err))
			continue
		}
		f, err := awsstate.Parse(p, data)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		// The file parsed, so the guard's own YAML decoding succeeds too.
		if problems := validate.AWSFile(region, p, data, validate.Options{Allow: allow}); len(problems) > 0 {
			for _, pr := range problems {
				errs = append(errs, pr)
			}
			continue
		}
		switch {
		case f.Kind != want.kind:
			errs = append(errs, fmt.Errorf("%q: kind %s, want %s", p, f.Kind, want.kind))
			continue
		case f.Region != region:
			errs = append(errs, fmt.Errorf("%q: region %q does not match its folder %q", p, f.Region, region))
			continue
		case rs.Fleet != "" && f.Fleet != rs.Fleet:
			errs = append(errs, fmt.Errorf("%q: fleet %q differs from %q in the other files of the region", p, f.Fleet, rs.Fleet))
			continue
		}
		rs.Fleet = f.Fleet
		rs.Certificates = append(rs.Certificates, f.Certificates...)
		rs.HealthChecks = append(rs.HealthChecks, f.HealthChecks...)
		rs.Records = append(rs.Records, f.Records...)
		if f.Kind == awsstate.KindRecordList {
			rs.HostedZone = f.HostedZone
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	hcs := map[string]bool{}
	for _, h := range rs.HealthChecks {
		hcs[h.Name] = true
	}
	for i, r := range rs.Records {
		if r.HealthCheck != "" && !hcs[r.HealthCheck] {
			errs = append(errs, fmt.Errorf("%q: records[%d].healthCheck: %q is not defined in %s", path.Join(dir, awsstate.RecordsFile), i, r.HealthCheck, awsstate.HealthChecksFile))
		}
	}
	return rs, errors.Join(errs...)
}
