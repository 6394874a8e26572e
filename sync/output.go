package sync

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"

	"github.com/coderfleet/coderfleet/internal/jsonout"
)

// Output formats of WritePlan.
const (
	FormatText = "text"
	FormatJSON = "json"
)

var actionSymbol = map[Action]string{Create: "+", Update: "~", Delete: "-"}

// WritePlan prints p like terraform plan (format "text") or as JSON, the
// PlanSchema document of docs/json.md.
func WritePlan(w io.Writer, p *Plan, format string) error {
	return writePlan(w, p, format, true)
}

// WriteApplyPlan prints p as text, the plan sync apply shows before it
// changes anything: WritePlan's text without the "Waiting for ..." blocks
// (its summary line still counts them). WriteResult prints those after
// applying, with what is then still waiting, so they are printed once.
func WriteApplyPlan(w io.Writer, p *Plan) error {
	return writePlan(w, p, FormatText, false)
}

func writePlan(w io.Writer, p *Plan, format string, waiting bool) error {
	switch format {
	case FormatJSON:
		if err := jsonout.Encode(w, planDocument{PlanSchema, newPlanBody(p)}); err != nil {
			return fmt.Errorf("encoding plan: %w", err)
		}
		return nil
	case FormatText, "":
	default:
		return fmt.Errorf("unknown output format %q (use text or json)", format)
	}
	var b strings.Builder
	if len(p.Changes) > 0 {
		b.WriteString("coderfleet sync will perform the following actions:\n\n")
	}
	for _, c := range slices.Concat(p.Changes, p.KnownAfterApply) {
		fmt.Fprintf(&b, "  %s %s %s", actionSymbol[c.Action], c.Resource, c.Address)
		if c.Reason != "" {
			fmt.Fprintf(&b, " (%s)", c.Reason)
		}
		b.WriteString("\n")
		width := 0
		for _, f := range c.Fields {
			if !isPolicyField(f.Name) { // a policy's diff starts on its own line
				width = max(width, len(f.Name))
			}
		}
		for _, f := range c.Fields {
			if isPolicyField(f.Name) {
				fmt.Fprintf(&b, "      %s:\n", f.Name)
				for _, l := range policyDiff(f.Old, f.New) {
					fmt.Fprintf(&b, "        %s\n", l)
				}
				continue
			}
			pad := strings.Repeat(" ", width-len(f.Name))
			switch {
			case c.Action == Create:
				fmt.Fprintf(&b, "      %s:%s %s\n", f.Name, pad, f.New)
			case c.Action == Delete:
				fmt.Fprintf(&b, "      %s:%s %s\n", f.Name, pad, f.Old)
			default:
				fmt.Fprintf(&b, "      %s:%s %s -> %s\n", f.Name, pad, orNone(f.Old), orNone(f.New))
			}
		}
	}
	writeCoderProxies(&b, p)
	records, roles := waitingKinds(p)
	if !waiting {
		records, roles = 0, 0
	}
	if records > 0 {
		b.WriteString("\nWaiting for load balancers (not an error):\n")
		for _, wt := range p.Waiting {
			if wt.Role == "" {
				fmt.Fprintf(&b, "  … record %s: no NLB yet for Service %s in cluster %s (%s)\n", wt.Record, wt.Service, wt.Cluster, wt.AWSRegion)
			}
		}
		b.WriteString("  Next: commit the rendered regions/ and let Flux apply it; once the AWS Load Balancer\n" +
			"  Controller has created the NLBs, run coderfleet sync apply again to create these records.\n")
	}
	if roles > 0 {
		b.WriteString("\nWaiting for EKS clusters (not an error):\n")
		for _, wt := range p.Waiting {
			if wt.Role != "" {
				fmt.Fprintf(&b, "  … %s %s/%s: no EKS cluster %s in %s yet; trust policy for ServiceAccount %s %s\n",
					ResourceRole, wt.Region, wt.Role, wt.Cluster, wt.AWSRegion, wt.ServiceAccount, knownAfterApply)
			}
		}
		b.WriteString("  Next: create the cluster and its IAM OIDC provider, then run coderfleet sync apply again\n" +
			"  to create these roles.\n")
	}
	if len(p.Conflicts) > 0 {
		what := "records"
		for _, c := range p.Conflicts {
			if c.Resource != "" {
				what = "objects"
			}
		}
		b.WriteString("\nConflicts (" + what + " coderfleet will not touch):\n")
		for _, c := range p.Conflicts {
			fmt.Fprintf(&b, "  ! %s\n", c)
		}
	}
	if len(p.Notes) > 0 {
		b.WriteString("\nNotes:\n")
		for _, n := range p.Notes {
			fmt.Fprintf(&b, "  - %s\n", n)
		}
	}
	if len(p.Changes) > 0 || len(b.String()) > 0 {
		b.WriteString("\n")
	}
	b.WriteString(summary(p))
	b.WriteString(".\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteResult prints what Apply did and what is left, like terraform apply,
// or as JSON, the ApplySchema document of docs/json.md.
// The "Apply complete" line is left out when r.Error is set: the error,
// from Result.Failed, reports the counts then.
func WriteResult(w io.Writer, r *Result, format string) error {
	if format == FormatJSON {
		if err := jsonout.Encode(w, newApplyDocument(r)); err != nil {
			return fmt.Errorf("encoding result: %w", err)
		}
		return nil
	}
	var b strings.Builder
	// A failed apply says so in its error (see Result.Failed), not here.
	if r.Error == "" {
		fmt.Fprintf(&b, "Apply complete: %s", r.CountsText())
		if r.Retries > 0 {
			fmt.Fprintf(&b, " (%d retried calls)", r.Retries)
		}
		b.WriteString(".\n")
	}
	for _, o := range r.Outputs {
		fmt.Fprintf(&b, "Wrote %s: run coderfleet render so the Services use the certificates, then commit.\n", o)
	}
	// What is still waiting: the plan after applying, or the one before
	// when Apply stopped early (sync apply printed it without its waiting).
	f := r.Final
	if f == nil && r.Plan != nil {
		f = &Plan{Waiting: r.Plan.Waiting}
	}
	if f != nil {
		if len(f.Waiting) > 0 || len(f.Conflicts) > 0 || len(f.Notes) > 0 {
			left := &Plan{Waiting: f.Waiting, Conflicts: f.Conflicts, Notes: f.Notes}
			var rest strings.Builder
			if err := WritePlan(&rest, left, FormatText); err != nil {
				return err
			}
			// Drop the "No changes" summary line of the partial plan.
			s := strings.TrimSpace(rest.String())
			if i := strings.LastIndex(s, "\n"); i >= 0 {
				s = strings.TrimSpace(s[:i])
			}
			b.WriteString(s + "\n")
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeCoderProxies adds the "Coder workspace proxies" block: each
// desired proxy, whether coderd has it and the status coderd reports.
func writeCoderProxies(b *strings.Builder, p *Plan) {
	if p.Coder == nil || len(p.Coder.Proxies) == 0 {
		return
	}
	if b.Len() > 0 {
		b.WriteString("\n")
	}
	b.WriteString("Coder workspace proxies:\n")
	for _, ps := range p.Coder.Proxies {
		fmt.Fprintf(b, "  %s/%s: %s\n", ps.Region, ps.Name, proxyStateText(ps))
	}
}

// proxyStateText words what coderd says of a desired proxy.
func proxyStateText(ps ProxyState) string {
	switch {
	case !ps.Registered:
		return "not registered (apply registers it; the token waits in Secrets Manager until the proxy starts)"
	case ps.Status == "ok":
		return "registered, coderd reports ok"
	case ps.Status == "unregistered":
		return "registered, coderd reports unregistered (the proxy has not connected yet: once Flux applies the region, it does)"
	case ps.Status == "":
		return "registered, coderd reports no status"
	default:
		return "registered, coderd reports " + ps.Status
	}
}

// waitingKinds counts the waiting records and the waiting roles of p.
func waitingKinds(p *Plan) (records, roles int) {
	for _, w := range p.Waiting {
		if w.Role != "" {
			roles++
		} else {
			records++
		}
	}
	return records, roles
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// summary is the last line of a text plan, without its period. Its opening
// words follow p.Status(), as the JSON "status" and the exit code of
// plan --detailed-exitcode do.
func summary(p *Plan) string {
	var b strings.Builder
	add, change, destroy := p.Counts()
	counts := fmt.Sprintf("%d to add, %d to change, %d to destroy", add, change, destroy)
	if n := len(p.KnownAfterApply); n > 0 {
		counts += fmt.Sprintf(", %d validation record(s) known after apply to add", n)
	}
	if len(p.Outputs) > 0 {
		counts += fmt.Sprintf(", %d outputs file(s) to write", len(p.Outputs))
	}
	switch p.Status() {
	case StatusConflicts:
		fmt.Fprintf(&b, "Conflicts: %d desired object(s) cannot be made (apply makes the rest, then fails); plan: %s", len(p.Conflicts), counts)
	case StatusChangesPending:
		b.WriteString("Plan: " + counts)
	case StatusWaiting:
		records, roles := waitingKinds(p)
		var what []string
		if records > 0 {
			what = append(what, "records wait for their load balancers")
		}
		if roles > 0 {
			what = append(what, "IAM roles wait for their EKS clusters")
		}
		b.WriteString("Nothing to apply now; " + strings.Join(what, ", "))
	case StatusConverged:
		if p.Kept == 0 {
			b.WriteString("No changes. AWS matches the desired state")
		} else {
			b.WriteString("No changes. The desired state is in place")
		}
	}
	fmt.Fprintf(&b, "; %d waiting, %d conflicts", len(p.Waiting), len(p.Conflicts))
	if p.Kept > 0 {
		fmt.Fprintf(&b, "; %d owned object(s) outside it kept (see Notes; --prune deletes them)", p.Kept)
	}
	return b.String()
}

// outputsSkipped returns the line apply prints instead of writing the
// outputs file of region, or "" when the file is to be written. In a
// repository with overlays/fleet.yaml, a region whose overlays/<region>/
// folder is gone (removed while apply ran: LoadDesired refuses it before)
// is being decommissioned; an outputs.yaml alone in a recreated folder
// would make the next render fail on an overlay without region.yaml.
func outputsSkipped(repo fs.FS, region string) string {
	if _, err := fs.Stat(repo, "overlays/fleet.yaml"); err != nil {
		return ""
	}
	dir := path.Join("overlays", region)
	if _, err := fs.Stat(repo, dir); !errors.Is(err, fs.ErrNotExist) {
		return ""
	}
	return fmt.Sprintf("not writing %s: %s/ no longer exists, so region %s is being decommissioned (next: coderfleet render, then coderfleet sync apply --prune)",
		outputsPath(region), dir, region)
}
