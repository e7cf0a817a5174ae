package main

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/conclave-go/conclave/auth/noise"
	"github.com/spf13/cobra"
)

func init() { commands = append(commands, newKeygenCmd) }

// randomSource is where keys come from.
var randomSource io.Reader = rand.Reader

// isTerminal reports whether w is a terminal; a test replaces it.
var isTerminal = func(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

func newKeygenCmd() *cobra.Command {
	keygen := &cobra.Command{
		Use:   "keygen",
		Short: "Make a new private key",
		Long:  "keygen makes a new private key of the kind its subcommand names.",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return &hintError{errors.New("keygen needs the kind of key"), "keyadmin keygen noise -o FILE"}
		},
	}
	keygen.AddCommand(newKeygenNoiseCmd())
	return keygen
}

func newKeygenNoiseCmd() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "noise [-o FILE]",
		Short: "Make a Noise (X25519) key pair",
		Long: `keygen noise makes a Noise static key pair (X25519) and writes the private key
file to FILE, created with mode 0600; it never overwrites a file that exists.
The public key ("noise:" and 44 characters of base64) is printed on standard
output: it is what other members allow.

Without -o, the private key file goes to standard output and the public key
to standard error, as age-keygen does, but only when standard output is not
a terminal (a pipe, a redirection): a secret on a screen ends up in
scrollback and screen shares. -o - writes to standard output even when it is
a terminal.

The file is three lines:

  # conclave noise private key
  # public key: noise:<base64>
  CONCLAVE-NOISE-PRIVATE-KEY-1 <base64>`,
		Example: `  keyadmin keygen noise -o member.key
  keyadmin keygen noise | ssh host 'umask 077; cat > member.key'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return keygenNoise(cmd, out, cmd.Flags().Changed("output"))
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "write the private key file to `FILE` (- for standard output)")
	return cmd
}

func keygenNoise(cmd *cobra.Command, out string, outGiven bool) error {
	if outGiven && out == "" {
		return &hintError{errors.New("-o needs a file name"), "keyadmin keygen noise -o FILE"}
	}
	toStdout := !outGiven || out == "-"
	if toStdout && !outGiven && isTerminal(cmd.OutOrStdout()) {
		return &hintError{errors.New("refusing to print a private key to the terminal"),
			"write it to a file with -o FILE (or give -o - to print it all the same)"}
	}
	key, err := noise.GenerateKey(randomSource)
	if err != nil {
		return err
	}
	defer key.Zero()
	data := noise.MarshalPrivateKeyFile(key)
	defer clear(data)
	pub := key.Public().String()
	if toStdout {
		if _, err := cmd.OutOrStdout().Write(data); err != nil {
			return fmt.Errorf("writing the private key: %w", err)
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "public key: %s\n", pub)
		return nil
	}
	if err := writeNew(out, data); err != nil {
		return err
	}
	fmt.Fprintln(cmd.OutOrStdout(), pub)
	return nil
}

// writeNew writes data to a new file name with mode 0600: O_EXCL, so that
// it never replaces a file (a key, or a link planted where the key will
// go); synced before it is closed; removed again if writing fails.
func writeNew(name string, data []byte) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return &hintError{fmt.Errorf("%s exists", name),
			"keyadmin never overwrites a key: choose another file name, or remove " + name + " if you mean to replace that key"}
	}
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(name)
		return fmt.Errorf("writing %s: %w", name, err)
	}
	return nil
}
