package sync

import (
	"fmt"
	"io"
	"strings"

	"github.com/coderfleet/coderfleet/internal/jsonout"
)

// StatusSchema is the schema version of `status -o json` (docs/json.md,
// docs/schemas/status.json).
var StatusSchema = jsonout.Schema("status")

// statusSummary counts the regions by verdict.
type statusSummary struct {
	Regions       int `json:"regions"`
	Serving       int `json:"serving"`
	Degraded      int `json:"degraded"`
	NotYetServing int `json:"notYetServing"`
}

type statusDocument struct {
	SchemaVersion string         `json:"schemaVersion"`
	Summary       statusSummary  `json:"summary"`
	Coder         *CoderStatus   `json:"coder,omitempty"`
	Regions       []RegionStatus `json:"regions"`
}

func (f *FleetStatus) summary() statusSummary {
	s := statusSummary{Regions: len(f.Regions)}
	for _, r := range f.Regions {
		switch r.Verdict {
		case VerdictServing:
			s.Serving++
		case VerdictDegraded:
			s.Degraded++
		default:
			s.NotYetServing++
		}
	}
	return s
}

// VerdictLine words a region's verdict as the text output does:
// "serving", "degraded (<what>)" or "not yet serving (<next step>)".
func (r RegionStatus) VerdictLine() string {
	switch r.Verdict {
	case VerdictServing:
		return "serving"
	case VerdictDegraded:
		return "degraded (" + r.Reason + ")"
	default:
		return "not yet serving (" + r.Reason + ")"
	}
}

// ProgressLine is one line of status --watch after a round: how many
// regions serve, and the verdict of each that does not.
func (f *FleetStatus) ProgressLine() string {
	s := f.summary()
	var b strings.Builder
	fmt.Fprintf(&b, "%d of %d regions serving", s.Serving, s.Regions)
	for _, r := range f.Regions {
		if r.Verdict != VerdictServing {
			fmt.Fprintf(&b, "; %s: %s", r.Region, r.VerdictLine())
		}
	}
	return b.String()
}

// WriteStatus prints f as text or as the JSON document of StatusSchema.
func WriteStatus(w io.Writer, f *FleetStatus, format string) error {
	switch format {
	case FormatJSON:
		if err := jsonout.Encode(w, statusDocument{StatusSchema, f.summary(), f.Coder, f.Regions}); err != nil {
			return fmt.Errorf("encoding status: %w", err)
		}
		return nil
	case FormatText, "":
	default:
		return fmt.Errorf("unknown output format %q (use text or json)", format)
	}
	var b strings.Builder
	for i, r := range f.Regions {
		if i > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "%s: %s\n", r.Region, r.VerdictLine())
		for _, c := range r.Certificates {
			fmt.Fprintf(&b, "  certificate %s: %s", c.Name, c.Status)
			if c.ARN != "" {
				fmt.Fprintf(&b, " %s", c.ARN)
			}
			if c.DaysToExpiry != nil {
				fmt.Fprintf(&b, ", expires in %d days", *c.DaysToExpiry)
			}
			if c.ARN != "" {
				if c.InOutputs {
					b.WriteString(", in outputs.yaml")
				} else {
					b.WriteString(", not in outputs.yaml")
				}
			}
			switch {
			case c.InService == nil:
			case *c.InService:
				fmt.Fprintf(&b, ", Service %s uses it", c.Service)
			case c.ServiceARN == "":
				fmt.Fprintf(&b, ", Service %s has no certificate annotation", c.Service)
			default:
				fmt.Fprintf(&b, ", Service %s uses %s", c.Service, c.ServiceARN)
			}
			b.WriteString("\n")
		}
		for _, lb := range r.LoadBalancers {
			fmt.Fprintf(&b, "  load balancer %s (cluster %s, %s): %s", lb.Service, lb.Cluster, lb.AWSRegion, lb.State)
			if lb.DNSName != "" {
				fmt.Fprintf(&b, " %s", lb.DNSName)
			}
			if lb.Aliased {
				b.WriteString(", records point at it")
			} else {
				b.WriteString(", records do not all point at it")
			}
			b.WriteString("\n")
		}
		for _, rec := range r.Records {
			fmt.Fprintf(&b, "  record %s: %s\n", rec.Record, rec.State)
			writeDrift(&b, rec.Drift)
			if h := rec.HealthCheck; h != nil {
				if h.ID == "" {
					fmt.Fprintf(&b, "    health check %s: missing\n", h.Name)
					continue
				}
				fmt.Fprintf(&b, "    health check %s (%s): %d/%d checkers healthy", h.Name, h.ID, h.Healthy, h.Checkers)
				if h.LastFailure != "" {
					fmt.Fprintf(&b, ", last failure: %s", h.LastFailure)
				}
				b.WriteString("\n")
			}
		}
		for _, role := range r.Roles {
			fmt.Fprintf(&b, "  %s %s: %s\n", ResourceRole, role.Name, role.State)
			writeDrift(&b, role.Drift)
		}
		writeCoderRegion(&b, r.Coder)
	}
	if c := f.Coder; c != nil && c.Read {
		fmt.Fprintf(&b, "\nCoder: %s, coderd %s\n", c.URL, c.Version)
	} else if c != nil {
		fmt.Fprintf(&b, "\nCoder: not read: %s\n", c.Reason)
	}
	s := f.summary()
	fmt.Fprintf(&b, "\nStatus: %d of %d regions serving, %d degraded, %d not yet serving.\n", s.Serving, s.Regions, s.Degraded, s.NotYetServing)
	_, err := io.WriteString(w, b.String())
	return err
}

// writeDrift prints the fields of a drifted record or role, as sync plan does.
func writeDrift(b *strings.Builder, fields []Field) {
	for _, f := range fields {
		fmt.Fprintf(b, "      %s: %s -> %s\n", f.Name, orNone(f.Old), orNone(f.New))
	}
}

// writeCoderRegion prints a region's workspace proxy and provisioner daemons.
func writeCoderRegion(b *strings.Builder, c *CoderRegionStatus) {
	if c == nil {
		return
	}
	if p := c.Proxy; p != nil {
		switch {
		case !p.Registered:
			fmt.Fprintf(b, "  workspace proxy %s: not in coderd\n", p.Name)
		case p.Version != "":
			fmt.Fprintf(b, "  workspace proxy %s: in coderd, status %s, version %s\n", p.Name, p.Status, p.Version)
		default:
			fmt.Fprintf(b, "  workspace proxy %s: in coderd, status %s\n", p.Name, p.Status)
		}
		for _, e := range p.Errors {
			fmt.Fprintf(b, "    error: %s\n", e)
		}
	}
	for _, p := range c.Provisioners {
		fmt.Fprintf(b, "  provisioners of namespace %s (key %s): %d connected", p.Namespace, p.Key, p.Connected)
		if len(p.Versions) > 0 {
			fmt.Fprintf(b, ", version %s", strings.Join(p.Versions, ", "))
		}
		b.WriteString("\n")
	}
}
