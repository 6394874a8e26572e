package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/coderfleet/coderfleet/config"
	"github.com/coderfleet/coderfleet/internal/repofs"
	"github.com/coderfleet/coderfleet/internal/scaffold"
)

// regionAddOptions are the flags of region add.
type regionAddOptions struct {
	repo string
	spec scaffold.RegionSpec
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
	c := &cobra.Command{
		Use:   "add NAME --aws-region CODE",
		Short: "Add a region: write overlays/NAME/region.yaml and print the next steps",
		Long: `region add writes overlays/NAME/region.yaml, with a comment on each key, for a
new region of the fleet (a workspace proxy unless --role primary), and prints
the steps that bring it up. It refuses a name that exists or is not a DNS
label, an unknown AWS region code (suggesting the nearest), and a second
primary. Defaults: --cluster-name <fleet>-NAME, --display-name the AWS region's
location (e.g. Oregon), --icon the globe emoji.`,
		Example: `  # A workspace proxy in Mumbai
  coderfleet region add ap-south-1 --aws-region ap-south-1

  # With the cluster's real name and the name users see in Coder
  coderfleet region add frankfurt --aws-region eu-central-1 \
    --cluster-name platform-euc1 --display-name "Frankfurt" --icon /emojis/1f1e9-1f1ea.png`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			o.spec.Name = args[0]
			if o.spec.AWSRegion == "" {
				return &usageError{err: fmt.Errorf("--aws-region is required: the AWS region code of the region's cluster, e.g. --aws-region %s", suggestAWSRegion(args[0]))}
			}
			return runRegionAdd(o, c.OutOrStdout())
		},
	}
	addRepoFlag(c, &o.repo)
	c.Flags().StringVar(&o.spec.AWSRegion, "aws-region", "", "AWS region code of the region's cluster, e.g. eu-west-2 (required)")
	_ = c.RegisterFlagCompletionFunc("aws-region", completeAWSRegions)
	c.Flags().StringVar(&o.spec.Role, "role", config.RoleProxy, "proxy (a Coder workspace proxy) or primary (coderd; one per fleet)")
	_ = c.RegisterFlagCompletionFunc("role", cobra.FixedCompletions([]string{config.RoleProxy, config.RolePrimary}, cobra.ShellCompDirectiveNoFileComp))
	c.Flags().StringVar(&o.spec.DisplayName, "display-name", "", "name in Coder's region picker (default: the AWS region's location)")
	c.Flags().StringVar(&o.spec.ClusterName, "cluster-name", "", "the EKS cluster's name (default: <fleet>-NAME)")
	c.Flags().StringVar(&o.spec.Icon, "icon", "", "icon in Coder's region picker (default "+scaffold.DefaultIcon+")")
	return c
}

func runRegionAdd(o *regionAddOptions, out io.Writer) error {
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
	fmt.Fprintf(out, "wrote %s (%s %s in %s, cluster %s)\n\n", added.File, s.Role, s.Name, s.AWSRegion, s.ClusterName)
	steps := []string{
		"review " + added.File + " (overrides go there too), then render the region:\n     coderfleet render",
		"request its ACM certificate(s) and record their ARNs in overlays/" + s.Name + "/outputs.yaml:\n     coderfleet sync apply --region " + s.Name,
		"render again, so the load balancer Service carries the certificate:\n     coderfleet render",
	}
	if s.Role == config.RoleProxy {
		steps = append(steps, fmt.Sprintf("register the proxy with coderd and store the token it prints as Secret coder-proxy\n     (key proxy.key) in namespace coder-proxy of cluster %s:\n     coder wsproxy create --name %s --display-name %q --icon %s", s.ClusterName, s.Name, s.DisplayName, s.Icon))
	}
	steps = append(steps,
		"commit overlays/"+s.Name+" and regions/"+s.Name+"; point the cluster's Flux at ./regions/"+s.Name+"/flux,\n     and Flux applies it",
		"once the load balancer exists, create the DNS records and health checks:\n     coderfleet sync apply --region "+s.Name,
	)
	printSteps(out, steps)
	return nil
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

// printSteps prints a region verb's numbered next steps.
func printSteps(out io.Writer, steps []string) {
	fmt.Fprintln(out, "next steps:")
	for i, st := range steps {
		fmt.Fprintf(out, "  %d. %s\n", i+1, st)
	}
}

// suggestAWSRegion is the region name itself when it is an AWS region
// code (the common case), else an example.
func suggestAWSRegion(name string) string {
	if config.IsAWSRegion(name) {
		return name
	}
	return "eu-west-2"
}
