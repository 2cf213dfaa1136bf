package cli

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"

	"github.com/pacrepo/pacrepo/internal/config"
)

func init() { register(newGenManCommand) }

// newGenManCommand writes the manual pages (one per command) generated
// from the command tree, and pacrepo.toml(5); scripts/install.sh runs it.
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
	// No Title: each page is titled after its command (PACREPO\-ADD), as
	// man and apropos show it.
	header := &doc.GenManHeader{
		Section: "1",
		Source:  "pacrepo " + pacrepoVersion(),
		Manual:  "pacrepo manual",
	}
	// SOURCE_DATE_EPOCH (reproducible builds) fixes the pages' date.
	date := time.Now().UTC()
	if sec, err := strconv.ParseInt(os.Getenv("SOURCE_DATE_EPOCH"), 10, 64); err == nil {
		date = time.Unix(sec, 0).UTC()
	}
	header.Date = &date
	keepLiteralBlocks(root)
	if err := doc.GenManTree(root, header, dir); err != nil {
		return fmt.Errorf("gen-man %s: %w", dir, err)
	}
	return writeConfigManPage(filepath.Join(dir, "pacrepo.toml.5"), header)
}

// writeConfigManPage writes pacrepo.toml(5), the configuration file's
// page: the file `conf new` writes, whose comments document every key, so
// that the page and the template never disagree.
func writeConfigManPage(path string, header *doc.GenManHeader) error {
	var example bytes.Buffer
	if err := config.WriteCommented(&example, config.NewConfig("/srv/repo/myrepo.db.tar.zst")); err != nil {
		return fmt.Errorf("gen-man %s: %w", path, err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, ".TH \"PACREPO.TOML\" \"5\" \"%s\" \"%s\" \"%s\"\n", header.Date.Format("Jan 2006"), header.Source, header.Manual)
	b.WriteString(`.SH NAME
pacrepo.toml \- pacrepo's configuration file
.SH SYNOPSIS
$XDG_CONFIG_HOME/pacrepo/config.toml (~/.config/pacrepo/config.toml),
$XDG_CONFIG_DIRS/pacrepo/config.toml (/etc/xdg/pacrepo/config.toml)
.SH DESCRIPTION
pacrepo reads repoctl's configuration format, TOML: global keys, then one
[profiles.NAME] table per repository. The file used is --config FILE, else
$PACREPO_CONFIG, else the first pacrepo/config.toml found in
$XDG_CONFIG_HOME and $XDG_CONFIG_DIRS, else repoctl's file
($REPOCTL_CONFIG, repoctl/config.toml in the same places); files are not
merged.
.PP
\fBpacrepo conf new\fR writes the file below, \fBpacrepo conf show\fR
shows every value with where it comes from, \fBpacrepo conf migrate\fR
converts a repoctl file. The comments document each key; a key commented
out is at its default.
.SH FILE
.EX
`)
	for _, line := range strings.Split(strings.TrimRight(example.String(), "\n"), "\n") {
		line = strings.ReplaceAll(line, `\`, `\e`)
		if strings.HasPrefix(line, ".") || strings.HasPrefix(line, "'") {
			line = `\&` + line
		}
		b.WriteString(line + "\n")
	}
	b.WriteString(`.EE
.SH SEE ALSO
\fBpacrepo\fR(1), \fBpacrepo-conf\fR(1)
`)
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("gen-man: %w", err)
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
