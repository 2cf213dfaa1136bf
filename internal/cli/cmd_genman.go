package cli

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

func init() { register(newGenManCommand) }

// newGenManCommand writes the manual pages (one per command) generated
// from the command tree; packagers run it at build time, see
// scripts/gen-man.sh.
func newGenManCommand(g *Globals) *cobra.Command {
	return &cobra.Command{
		Use:    "gen-man DIR",
		Short:  "Write the manual pages into DIR",
		Hidden: true,
		Example: `  pacrepo gen-man /tmp/man && man /tmp/man/pacrepo-add.1
  scripts/gen-man.sh DIR   # the same, for packagers`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return genManPages(cmd.Root(), args[0])
		},
	}
}

func genManPages(root *cobra.Command, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("gen-man: %w", err)
	}
	root.DisableAutoGenTag = true // reproducible pages: no generation date
	header := &doc.GenManHeader{
		Title:   "PACREPO",
		Section: "1",
		Source:  "pacrepo " + pacrepoVersion(),
		Manual:  "pacrepo manual",
	}
	// SOURCE_DATE_EPOCH (reproducible builds) fixes the pages' date.
	if sec, err := strconv.ParseInt(os.Getenv("SOURCE_DATE_EPOCH"), 10, 64); err == nil {
		date := time.Unix(sec, 0).UTC()
		header.Date = &date
	}
	keepLiteralBlocks(root)
	if err := doc.GenManTree(root, header, dir); err != nil {
		return fmt.Errorf("gen-man %s: %w", dir, err)
	}
	return nil
}

// keepLiteralBlocks marks the indented blocks of every command's long help
// (tables of marks, exit codes, lookup orders) as literal text: the man
// page renderer reads the help as Markdown and would join their lines into
// one paragraph.
func keepLiteralBlocks(c *cobra.Command) {
	c.Long = literalBlocks(c.Long)
	for _, sub := range c.Commands() {
		keepLiteralBlocks(sub)
	}
}

func literalBlocks(text string) string {
	var out []string
	inBlock := false
	for _, line := range strings.Split(text, "\n") {
		indented := strings.HasPrefix(line, "  ") || strings.HasPrefix(line, "\t")
		switch {
		case indented && !inBlock:
			out = append(out, "```")
			inBlock = true
		case !indented && inBlock && strings.TrimSpace(line) == "":
			continue // a blank line inside a block: the block may go on
		case !indented && inBlock:
			out = append(out, "```", "")
			inBlock = false
		}
		out = append(out, line)
	}
	if inBlock {
		out = append(out, "```")
	}
	return strings.Join(out, "\n")
}
