package main

import (
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/coderfleet/coderfleet/config"
	"github.com/coderfleet/coderfleet/internal/fleet"
	"github.com/coderfleet/coderfleet/internal/jsonout"
	"github.com/coderfleet/coderfleet/internal/repofs"
	"github.com/coderfleet/coderfleet/internal/scaffold"
	"github.com/coderfleet/coderfleet/internal/treeio"
	"github.com/coderfleet/coderfleet/render"
)

// regionListSchema names the JSON schema of `region list -o json`; it
// changes only when a field is removed or changes meaning.
var regionListSchema = jsonout.Schema("region-list")

// Values of a region's "rendered" state in `region list`.
const (
	renderedNo      = "no"      // no regions/<region>/ folder with the ownership marker
	renderedPresent = "present" // the folder exists, but this machine's render state does not vouch for it
	renderedCurrent = "current" // the folder holds exactly what the last render on this machine wrote
)

// regionRow is one region of `region list`.
type regionRow struct {
	Name      string `json:"name"`
	Role      string `json:"role"`
	AWSRegion string `json:"awsRegion"`
	Cluster   string `json:"clusterName"`
	// Rendered is renderedNo, renderedPresent or renderedCurrent.
	Rendered string `json:"rendered"`
	// Synced: outputs.yaml holds certificate ARNs (sync apply ran).
	Synced       bool     `json:"synced"`
	Certificates []string `json:"certificates"`
}

func newRegionListCommand() *cobra.Command {
	var repo, output string
	c := &cobra.Command{
		Use:   "list",
		Short: "List the fleet's regions with their role, AWS region, cluster and state",
		Long: `region list prints one row per region under overlays/: its name, role, AWS
region, EKS cluster and state. RENDERED is "current" when regions/<region>/
holds exactly what the last render on this machine wrote (the render state in
.coderfleet/render-state.json; coderfleet check proves it matches the inputs),
"present" when the folder exists but this machine did not render it (a fresh
clone), "no" when there is none. SYNCED is "yes" when
overlays/<region>/outputs.yaml holds certificate ARNs (coderfleet sync apply
ran). -o json prints {"schemaVersion": "` + regionListSchema + `", "summary": {...},
"regions": [...]} (docs/json.md).`,
		Example: `  coderfleet region list
  coderfleet region list -o json | jq -r '.regions[] | select(.synced | not) | .name'`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return runRegionList(repo, output, c.OutOrStdout())
		},
	}
	addRepoFlag(c, &repo)
	addOutputFlag(c, &output, textOrJSON)
	return c
}

func runRegionList(repo, output string, out io.Writer) error {
	if err := checkOutput(output, textOrJSON); err != nil {
		return err
	}
	fsys, err := repofs.Open(repo)
	if err != nil {
		return err
	}
	defer fsys.Close()
	cfg, err := config.Load(fsys, repo, config.LoadOptions{ParseOutputs: fleet.ParseOutputs})
	if err != nil {
		return err
	}
	regionsDir := filepath.Join(repo, "regions")
	current := treeio.LoadState(filepath.Join(repo, treeio.StateFile)).Previous(regionsDir)
	rows := make([]regionRow, 0, len(cfg.Regions))
	for _, r := range cfg.Regions {
		row := regionRow{Name: r.Region.Name, Role: r.Region.Role, AWSRegion: r.Region.AWSRegion, Cluster: r.Region.ClusterName,
			Rendered: renderedNo, Certificates: []string{}}
		if _, err := fsys.Stat(filepath.Join(regionsDir, row.Name, render.MarkerFile)); err == nil {
			row.Rendered = renderedPresent
			if _, ok := current[row.Name]; ok {
				row.Rendered = renderedCurrent
			}
		}
		row.Certificates = append(row.Certificates, slices.Sorted(maps.Keys(r.Certificates))...)
		row.Synced = len(row.Certificates) > 0
		rows = append(rows, row)
	}
	if output == outputJSON {
		d := regionListDocument{SchemaVersion: regionListSchema, Regions: rows}
		d.Summary.Regions = len(rows)
		for _, r := range rows {
			if r.Role == config.RolePrimary {
				d.Summary.Primary++
			} else {
				d.Summary.Proxies++
			}
			if r.Rendered != renderedNo {
				d.Summary.Rendered++
			}
			if r.Synced {
				d.Summary.Synced++
			}
		}
		return jsonout.Encode(out, d)
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tROLE\tAWS REGION\tCLUSTER\tRENDERED\tSYNCED")
	for _, r := range rows {
		synced := "no"
		if r.Synced {
			synced = "yes"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Name, r.Role, r.AWSRegion, r.Cluster, r.Rendered, synced)
	}
	return tw.Flush()
}

// regionListDocument is `region list -o json`.
type regionListDocument struct {
	SchemaVersion string `json:"schemaVersion"`
	Summary       struct {
		Regions int `json:"regions"`
		Primary int `json:"primary"`
		Proxies int `json:"proxies"`
		// Rendered counts the regions whose folder exists ("present" or
		// "current"); Synced those with certificate ARNs.
		Rendered int `json:"rendered"`
		Synced   int `json:"synced"`
	} `json:"summary"`
	Regions []regionRow `json:"regions"`
}

func newRegionRemoveCommand() *cobra.Command {
	var repo string
	var lockTimeout time.Duration
	c := &cobra.Command{
		Use:   "remove NAME",
		Short: "Remove a region: delete overlays/NAME/ and print the decommissioning steps",
		Long: `region remove deletes overlays/NAME/ and prints the steps that take the region
down: render (which deletes regions/NAME/), commit, the Flux cleanup in its
cluster (while the add-ons still have their IAM roles to delete the NLBs and
nodes), then sync plan --prune and sync apply --prune (which delete its DNS
records, health check, certificates and IAM roles). It refuses, changing nothing, a name that
is no region folder (exit 64), the primary, and a region that another YAML file
under overlays/ mentions (exit 3, naming file, line and key). It holds both
lock files of the repository, .coderfleet/render.lock and .coderfleet/sync.lock,
while it runs: a render or sync apply that is running keeps it from deleting
the overlay under them (exit 4 naming the holder, or --lock-timeout waits).`,
		Example:           `  coderfleet region remove eu-west-2`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeRegionArg,
		RunE: func(c *cobra.Command, args []string) error {
			// The overlay it deletes is what render and sync apply read (and
			// apply writes its outputs.yaml into): it takes both locks.
			release, err := lockRepoFiles(c.Context(), c.CommandPath(), repo, []string{renderLockFile, syncLockFile}, lockTimeout, c.ErrOrStderr())
			if err != nil {
				return err
			}
			defer release()
			return runRegionRemove(repo, args[0], c.OutOrStdout())
		},
	}
	addRepoFlag(c, &repo)
	addLockTimeoutFlag(c, &lockTimeout, renderLockFile+" and "+syncLockFile)
	return c
}

func runRegionRemove(repo, name string, out io.Writer) error {
	fsys, err := repofs.Open(repo)
	if err != nil {
		return err
	}
	defer fsys.Close()
	rm, err := scaffold.RemoveRegion(fsys, fsys.Dir(), name)
	if err != nil {
		return scaffoldError(err)
	}
	cluster := rm.ClusterName
	if cluster == "" {
		cluster = "the region's cluster"
	}
	fmt.Fprintf(out, "removed %s/ (region %s in %s, cluster %s)\n\n", rm.Dir, rm.Name, rm.AWSRegion, cluster)
	steps := []nextStep{
		{"render, which deletes regions/" + name + "/ (the Flux Kustomizations with it):", "coderfleet render"},
		{"commit the removal of overlays/" + name + " and regions/" + name + " and merge it", ""},
		{"in cluster " + cluster + ", delete the Flux Kustomization that points at ./regions/" + name + "/flux (its path\nis gone, so Flux cannot prune through it); deleting the Kustomizations removes what they applied\n(prune: true), or, when the cluster itself goes away: flux uninstall. Do this before pruning AWS: the load\nbalancer controller and Karpenter need their IAM roles to delete the NLBs and nodes", ""},
		{"see what AWS and coderd still hold for the region (records, health check, certificates, IAM roles, its\nworkspace proxy and provisioner keys with their token secrets; CODER_URL and CODER_SESSION_TOKEN set),\nplanned as deletions, \"-\":", "coderfleet sync plan --prune"},
		{"delete them (ACM keeps a certificate while a load balancer still uses it: wait until the NLBs are gone):", "coderfleet sync apply --prune"},
	}
	printSteps(out, steps)
	return nil
}
