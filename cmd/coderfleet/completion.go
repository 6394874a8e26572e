package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/coderfleet/coderfleet/config"
	"github.com/coderfleet/coderfleet/internal/scaffold"
)

// completeRegions completes a region name of the repository the command
// works on (its --repo, else the one found from the working directory):
// the folders under overlays/, as config reads them, that start with
// toComplete. After a comma (--region a,b) the last name is completed,
// leaving out those already listed.
func completeRegions(c *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	prefix := ""
	if i := strings.LastIndex(toComplete, ","); i >= 0 {
		prefix = toComplete[:i+1]
	}
	chosen := strings.Split(prefix, ",")
	var out []string
	for _, name := range repoRegions(c) {
		if cand := prefix + name; strings.HasPrefix(cand, toComplete) && !slices.Contains(chosen, name) {
			out = append(out, cand)
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

// completeRegionArg completes the NAME argument of a region verb: one
// region of the repository.
func completeRegionArg(c *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var out []string
	for _, name := range repoRegions(c) {
		if strings.HasPrefix(name, toComplete) {
			out = append(out, name)
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

// repoRegions lists the region folders of the command's repository; none
// when there is no repository (completion never fails loudly).
func repoRegions(c *cobra.Command) []string {
	repo := ""
	if f := c.Flags().Lookup("repo"); f != nil {
		repo = f.Value.String()
	}
	if repo == "" {
		wd, err := os.Getwd()
		if err != nil {
			return nil
		}
		if repo, err = findRepo(wd, isRegularFile); err != nil {
			return nil
		}
	}
	entries, err := os.ReadDir(filepath.Join(repo, config.OverlaysDir))
	if err != nil {
		return nil
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") && !strings.HasPrefix(e.Name(), "_") {
			names = append(names, e.Name())
		}
	}
	return names
}

// completeAWSRegions completes an AWS region code (config.AWSRegions)
// starting with toComplete, described by its location as the AWS console
// names it.
func completeAWSRegions(_ *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	var out []string
	for _, code := range config.AWSRegions {
		if !strings.HasPrefix(code, toComplete) {
			continue
		}
		if where := scaffold.AWSRegionNames[code]; where != "" {
			code += "\t" + where
		}
		out = append(out, code)
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}
