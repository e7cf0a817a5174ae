// Command keyadmin manages Conclave credentials: it makes Noise key pairs
// (keyadmin keygen noise) and shows a private key file's public key and
// fingerprint (keyadmin pubkey), the key that goes on other members' allow
// lists.
//
// Messages are "keyadmin: error: …", "keyadmin: warning: …" and
// "keyadmin: hint: …", lower case, on standard error; no message ever
// contains key bytes. Secrets are read from files or standard input, never
// from the command line.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
)

// commands holds the constructors of the subcommands; each subcommand's file
// adds its own.
var commands []func() *cobra.Command

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
		Use:   "keyadmin",
		Short: "Make and inspect Conclave credentials",
		Long: `keyadmin makes and inspects the credentials Conclave members authenticate
each other with.

A Noise credential is an X25519 key pair: the private key stays in a file
only its owner can read, the public key ("noise:" and 44 characters of
base64) is what other members allow. Make one and show its public key:

  keyadmin keygen noise -o member.key
  keyadmin pubkey member.key

Each member of a secured group runs with its own key file and the public
keys of the members it admits (one list can serve all: a member always
admits its own key):

  conclave member --listen 127.0.0.1:7000 --noise-key a.key \
      --allow noise:<a's key> --allow noise:<b's key>
  conclave member --listen 127.0.0.1:7001 --seed 127.0.0.1:7000 --noise-key b.key \
      --allow noise:<a's key> --allow noise:<b's key>

Copy private keys only over channels that keep them secret, and never put one
on a command line: only public keys are arguments.`,
		Version:       version(),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetVersionTemplate("keyadmin {{.Version}}\n")
	for _, c := range commands {
		root.AddCommand(c())
	}
	return root
}

// run runs the command line args and returns the exit status.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := newRootCmd()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	if err := root.ExecuteContext(ctx); err != nil {
		printError(stderr, err)
		return 1
	}
	return 0
}

// printError writes err as "keyadmin: error: …", without the package
// prefix ("noise: ") that library errors start with, and its hint, if any,
// as "keyadmin: hint: …".
func printError(w io.Writer, err error) {
	msg := strings.TrimPrefix(err.Error(), "noise: ")
	fmt.Fprintf(w, "keyadmin: error: %s\n", msg)
	var he *hintError
	if errors.As(err, &he) {
		fmt.Fprintf(w, "keyadmin: hint: %s\n", he.hint)
	}
}

// warn writes "keyadmin: warning: …".
func warn(w io.Writer, msg string) {
	fmt.Fprintf(w, "keyadmin: warning: %s\n", msg)
}

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
