package cli_test

import (
	"io"
	"testing"

	"github.com/spf13/cobra"

	"github.com/pacrepo/pacrepo/internal/cli"
)

// TestEveryCommandHasExamples: a newcomer reads --help and copies a line;
// every command of the tree, groups and hidden ones included, shows one.
func TestEveryCommandHasExamples(t *testing.T) {
	root := cli.NewRootCommand(&cli.Globals{Stdout: io.Discard, Stderr: io.Discard})
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			if sub.Name() == "help" {
				continue
			}
			if sub.Example == "" {
				t.Errorf("%q --help shows no example", sub.CommandPath())
			}
			walk(sub)
		}
	}
	walk(root)
}
