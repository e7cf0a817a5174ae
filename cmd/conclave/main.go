// Command conclave runs Conclave group members, a self-contained demo, the
// deterministic simulator and the benchmark harness.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
)

// commands holds the constructors of the subcommands; each subcommand's file
// adds its own.
var commands []func() *cobra.Command

// exitError carries a process exit status through cobra without printing
// anything more: the command has already said what went wrong.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// hintError is an error with advice for the person at the terminal, printed
// on a line of its own after the error.
type hintError struct {
	err  error
	hint string
}

func (e *hintError) Error() string { return e.err.Error() }
func (e *hintError) Unwrap() error { return e.err }

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "conclave",
		Short: "Secure process groups: membership, reliable ordered multicast, group keys",
		Long: `conclave runs members of a Conclave process group and the tools around them.

A group is a set of processes that exchange reliable, ordered multicasts over
a layered protocol stack (Ensemble's design), admitted by their credentials,
with a key epoch per view. Start with 'conclave demo', then make a key for
each of two members and run them in two terminals:

  keyadmin keygen noise -o a.key >> allowed
  keyadmin keygen noise -o b.key >> allowed
  conclave member --listen 127.0.0.1:7000 --noise-key a.key --allow-file allowed
  conclave member --listen 127.0.0.1:7001 --seed 127.0.0.1:7000 --noise-key b.key --allow-file allowed`,
		Version:       version(),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetVersionTemplate("conclave {{.Version}}\n")
	for _, c := range commands {
		root.AddCommand(c())
	}
	return root
}

// run runs the command line args and returns the exit status. SIGINT and
// SIGTERM cancel the context the commands run in.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := newRootCmd()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	var ee exitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.code
	}
	printError(stderr, err)
	return 1
}

// printError writes err as "conclave: error: …", without the "conclave: "
// that errors from the library start with, and its hint, if any, as
// "conclave: hint: …".
func printError(w io.Writer, err error) {
	msg := err.Error()
	for {
		m, ok := strings.CutPrefix(msg, "conclave: ")
		if !ok {
			break
		}
		msg = m
	}
	fmt.Fprintf(w, "conclave: error: %s\n", msg)
	var he *hintError
	if errors.As(err, &he) {
		fmt.Fprintf(w, "conclave: hint: %s\n", he.hint)
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	go func() {
		// A second signal, while the command winds down (a member
		// leaving its group, say), stops the process at once.
		<-ctx.Done()
		stop()
	}()
	os.Exit(run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
