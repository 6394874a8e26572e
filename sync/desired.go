package sync

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"runtime"
	"slices"

	"golang.org/x/sync/errgroup"

	"github.com/coderfleet/coderfleet/awsstate"
	"github.com/coderfleet/coderfleet/config"
	"github.com/coderfleet/coderfleet/internal/diag"
	"github.com/coderfleet/coderfleet/validate"
)

// InputError is a problem in the repository's files that the user must fix:
// a diag.Error whose Err is the underlying problem, naming the file and line
// when known. The CLI maps it to exit code 3.
type InputError = diag.Error

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
	// Roles are the region's IAM roles for service accounts (roles.yaml;
	// none when the file is absent: the fleet manages IAM elsewhere).
	Roles []awsstate.Role
	// Secrets are the region's Secrets Manager secrets (secrets.yaml, optional).
	Secrets []awsstate.Secret
	// WorkspaceProxies are the Coder workspace proxies the region registers
	// on the primary's coderd (workspaceproxies.yaml; none when absent).
	WorkspaceProxies []awsstate.WorkspaceProxy
	// ProvisionerKeys are the Coder provisioner keys of the region's
	// workspace namespaces (provisionerkeys.yaml; none when absent).
	ProvisionerKeys []awsstate.ProvisionerKey
}

// Desired is the desired state of the selected regions, sorted by region.
type Desired struct {
	// Fleet is the fleet name shared by every region.
	Fleet string
	// Regions holds one entry per selected region.
	Regions []RegionState
	// Complete is true when every region folder was loaded (no --region):
	// only then are owned objects of a region without a folder orphans that
	// the plan lists and --prune deletes. With --region, objects of the other
	// regions are out of scope and never touched.
	Complete bool
}

// inScope reports whether owned objects of region belong to this run: every
// region's do when the desired state is complete, otherwise only the
// selected regions'.
func (d *Desired) inScope(region string) bool {
	if d.Complete {
		return true
	}
	return d.loaded(region)
}

// loaded reports whether region has a folder in the desired state.
func (d *Desired) loaded(region string) bool {
	for _, r := range d.Regions {
		if r.Region == region {
			return true
		}
	}
	return false
}

// AllowFunc returns the secret guard's allowances for a region folder
// (secretGuard.allow of the region's effective settings in
// overlays/fleet.yaml); nil allows nothing.
type AllowFunc func(region string) []config.Allowance

// RegionFolders lists the regions sync can act on: the folders
// regions/<region>/ of the repository holding an aws/ folder, sorted. A
// repository without regions/ is an *InputError.
func RegionFolders(repo fs.FS) ([]string, error) {
	entries, err := fs.ReadDir(repo, "regions")
	if err != nil {
		return nil, &InputError{Err: fmt.Errorf("reading %q: %w (run coderfleet render first, or pass --repo)", "regions", err)}
	}
	var regions []string
	for _, e := range entries {
		if _, err := fs.Stat(repo, path.Join("regions", e.Name(), "aws")); e.IsDir() && err == nil {
			regions = append(regions, e.Name())
		}
	}
	return regions, nil
}

// LoadDesired reads regions/<region>/aws/ of the repository for the given
// regions, or for every region that has an aws/ folder when regions is empty
// (then Desired.Complete is set). Every file passes the secret guard render
// runs (validate.AWSFile) with the allowances of allow (nil: none) once it
// parses, so a credential hand-edited into a committed file never reaches
// AWS. Errors are *InputError values naming the file and line.
func LoadDesired(repo fs.FS, regions []string, allow AllowFunc) (*Desired, error) {
	complete := len(regions) == 0
	if complete {
		var err error
		if regions, err = RegionFolders(repo); err != nil {
			return nil, err
		}
		if len(regions) == 0 {
			return nil, &InputError{Err: fmt.Errorf("no regions/<region>/aws/ folder found: run coderfleet render first")}
		}
	}
	regions = slices.Compact(slices.Sorted(slices.Values(regions)))
	d := &Desired{Complete: complete}
	// The regions' files are parsed and validated on every core, then
	// gathered in order: the result and its errors do not depend on timing.
	loaded := make([]*RegionState, len(regions))
	loadErrs := make([]error, len(regions))
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i, r := range regions {
		g.Go(func() error {
			var allowed []config.Allowance
			if allow != nil {
				allowed = allow(r)
			}
			loaded[i], loadErrs[i] = loadRegion(repo, r, allowed)
			return nil // kept per region, reported in order below
		})
	}
	_ = g.Wait()
	var errs []error
	for i, r := range regions {
		rs, err := loaded[i], loadErrs[i]
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
		return nil, &InputError{Err: err}
	}
	if err := errors.Join(slices.Concat(staleFolders(repo, d), desiredRuleErrors(d), iamRuleErrors(d))...); err != nil {
		return nil, &InputError{Err: err}
	}
	return d, nil
}

// staleFolders refuses region folders whose overlay is gone: when the
// repository has overlays/fleet.yaml, each loaded regions/<r> must have
// overlays/<r>/region.yaml, or sync would keep applying a region the user
// removed (or renamed) but did not render away.
func staleFolders(repo fs.FS, d *Desired) []error {
	if _, err := fs.Stat(repo, "overlays/fleet.yaml"); err != nil {
		return nil
	}
	var errs []error
	for _, r := range d.Regions {
		p := path.Join("overlays", r.Region, "region.yaml")
		if _, err := fs.Stat(repo, p); err != nil {
			errs = append(errs, fmt.Errorf("%s: region %q: the folder regions/%s is rendered but %s does not exist, so sync would keep applying a removed or renamed region (hint: run coderfleet render without --region, which removes regions/%s, commit, then coderfleet sync plan --prune to see what the region leaves in AWS)",
				p, r.Region, r.Region, p, r.Region))
		}
	}
	return errs
}

func loadRegion(repo fs.FS, region string, allow []config.Allowance) (*RegionState, error) {
	dir := path.Join("regions", region, "aws")
	if _, err := fs.Stat(repo, dir); err != nil {
		return nil, fmt.Errorf("region %q: reading %q: %w (is the region name right? run coderfleet render to create it)", region, dir, err)
	}
	rs := &RegionState{Region: region}
	var errs []error
	for _, want := range []struct {
		file     string
		kind     awsstate.Kind
		optional bool
	}{{awsstate.CertificatesFile, awsstate.KindCertificateList, false}, {awsstate.HealthChecksFile, awsstate.KindHealthCheckList, false}, {awsstate.RecordsFile, awsstate.KindRecordList, false},
		{awsstate.RolesFile, awsstate.KindRoleList, true}, {awsstate.SecretsFile, awsstate.KindSecretList, true},
		{awsstate.WorkspaceProxiesFile, awsstate.KindWorkspaceProxyList, true}, {awsstate.ProvisionerKeysFile, awsstate.KindProvisionerKeyList, true}} {
		p := path.Join(dir, want.file)
		data, err := fs.ReadFile(repo, p)
		if want.optional && errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if config.IsInputError(err) {
			errs = append(errs, err) // refused by the repository's filesystem, naming why
			continue
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("reading %q: %w (run coderfleet render)", p, err))
			continue
		}
		f, root, err := awsstate.ParseRoot(p, data)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		// The guard walks the same parsed document.
		if problems := validate.AWSTree(region, p, root, validate.Options{Allow: allow}); len(problems) > 0 {
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
		rs.Roles = append(rs.Roles, f.Roles...)
		rs.Secrets = append(rs.Secrets, f.Secrets...)
		rs.WorkspaceProxies = append(rs.WorkspaceProxies, f.WorkspaceProxies...)
		rs.ProvisionerKeys = append(rs.ProvisionerKeys, f.ProvisionerKeys...)
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
