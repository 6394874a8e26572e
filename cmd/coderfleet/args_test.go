package main

import (
	"io"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// TestUnknownSubcommandIsUsageError checks that an unknown subcommand of any
// command with subcommands, and a stray argument of a verb that takes none,
// are usage errors with a did-you-mean, not the help with exit 0.
func TestUnknownSubcommandIsUsageError(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"rendr"}, `unknown command "rendr" for "coderfleet" (hint: did you mean "render"?`},
		{[]string{"sync", "aply"}, `unknown command "aply" for "coderfleet sync" (hint: did you mean "apply"?`},
		{[]string{"sync", "plan-json"}, `unknown command "plan-json" for "coderfleet sync" (hint: did you mean "plan"?`},
		{[]string{"region", "ad", "x"}, `unknown command "ad" for "coderfleet region" (hint: did you mean "add"?`},
		{[]string{"completion", "bashh"}, `unknown command "bashh" for "coderfleet completion" (hint: did you mean "bash"?`},
		{[]string{"sync", "plan", "us-west-2"}, `unexpected argument "us-west-2": coderfleet sync plan takes no positional arguments (hint: to select a region, write --region us-west-2;`},
		{[]string{"version", "now"}, `unexpected argument "now": coderfleet version takes no positional arguments`},
		{[]string{"vendor", "x"}, `unexpected argument "x": coderfleet vendor takes no positional arguments`},
		{[]string{"render", "--forse"}, `unknown flag: --forse (hint: did you mean --force? run 'coderfleet render --help' for usage)`},
		{[]string{"sync", "plan", "--regoin", "x"}, `unknown flag: --regoin (hint: did you mean --region?`},
		{[]string{"render", "--zzzzzzzz"}, `unknown flag: --zzzzzzzz (hint: run 'coderfleet render --help' for usage)`},
		{[]string{"region", "add"}, `accepts 1 arg(s), received 0; usage: coderfleet region add NAME --aws-region CODE [flags] (hint: run 'coderfleet region add --help' for examples)`},
		{[]string{"diff", "-o", "yaml"}, `unknown --output "yaml": use text, markdown or json`},
		{[]string{"sync", "plan", "-out", "x.plan"}, `unexpected argument "x.plan": -out is read as -o ut (hint: write the plan file with --out x.plan)`},
		{[]string{"sync", "plan", "-o", "json", "-out", "x.plan"}, `-out is read as -o ut (hint: write the plan file with --out x.plan)`},
	} {
		code, out, errs := cli(t, tc.args...)
		if code != exitUsage || !strings.Contains(errs, tc.want) || out != "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want %d and %q", tc.args, code, out, errs, exitUsage, tc.want)
		}
	}
	// A group alone still prints its help.
	for _, args := range [][]string{{"sync"}, {"region"}, {}} {
		if code, out, _ := cli(t, args...); code != exitOK || !strings.Contains(out, "Usage:") {
			t.Errorf("%v: exit %d, want the help and 0:\n%s", args, code, out)
		}
	}
	if code, out, _ := cli(t, "help", "render"); code != exitOK || !strings.Contains(out, "coderfleet render") {
		t.Errorf("help render: exit %d:\n%s", code, out)
	}
}

// TestEveryGroupRefusesUnknownSubcommands walks the command tree so a verb
// with subcommands added later gets the same refusal.
func TestEveryGroupRefusesUnknownSubcommands(t *testing.T) {
	var visit func(c *cobra.Command)
	visit = func(c *cobra.Command) {
		if c.HasSubCommands() {
			args := append(strings.Fields(c.CommandPath())[1:], "zzz-nope")
			if code, _, errs := cli(t, args...); code != exitUsage || !strings.Contains(errs, `unknown command "zzz-nope"`) {
				t.Errorf("%v: exit %d, stderr %q", args, code, errs)
			}
		}
		for _, sub := range c.Commands() {
			visit(sub)
		}
	}
	visit(newRootCommand(io.Discard, io.Discard))
}
