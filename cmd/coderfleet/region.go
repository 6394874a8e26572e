package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/coderfleet/coderfleet/config"
	"github.com/coderfleet/coderfleet/internal/jsonout"
	"github.com/coderfleet/coderfleet/internal/repofs"
	"github.com/coderfleet/coderfleet/internal/scaffold"
)

// regionAddOptions are the flags of region add.
type regionAddOptions struct {
	repo string
	spec scaffold.RegionSpec
	// lockTimeout is how long region add waits for the repository's lock.
	lockTimeout time.Duration
}

func newRegionCommand() *cobra.Command {
	c := &cobra.Command{
		Use:   "region",
		Short: "Manage the fleet's regions",
		Example: `  coderfleet region list
  coderfleet region add ap-south-1 --aws-region ap-south-1
  coderfleet region remove ap-south-1`,
	}
	c.AddCommand(newRegionAddCommand(), newRegionListCommand(), newRegionRemoveCommand())
	return c
}

func newRegionAddCommand() *cobra.Command {
	o := &regionAddOptions{}
	var output string
	c := &cobra.Command{
		Use:   "add NAME --aws-region CODE",
		Short: "Add a region: write overlays/NAME/region.yaml and print the next steps",
		Long: `region add writes overlays/NAME/region.yaml, with a comment on each key, for a
new region of the fleet (a workspace proxy unless --role primary), and prints
the steps that bring it up. It refuses a name that exists or is not a DNS
label, an unknown AWS region code (suggesting the nearest), and a second
primary. It holds the repository's lock file .coderfleet/render.lock while it
runs (see render), so a render never reads a half-made overlay and two region
verbs never race; --lock-timeout waits for a holder. Defaults: --cluster-name
<fleet>-NAME, --display-name the AWS region's location (e.g. Oregon), --icon
the globe emoji. -o json prints one document,
schema ` + regionAddSchema + ` (docs/json.md): the region as written and the
next steps, each with its command.`,
		Example: `  # A workspace proxy in Mumbai
  coderfleet region add ap-south-1 --aws-region ap-south-1

  # With the cluster's real name and the name users see in Coder
  coderfleet region add frankfurt --aws-region eu-central-1 \
    --cluster-name platform-euc1 --display-name "Frankfurt" --icon /emojis/1f1e9-1f1ea.png

  # For a script: the commands of the next steps
  coderfleet region add ap-south-1 --aws-region ap-south-1 -o json | jq -r '.nextSteps[].command // empty'`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			o.spec.Name = args[0]
			if o.spec.AWSRegion == "" {
				return &usageError{err: fmt.Errorf("--aws-region is required: the AWS region code of the region's cluster, e.g. --aws-region %s", suggestAWSRegion(args[0]))}
			}
			// Render reads overlays/, and two region verbs at once could
			// each pass the one-primary check.
			l, err := lockRepo(c.Context(), c.CommandPath(), o.repo, renderLockFile, o.lockTimeout, c.ErrOrStderr())
			if err != nil {
				return err
			}
			defer l.Release()
			return runRegionAdd(o, output, c.OutOrStdout())
		},
	}
	addRepoFlag(c, &o.repo)
	addLockTimeoutFlag(c, &o.lockTimeout, renderLockFile)
	c.Flags().StringVar(&o.spec.AWSRegion, "aws-region", "", "AWS region code of the region's cluster, e.g. eu-west-2 (required)")
	_ = c.RegisterFlagCompletionFunc("aws-region", completeAWSRegions)
	c.Flags().StringVar(&o.spec.Role, "role", config.RoleProxy, "proxy (a Coder workspace proxy) or primary (coderd; one per fleet)")
	_ = c.RegisterFlagCompletionFunc("role", cobra.FixedCompletions([]string{config.RoleProxy, config.RolePrimary}, cobra.ShellCompDirectiveNoFileComp))
	c.Flags().StringVar(&o.spec.DisplayName, "display-name", "", "name in Coder's region picker (default: the AWS region's location)")
	c.Flags().StringVar(&o.spec.ClusterName, "cluster-name", "", "the EKS cluster's name (default: <fleet>-NAME)")
	c.Flags().StringVar(&o.spec.Icon, "icon", "", "icon in Coder's region picker (default "+scaffold.DefaultIcon+")")
	addOutputFlag(c, &output, textOrJSON)
	return c
}

func runRegionAdd(o *regionAddOptions, output string, out io.Writer) error {
	if err := checkOutput(output, textOrJSON); err != nil {
		return err
	}
	fsys, err := repofs.Open(o.repo)
	if err != nil {
		return err
	}
	defer fsys.Close()
	added, err := scaffold.AddRegion(fsys, fsys.Dir(), o.spec)
	if err != nil {
		return scaffoldError(err)
	}
	s := added.Spec
	coder := "register its provisioner keys"
	if s.Role == config.RoleProxy {
		coder = "register its workspace proxy and provisioner keys"
	}
	steps := []nextStep{
		{"review " + added.File + " (overrides go there too), then render the region:", "coderfleet render"},
		{fmt.Sprintf("once cluster %s and its IAM OIDC provider exist, set CODER_URL and CODER_SESSION_TOKEN\n"+
			"(an Owner's token), then request its ACM certificate(s), create its IAM roles and\n"+
			"%s; their tokens go to Secrets Manager, where ExternalSecrets read them:", s.ClusterName, coder),
			"coderfleet sync apply --region " + s.Name},
		{"render again, so the load balancer Service carries the certificate:", "coderfleet render"},
		{"commit overlays/" + s.Name + " and regions/" + s.Name + "; point the cluster's Flux at ./regions/" + s.Name + "/flux,\nand Flux applies it", ""},
		{"once the load balancer exists, create the DNS records and health checks:", "coderfleet sync apply --region " + s.Name},
	}
	if output == outputJSON {
		d := regionAddDocument{SchemaVersion: regionAddSchema, File: added.File, NextSteps: jsonSteps(steps),
			Region: addedRegion{Name: s.Name, Role: s.Role, AWSRegion: s.AWSRegion, ClusterName: s.ClusterName, DisplayName: s.DisplayName, Icon: s.Icon}}
		d.Summary.FilesWritten, d.Summary.NextSteps = 1, len(d.NextSteps)
		return jsonout.Encode(out, d)
	}
	fmt.Fprintf(out, "wrote %s (%s %s in %s, cluster %s)\n\n", added.File, s.Role, s.Name, s.AWSRegion, s.ClusterName)
	printSteps(out, steps)
	return nil
}

// regionAddSchema names the JSON document of `region add -o json`.
var regionAddSchema = jsonout.Schema("region-add")

type regionAddDocument struct {
	SchemaVersion string `json:"schemaVersion"`
	Summary       struct {
		FilesWritten int `json:"filesWritten"`
		NextSteps    int `json:"nextSteps"`
	} `json:"summary"`
	Region addedRegion `json:"region"`
	// File is the region.yaml written, relative to the repository.
	File      string     `json:"file"`
	NextSteps []jsonStep `json:"nextSteps"`
}

// addedRegion is the region as written, defaults filled in.
type addedRegion struct {
	Name        string `json:"name"`
	Role        string `json:"role"`
	AWSRegion   string `json:"awsRegion"`
	ClusterName string `json:"clusterName"`
	DisplayName string `json:"displayName"`
	Icon        string `json:"icon"`
}

// scaffoldError makes a request scaffold cannot carry out (a
// *scaffold.RequestError) a usage error; other errors pass unchanged.
func scaffoldError(err error) error {
	var re *scaffold.RequestError
	if errors.As(err, &re) {
		return &usageError{err: err}
	}
	return err
}

// nextStep is one step a region verb prints: what to do (lines split by
// '\n') and, when the step is one command, that command.
type nextStep struct {
	text, command string
}

// printSteps prints a region verb's numbered next steps, each line of a
// step and its command indented under the number.
func printSteps(out io.Writer, steps []nextStep) {
	fmt.Fprintln(out, "next steps:")
	const indent = "\n     "
	for i, st := range steps {
		s := strings.ReplaceAll(st.text, "\n", indent)
		if st.command != "" {
			s += indent + st.command
		}
		fmt.Fprintf(out, "  %d. %s\n", i+1, s)
	}
}

// jsonStep is a next step in JSON: its text on one line, and its command
// (null when the step is not one command).
type jsonStep struct {
	Text    string  `json:"text"`
	Command *string `json:"command"`
}

func jsonSteps(steps []nextStep) []jsonStep {
	out := make([]jsonStep, 0, len(steps))
	for _, st := range steps {
		js := jsonStep{Text: strings.ReplaceAll(st.text, "\n", " ")}
		if st.command != "" {
			cmd := st.command
			js.Command = &cmd
		}
		out = append(out, js)
	}
	return out
}

// suggestAWSRegion is the region name itself when it is an AWS region
// code (the common case), else an example.
func suggestAWSRegion(name string) string {
	if config.IsAWSRegion(name) {
		return name
	}
	return "eu-west-2"
}
