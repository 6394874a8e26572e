package main

import (
	"fmt"
	"strings"

	"github.com/agnivade/levenshtein"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// flagError is every command's flag parsing error as a usage error (64),
// with the nearest flag of the command when the flag is unknown
// ("unknown flag: --forse" -> did you mean --force?).
func flagError(c *cobra.Command, err error) error {
	hint := fmt.Sprintf("run '%s --help' for usage", c.CommandPath())
	if name, ok := strings.CutPrefix(err.Error(), "unknown flag: --"); ok {
		best, bestDist := "", len(name)/3+2
		c.Flags().VisitAll(func(f *pflag.Flag) {
			if d := levenshtein.ComputeDistance(name, f.Name); d < bestDist && !f.Hidden {
				best, bestDist = f.Name, d
			}
		})
		if best != "" {
			hint = fmt.Sprintf("did you mean --%s? %s", best, hint)
		}
	}
	return &usageError{err: fmt.Errorf("%w (hint: %s)", err, hint)}
}

// usageArgs wraps a cobra argument validator so its errors are usage
// errors (exit 64).
func usageArgs(v cobra.PositionalArgs) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		if err := v(c, args); err != nil {
			if isUsageError(err) {
				return err
			}
			// cobra's own ("accepts 1 arg(s), received 0") names no remedy.
			return &usageError{err: fmt.Errorf("%w; usage: %s (hint: run '%s --help' for examples)", err, c.UseLine(), c.CommandPath())}
		}
		return nil
	}
}

// noArgs refuses any positional argument of a verb that takes none.
func noArgs(c *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	hint := fmt.Sprintf("run '%s --help' for its flags", c.CommandPath())
	if o := c.Flags().Lookup("output"); o != nil && o.Changed && o.Value.String() == "ut" && c.Flags().Lookup("out") != nil {
		// "-out FILE" parses as "-o ut" and a stray FILE, as Go's flag
		// package users (and Terraform's -out) expect it not to.
		return &usageError{err: fmt.Errorf("unexpected argument %q: -out is read as -o ut (hint: write the plan file with --out %s)", args[0], args[0])}
	}
	if c.Flags().Lookup("region") != nil {
		hint = fmt.Sprintf("to select a region, write --region %s; ", args[0]) + hint
	}
	return &usageError{err: fmt.Errorf("unexpected argument %q: %s takes no positional arguments (hint: %s)", args[0], c.CommandPath(), hint)}
}

// subcommandArgs refuses an argument of a command that only groups
// subcommands (the root, sync, region): an unknown subcommand, with the
// nearest one as cobra's suggestions find it.
func subcommandArgs(c *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	suggestions := c.SuggestionsFor(args[0])
	var names []string
	for _, sub := range c.Commands() {
		if sub.IsAvailableCommand() {
			names = append(names, sub.Name())
			// cobra suggests by distance and by prefix of the command name;
			// a command name followed by more (plan-json) is meant too.
			if len(suggestions) == 0 && strings.HasPrefix(args[0], sub.Name()) {
				suggestions = append(suggestions, sub.Name())
			}
		}
	}
	mean := ""
	if len(suggestions) > 0 {
		mean = fmt.Sprintf("did you mean %q? ", suggestions[0])
	}
	return &usageError{err: fmt.Errorf("unknown command %q for %q (hint: %sits commands: %s; run '%s --help')",
		args[0], c.CommandPath(), mean, strings.Join(names, ", "), c.CommandPath())}
}

// enforceArgs gives every command of the tree under c one way of refusing
// arguments: a command with subcommands refuses an unknown one
// (subcommandArgs) and prints its help when run alone; a verb's own
// validator is made a usage error. cobra alone checks subcommands only at
// the root and prints the help, exit 0, for `sync aply`. cobra's help
// command, which takes command names, is left alone.
func enforceArgs(c *cobra.Command) {
	if c.Name() == "help" && c.HasParent() {
		return
	}
	if c.HasSubCommands() {
		c.Args = subcommandArgs
		if c.SuggestionsMinimumDistance <= 0 {
			c.SuggestionsMinimumDistance = 2 // cobra's default at the root
		}
		if !c.Runnable() {
			c.RunE = func(c *cobra.Command, _ []string) error { return c.Help() }
		}
	} else if c.Args != nil {
		c.Args = usageArgs(c.Args)
	}
	for _, sub := range c.Commands() {
		enforceArgs(sub)
	}
}

// addRegionFlag registers --region on a verb, one way for every verb:
// repeatable and comma lists alike (--region a,b --region c), checked by
// render.SelectRegions, which refuses an unknown region (exit 64) listing
// the known ones with a did-you-mean. It completes the repository's
// region names.
func addRegionFlag(c *cobra.Command, regions *[]string, usage string) {
	c.Flags().StringArrayVar(regions, "region", nil, usage+" (repeatable, or a comma list: --region a,b)")
	_ = c.RegisterFlagCompletionFunc("region", completeRegions)
}

// addOutputFlag registers -o/--output with its allowed values (the first
// is the default) and completes them.
func addOutputFlag(c *cobra.Command, output *string, allowed []string) {
	c.Flags().StringVarP(output, "output", "o", allowed[0], "output format: "+strings.Join(allowed, ", "))
	_ = c.RegisterFlagCompletionFunc("output", cobra.FixedCompletions(allowed, cobra.ShellCompDirectiveNoFileComp))
}
