package main

import (
	"fmt"
	"strings"

	"github.com/conclave-go/conclave/auth/noise"
	"github.com/spf13/cobra"
)

func init() { commands = append(commands, newPubkeyCmd) }

func newPubkeyCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "pubkey FILE",
		Short: "Print a private key file's public key and fingerprint",
		Long: `pubkey reads a private key file (- for standard input), checks it strictly,
and prints its public key, the text other members allow, then its
fingerprint, a short form for people to compare by voice or at a glance
(admission always compares the whole key):

  noise:<base64>
  fingerprint 1a2b:3c4d:5e6f:7a8b

A file that others than its owner can read is used all the same, with a
warning on standard error.`,
		Example: "  keyadmin pubkey member.key\n  ssh host cat member.key | keyadmin pubkey -",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			var (
				key *noise.PrivateKey
				err error
			)
			if name == "-" {
				key, err = noise.ReadPrivateKeyFile(cmd.InOrStdin())
				name = "standard input"
			} else {
				var warning string
				key, warning, err = noise.LoadPrivateKeyFile(name)
				if warning != "" {
					warn(cmd.ErrOrStderr(), warning)
				}
			}
			if err != nil {
				return fmt.Errorf("%s: %s", name, strings.TrimPrefix(err.Error(), "noise: "))
			}
			defer key.Zero()
			pub := key.Public()
			fmt.Fprintf(cmd.OutOrStdout(), "%s\nfingerprint %s\n", pub, pub.Fingerprint())
			return nil
		},
	}
}
