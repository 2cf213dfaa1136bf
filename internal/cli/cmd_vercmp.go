package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/pacrepo/pacrepo/internal/version"
)

func init() { register(newVercmpCommand) }

func newVercmpCommand(g *Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "vercmp V1 V2",
		Short: "Compare two package versions as pacman does",
		Long: `Compare two versions with pacman's algorithm and print -1 if V1 is older
than V2, 0 if they are equal and 1 if V1 is newer, like pacman's vercmp.`,
		Example: "  pacrepo vercmp 1:1.0-1 2.0-1   # prints 1: the epoch wins",
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, err := fmt.Fprintln(g.Stdout, version.Compare(args[0], args[1]))
			return err
		},
	}
}
