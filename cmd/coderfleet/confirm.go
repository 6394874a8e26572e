package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	fleetsync "github.com/coderfleet/coderfleet/sync"
)

// console is where sync apply asks for confirmation: the input it reads
// the answer from and whether that input is an interactive terminal. It is
// the seam CLI tests inject (withConsole); the real one is os.Stdin.
type console struct {
	in         io.Reader
	isTerminal func() bool
}

type consoleKey struct{}

// withConsole returns ctx carrying con for the commands run with it.
func withConsole(ctx context.Context, con console) context.Context {
	return context.WithValue(ctx, consoleKey{}, con)
}

// consoleFrom returns the console of ctx, or os.Stdin, a terminal when
// golang.org/x/term says its file descriptor is one.
func consoleFrom(ctx context.Context) console {
	if con, ok := ctx.Value(consoleKey{}).(console); ok {
		return con
	}
	return console{in: os.Stdin, isTerminal: func() bool { return term.IsTerminal(int(os.Stdin.Fd())) }}
}

// applyCancelled is an apply the user did not confirm; exit 1, nothing changed.
type applyCancelled struct{ answer string }

func (e *applyCancelled) Error() string {
	return fmt.Sprintf("apply cancelled: the answer was %q, not \"yes\"; nothing was changed", e.answer)
}

// confirmApply asks, as terraform apply does, whether to make the changes
// of p (printed just before), listing the --prune deletions once more, and
// returns nil only when the answer read from in is "yes".
func confirmApply(in io.Reader, w io.Writer, p *fleetsync.Plan) error {
	var b strings.Builder
	b.WriteString("Apply the changes above to AWS?\n")
	var deletions []string
	for _, c := range p.Changes {
		if c.Action == fleetsync.Delete {
			deletions = append(deletions, fmt.Sprintf("    - %s %s (%s)\n", c.Resource, c.Address, c.Reason))
		}
	}
	if len(deletions) > 0 {
		fmt.Fprintf(&b, "  --prune DELETES these %d owned object(s):\n%s", len(deletions), strings.Join(deletions, ""))
	}
	b.WriteString("  Type yes to apply them; any other answer cancels and changes nothing.\n\n  Answer: ")
	fmt.Fprint(w, b.String())
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && line == "" {
		fmt.Fprintln(w)
		return &applyCancelled{answer: ""}
	}
	if answer := strings.TrimSpace(line); answer != "yes" {
		return &applyCancelled{answer: answer}
	}
	return nil
}

// planFileArg accepts at most one argument, the saved plan of sync apply FILE.
func planFileArg(c *cobra.Command, args []string) error {
	if len(args) <= 1 {
		return nil
	}
	return &usageError{err: fmt.Errorf("unexpected argument %q: %s takes at most one saved plan file (hint: to select regions, write --region %s; run '%s --help')", args[1], c.CommandPath(), args[1], c.CommandPath())}
}
