package sync

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"path"
	"slices"
	"strings"

	"github.com/coderfleet/coderfleet/awsstate"
	"github.com/coderfleet/coderfleet/internal/coderapi"
)

// CoderStatus is what status read of the primary's Coder deployment.
type CoderStatus struct {
	// Read is false when Coder was not read; Reason then says why.
	Read   bool   `json:"read"`
	Reason string `json:"reason,omitempty"`
	// URL is CODER_URL; Version the coderd version /api/v2/buildinfo reports.
	URL     string `json:"url,omitempty"`
	Version string `json:"version,omitempty"`
}

// CoderRegionStatus is a region's desired Coder objects as coderd reports them.
type CoderRegionStatus struct {
	// Proxy is the region's workspace proxy (workspaceproxies.yaml); nil
	// when the region has none (the primary).
	Proxy *ProxyStatus `json:"proxy,omitempty"`
	// Provisioners has one entry per provisioner key (provisionerkeys.yaml),
	// that is per workspace namespace.
	Provisioners []ProvisionerStatus `json:"provisioners"`
}

// ProxyStatus is a desired workspace proxy in coderd.
type ProxyStatus struct {
	Name string `json:"name"`
	// Registered: coderd has a proxy of that name (created by sync apply).
	Registered bool `json:"registered"`
	// Status is coderd's health status (ok, unregistered, unreachable,
	// unhealthy, unknown); empty when not registered.
	Status string `json:"status,omitempty"`
	// Version is the coder version the proxy registered with.
	Version string `json:"version,omitempty"`
	// Errors are the errors of coderd's last health check of it.
	Errors []string `json:"errors,omitempty"`
}

// ProvisionerStatus is the provisioner daemons coderd lists with a desired
// key's tags.
type ProvisionerStatus struct {
	// Namespace is the key's "namespace" tag (the key name without one).
	Namespace    string            `json:"namespace"`
	Key          string            `json:"key"`
	Organization string            `json:"organization"`
	Tags         map[string]string `json:"tags"`
	// Connected counts the daemons that are not offline.
	Connected int `json:"connected"`
	// Versions are the coder versions of the connected daemons, sorted, once each.
	Versions []string `json:"versions,omitempty"`
}

// NextProxyRegisters is the next step of a proxy region whose workspace
// proxy is registered in coderd but has not started yet.
const NextProxyRegisters = "commit the rendered regions/ and let Flux apply it; the workspace proxy registers with coderd once it runs with its token from Secrets Manager"

// CoderSkipped is the reason status gives for not reading Coder without CODER_URL.
const CoderSkipped = "CODER_URL is not set: the workspace proxies and provisioner daemons are not shown (set CODER_URL and CODER_SESSION_TOKEN, an Owner's token)"

// ReadCoderStatus reads, with the client c, the workspace proxy and the
// provisioner daemons each region of f desires (regions/<r>/aws/
// workspaceproxies.yaml and provisionerkeys.yaml in repo; a missing file
// means none) and coderd's version, and adds them to f, judging each
// region again: a proxy that does not report ok keeps its region from
// serving (the next step), and a workspace namespace without a connected
// provisioner daemon degrades it. It reads and never changes anything.
// Each call is retried as sync's are (429, 5xx and broken connections,
// with opts.Retry's backoff slept on opts.Clock, each retry a line on
// opts.Progress); of opts it uses Repo, Clock, Retry and Progress.
// Errors wrap *coderapi.Error (with its hint) or a failure to reach coderd.
func ReadCoderStatus(ctx context.Context, c *coderapi.Client, opts Options, f *FleetStatus) error {
	s := &syncer{opts: opts, clock: opts.Clock}
	if s.clock == nil {
		s.clock = RealClock{}
	}
	repo := opts.Repo
	call := func(what string, fn func(ctx context.Context) error) error {
		_, err := s.call(ctx, what, fn) // the caller names coderd
		return err
	}
	var info coderapi.BuildInfo
	if err := call("reading the version", func(ctx context.Context) (err error) {
		info, err = c.BuildInfo(ctx)
		return err
	}); err != nil {
		return err
	}
	f.Coder = &CoderStatus{Read: true, URL: c.URL(), Version: info.Version}
	var proxies []coderapi.WorkspaceProxy
	if err := call("listing workspace proxies", func(ctx context.Context) (err error) {
		proxies, err = c.WorkspaceProxies(ctx)
		return err
	}); err != nil {
		return err
	}
	orgs := map[string]string{}
	for i := range f.Regions {
		r := &f.Regions[i]
		cs := &CoderRegionStatus{Provisioners: []ProvisionerStatus{}}
		var degraded, next []string
		wp, err := readCoderFile(repo, r.Region, awsstate.WorkspaceProxiesFile)
		if err != nil {
			return err
		}
		for _, want := range wp.WorkspaceProxies {
			ps := &ProxyStatus{Name: want.Name}
			cs.Proxy = ps
			j := slices.IndexFunc(proxies, func(p coderapi.WorkspaceProxy) bool { return p.Name == want.Name && !p.Deleted })
			switch {
			case j < 0:
				next = append(next, NextSyncApply)
				continue
			default:
				p := proxies[j]
				ps.Registered, ps.Status, ps.Version, ps.Errors = true, string(p.Status.Status), p.Version, p.Status.Report.Errors
			}
			switch coderapi.ProxyHealthStatus(ps.Status) {
			case coderapi.ProxyHealthy:
			case coderapi.ProxyUnregistered:
				next = append(next, NextProxyRegisters)
			default:
				what := fmt.Sprintf("wait for coderd to report workspace proxy %s ok (now %s", want.Name, ps.Status)
				if len(ps.Errors) > 0 {
					what += ": " + ps.Errors[0]
				}
				next = append(next, what+")")
			}
		}
		pk, err := readCoderFile(repo, r.Region, awsstate.ProvisionerKeysFile)
		if err != nil {
			return err
		}
		for _, k := range pk.ProvisionerKeys {
			ns := k.Tags["namespace"]
			if ns == "" {
				ns = k.Name
			}
			st := ProvisionerStatus{Namespace: ns, Key: k.Name, Organization: k.Organization, Tags: k.Tags}
			id, ok := orgs[k.Organization]
			if !ok {
				var o coderapi.Organization
				err := call("reading organization "+k.Organization, func(ctx context.Context) (err error) {
					o, err = c.Organization(ctx, k.Organization)
					return err
				})
				if err != nil {
					return fmt.Errorf("%s: provisioner key %s: %w", path.Join("regions", r.Region, "aws", awsstate.ProvisionerKeysFile), k.Name, err)
				}
				id = o.ID
				orgs[k.Organization] = id
			}
			var daemons []coderapi.ProvisionerDaemon
			err := call("listing the provisioner daemons of key "+k.Name, func(ctx context.Context) (err error) {
				daemons, err = c.ProvisionerDaemons(ctx, id, k.Tags)
				return err
			})
			if err != nil {
				return err
			}
			versions := map[string]bool{}
			for _, d := range daemons {
				if d.Status != nil && *d.Status == coderapi.ProvisionerDaemonOffline {
					continue
				}
				st.Connected++
				versions[d.Version] = true
			}
			st.Versions = slices.Sorted(maps.Keys(versions))
			if st.Connected == 0 {
				degraded = append(degraded, "no provisioner daemon connected for namespace "+ns)
			}
			cs.Provisioners = append(cs.Provisioners, st)
		}
		r.Coder = cs
		judgeCoder(r, degraded, next)
	}
	return nil
}

// judgeCoder folds a region's Coder findings into its verdict: the AWS
// part's next step comes first (Coder's state follows from it), a
// degraded AWS part collects the Coder problems too.
func judgeCoder(r *RegionStatus, degraded, next []string) {
	switch r.Verdict {
	case VerdictDegraded:
		if len(degraded) > 0 {
			r.Reason += "; " + strings.Join(degraded, "; ")
		}
	case VerdictServing:
		switch {
		case len(degraded) > 0:
			r.Verdict, r.Reason = VerdictDegraded, strings.Join(degraded, "; ")
		case len(next) > 0:
			r.Verdict, r.Reason = VerdictNotYetServing, strings.Join(next, "; ")
		}
	}
}

// readCoderFile parses regions/<region>/aws/<name>; a missing file is an
// empty list.
func readCoderFile(repo fs.FS, region, name string) (*awsstate.File, error) {
	file := path.Join("regions", region, "aws", name)
	data, err := fs.ReadFile(repo, file)
	if errors.Is(err, fs.ErrNotExist) {
		return &awsstate.File{}, nil
	}
	if err != nil {
		return nil, &InputError{Err: fmt.Errorf("reading %s: %w", file, err)}
	}
	f, err := awsstate.Parse(file, data)
	if err != nil {
		return nil, &InputError{Err: err}
	}
	return f, nil
}
