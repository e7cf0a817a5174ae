// Command conclave runs Conclave group members, a self-contained demo, the
// deterministic simulator and the benchmark harness.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

// commands holds the constructors of the subcommands; each subcommand's file
// adds its own.
var commands []func() *cobra.Command

// exitError carries a process exit status through cobra without printing
// anything more: the command has already said what went wrong.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "conclave",
		Short: "Secure process groups: membership, reliable ordered multicast, group keys",
		Long: `conclave runs members of a Conclave process group and the tools around them.

A group is a set of processes that exchange reliable, ordered multicasts over
a layered protocol stack (Ensemble's design). Start with 'conclave demo'.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	for _, c := range commands {
		root.AddCommand(c())
	}
	return root
}

func main() {
	err := newRootCmd().Execute()
	var ee exitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		os.Exit(ee.code)
	default:
		fmt.Fprintf(os.Stderr, "conclave: error: %v\n", err)
		os.Exit(1)
	}
}
