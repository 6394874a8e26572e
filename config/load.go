package config

import (
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strings"

	yaml "go.yaml.in/yaml/v3"
	"golang.org/x/sync/errgroup"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/coderfleet/coderfleet/internal/awsrules"
	"github.com/coderfleet/coderfleet/internal/diag"
	"github.com/coderfleet/coderfleet/internal/strictyaml"
)

// Repository-relative locations of the configuration.
const (
	OverlaysDir = "overlays"
	FleetFile   = "overlays/fleet.yaml"
	RegionFile  = "region.yaml"
	OutputsFile = "outputs.yaml"
)

// Config is the whole fleet's configuration: the fleet file and every
// region, each with its effective settings.
type Config struct {
	Fleet   Fleet
	Regions []*RegionConfig // sorted by name
}

// RegionConfig is one region with the settings that apply to it: the
// fleet's settings with the region's overrides merged over them and role
// ARN placeholders expanded.
type RegionConfig struct {
	Region   Region
	Settings Settings
	// Certificates are the certificate ARNs that `coderfleet sync` wrote
	// to overlays/<region>/outputs.yaml, by certificate name.
	Certificates map[string]string
	// Dir is the region's overlay folder, relative to the repository.
	Dir string

	pos    positions // where region.yaml's keys were written
	setPos positions // where each effective setting was written (fleet.yaml or the overrides)
	// outputsErrs are certificates in outputs.yaml the region cannot use;
	// reported after the cross-region checks, which they do not affect.
	outputsErrs ErrorList
}

// RegionError returns an Error about key of the region's region.yaml (such
// as "name"), placed at the line where it was written.
func (r *RegionConfig) RegionError(key, msg, hint string) *Error { return r.at(key, msg, hint) }

// SettingError returns an Error about the region's effective setting key (a
// dotted key path as in overlays/README.md, e.g. "coder.env.CODER_TLS_ENABLE"
// or "workspaceNamespaces[1].name"), placed at the file and line where the key
// was written: fleet.yaml, or the region's region.yaml when its overrides set
// it. A key that was not written (a default) is placed at the nearest
// enclosing key that was, or at fleet.yaml without a line.
func (r *RegionConfig) SettingError(key, msg, hint string) *Error {
	c := &checker{pos: r.setPos, file: FleetFile}
	c.fail(key, hint, "%s", msg)
	return c.errs[0]
}

// at returns an Error placed at the line of key in the region's region.yaml.
func (r *RegionConfig) at(key, msg, hint string) *Error {
	e := &Error{File: r.Dir + "/" + RegionFile, Key: key, Msg: msg, Hint: hint}
	if p, ok := r.pos[key]; ok {
		e.Line, e.Col = p.Line, p.Col
	}
	return e
}

// Region returns the region called name, or nil.
func (c *Config) Region(name string) *RegionConfig {
	for _, r := range c.Regions {
		if r.Region.Name == name {
			return r
		}
	}
	return nil
}

// Primary returns the primary region (Load guarantees there is one).
func (c *Config) Primary() *RegionConfig {
	for _, r := range c.Regions {
		if r.Region.Role == RolePrimary {
			return r
		}
	}
	return nil
}

// OutputsParser parses overlays/<region>/outputs.yaml into certificate ARNs
// by name. It is injected so this package does not depend on the AWS
// desired-state format.
type OutputsParser func(file string, data []byte) (map[string]string, error)

// LoadOptions tune Load.
type LoadOptions struct {
	// ParseOutputs reads outputs.yaml files; when nil they are ignored.
	ParseOutputs OutputsParser
}

// Load reads overlays/fleet.yaml and every overlays/<region>/region.yaml of
// the repository at repo through fsys, and validates them. Every problem is
// reported at once as an ErrorList whose entries name file, line and key.
func Load(fsys filesys.FileSystem, repo string, opts LoadOptions) (*Config, error) {
	fleetData, err := fsys.ReadFile(filepath.Join(repo, FleetFile))
	var ce *Error
	if errors.As(err, &ce) {
		return nil, ce
	}
	if err != nil {
		return nil, &Error{File: FleetFile, Msg: "cannot read the fleet file: " + errText(err),
			Hint: "run coderfleet from the repository root or pass --repo; the fleet file describes fleet-wide settings"}
	}
	fleetRoot, err := parseDocument(FleetFile, fleetData)
	if err != nil {
		return nil, err
	}
	if fleetRoot == nil {
		return nil, &Error{File: FleetFile, Msg: "file is empty", Hint: "see overlays/README.md for the keys it needs"}
	}
	cfg := &Config{}
	var errs ErrorList
	fd := newDecoder(FleetFile)
	cfg.Fleet = Fleet{Settings: DefaultSettings()}
	fd.Decode(fleetRoot, &cfg.Fleet, "")
	errs = append(errs, fd.Errs...)
	if len(fd.Errs) == 0 {
		errs = append(errs, validateFleet(&cfg.Fleet, fd.Pos)...)
	}

	names, err := regionDirs(fsys, repo)
	if err != nil {
		return nil, err
	}
	fleetOK := len(errs) == 0
	// The regions load independently (fleetRoot is only read): spread them
	// over the CPUs, then take the results in name order, so the regions and
	// the errors come out as a one-by-one load gives them.
	loaded := make([]*RegionConfig, len(names))
	rerrs := make([]ErrorList, len(names))
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i, name := range names {
		g.Go(func() error {
			loaded[i], rerrs[i] = loadRegion(fsys, repo, name, fleetRoot, fleetOK, opts)
			return nil
		})
	}
	_ = g.Wait() // the jobs report through rerrs
	for i := range names {
		errs = append(errs, rerrs[i]...)
		if loaded[i] != nil {
			cfg.Regions = append(cfg.Regions, loaded[i])
		}
	}
	if len(errs) == 0 {
		errs = append(errs, validateFleetRegions(cfg)...)
	}
	for _, r := range cfg.Regions {
		errs = append(errs, r.outputsErrs...)
	}
	if err := dedupe(errs).Sorted().Err(); err != nil {
		return nil, err
	}
	return cfg, nil
}

func errText(err error) string {
	s := err.Error()
	if i := strings.LastIndex(s, ": "); i >= 0 && strings.Contains(s, "no such file") {
		return "no such file"
	}
	return s
}

// regionDirs lists the region folders under overlays/: every directory
// whose name does not start with "." or "_".
func regionDirs(fsys filesys.FileSystem, repo string) ([]string, error) {
	dir := filepath.Join(repo, OverlaysDir)
	var names []string
	entries, err := fsys.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("listing %q: %w", OverlaysDir, err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e, ".") || strings.HasPrefix(e, "_") {
			continue
		}
		if fsys.IsDir(filepath.Join(dir, e)) {
			names = append(names, e)
		}
	}
	sort.Strings(names)
	return names, nil
}

// loadRegion reads one region; its effective settings are validated only
// when the fleet file itself is valid (otherwise every region would repeat
// the fleet file's problems).
func loadRegion(fsys filesys.FileSystem, repo, name string, fleetRoot *yaml.Node, fleetOK bool, opts LoadOptions) (*RegionConfig, ErrorList) {
	dir := path.Join(OverlaysDir, name)
	file := path.Join(dir, RegionFile)
	data, err := fsys.ReadFile(filepath.Join(repo, file))
	var ce *Error
	if errors.As(err, &ce) {
		return nil, ErrorList{ce}
	}
	if err != nil {
		return nil, ErrorList{{File: file, Msg: "region folder has no region.yaml",
			Hint: fmt.Sprintf("create it with `coderfleet region add %s --aws-region <code>`, or remove the folder %q", name, dir)}}
	}
	root, err := parseDocument(file, data)
	if err != nil {
		return nil, asErrors(err)
	}
	if root == nil {
		return nil, ErrorList{{File: file, Msg: "file is empty", Hint: "see overlays/README.md for the keys it needs"}}
	}
	rd := newDecoder(file)
	rc := &RegionConfig{Dir: dir, pos: rd.Pos}
	rd.Decode(root, &rc.Region, "")
	if len(rd.Errs) > 0 {
		return nil, rd.Errs
	}
	errs := validateRegion(rc, name, file, rd.Pos)

	// Effective settings: fleet.yaml with the region's overrides merged in.
	merged := strictyaml.Clone(fleetRoot)
	md := newDecoder(FleetFile)
	if ov := rc.Region.Overrides; ov != nil {
		if ov.Kind != yaml.MappingNode {
			return nil, append(errs, &Error{File: file, Line: ov.Line, Col: ov.Column, Key: "overrides",
				Msg: "expected a mapping of fleet settings", Hint: "for example `overrides: {coder: {replicas: 2}}`"})
		}
		for i := 0; i+1 < len(ov.Content); i += 2 {
			if k := ov.Content[i]; identityKeys[k.Value] {
				errs = append(errs, &Error{File: file, Line: k.Line, Col: k.Column, Key: "overrides." + k.Value,
					Msg: "cannot be overridden per region", Hint: "it is the fleet's identity; change it in " + FleetFile})
			}
		}
		if len(errs) > 0 {
			return nil, errs
		}
		md.MergeInto(merged, ov, file)
	}
	full := Fleet{Settings: DefaultSettings()}
	md.Decode(merged, &full, "")
	if len(md.Errs) > 0 {
		return nil, append(errs, md.Errs...)
	}
	rc.Settings = full.Settings
	rc.setPos = md.Pos
	expanded := expandPlaceholders(rc, &full)
	at := awsPlace{region: rc.Region.Name, awsRegion: rc.Region.AWSRegion, account: full.AWSAccountID}
	if fleetOK {
		errs = append(errs, validateSettings(&rc.Settings, md.Pos, FleetFile, "", &rc.Region, at, expanded)...)
		if rc.Settings.IAM.Mode == IAMManaged {
			clearRoleARNs(&rc.Settings)
		}
		if IsDNSName(full.Domain) && dnsLabelRE.MatchString(rc.Region.Name) {
			// The longest name coderfleet derives for the region (ACM SAN,
			// Route53 record): *.<region>.<domain>.
			c := &checker{pos: rd.Pos, file: file}
			c.aws("name", awsrules.DomainName("*."+rc.Region.Name+"."+full.Domain))
			errs = append(errs, c.errs...)
		}
	}

	if opts.ParseOutputs != nil {
		outFile := path.Join(dir, OutputsFile)
		if fsys.Exists(filepath.Join(repo, outFile)) {
			data, err := fsys.ReadFile(filepath.Join(repo, outFile))
			if err != nil {
				return nil, append(errs, &Error{File: outFile, Msg: "cannot read", Err: err})
			}
			certs, err := opts.ParseOutputs(outFile, data)
			if err != nil {
				return nil, append(errs, asErrors(err)...)
			}
			rc.Certificates = certs
			if fleetOK {
				rc.outputsErrs = checkOutputs(outFile, data, at)
			}
		}
	}
	return rc, errs
}

// checkOutputs checks that every certificate in outputs.yaml can serve the
// region's load balancers: it is in the region's AWS region and the fleet's
// account (a hand edit or a copied file could say otherwise).
func checkOutputs(file string, data []byte, at awsPlace) ErrorList {
	root, err := parseDocument(file, data)
	if err != nil || root == nil || root.Kind != yaml.MappingNode {
		return nil // the outputs parser has reported it
	}
	var errs ErrorList
	for i := 0; i+1 < len(root.Content); i += 2 {
		certs := root.Content[i+1]
		if root.Content[i].Value != "certificates" || certs.Kind != yaml.MappingNode {
			continue
		}
		for j := 0; j+1 < len(certs.Content); j += 2 {
			k, v := certs.Content[j], certs.Content[j+1]
			if err := awsrules.CertificateARN(v.Value, at.awsRegion, at.account); err != nil {
				errs = append(errs, &Error{File: file, Line: v.Line, Col: v.Column, Key: "certificates." + k.Value,
					Msg: err.Error(), Hint: awsrules.HintOf(err) + "; outputs.yaml is written by `coderfleet sync apply`, run it again rather than editing the file"})
			}
		}
	}
	return errs
}

// asErrors keeps the *Error values of err as they are and wraps anything
// else.
func asErrors(err error) ErrorList {
	if l := diag.All(err); len(l) > 0 {
		return l
	}
	return ErrorList{{Err: err}}
}

// expandPlaceholders replaces {account}, {cluster}, {region} and
// {awsRegion} in every role ARN of the region's settings and in the role
// names of iam.allowWildcards. It returns the
// written value of every ARN that changed, by its expanded value, so
// messages can show both.
func expandPlaceholders(rc *RegionConfig, f *Fleet) map[string]string {
	r := strings.NewReplacer("{account}", f.AWSAccountID, "{cluster}", rc.Region.ClusterName,
		"{region}", rc.Region.Name, "{awsRegion}", rc.Region.AWSRegion)
	written := map[string]string{}
	expand := func(p *string) {
		if v := r.Replace(*p); v != *p {
			written[v] = *p
			*p = v
		}
	}
	s := &rc.Settings
	for _, p := range []*string{&s.Coder.ServiceAccountRoleARN, &s.LiteLLM.RoleARN, &s.KeySync.RoleARN, &s.KeySync.RotateRoleARN, &s.Secrets.RoleARN} {
		expand(p)
	}
	for i := range s.WorkspaceNamespaces {
		expand(&s.WorkspaceNamespaces[i].RoleARN)
	}
	for _, a := range s.Addons {
		expand(&a.RoleARN)
	}
	for i := range s.IAM.AllowWildcards {
		expand(&s.IAM.AllowWildcards[i].Role)
	}
	return written
}

func dedupe(errs ErrorList) ErrorList {
	seen := map[string]bool{}
	var out ErrorList
	for _, e := range errs {
		if k := e.Error(); !seen[k] {
			seen[k] = true
			out = append(out, e)
		}
	}
	return out
}
