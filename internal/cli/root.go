// Package cli builds pacrepo's command tree. Each command lives in its own
// file: an options struct, a constructor and a thin run function. The
// repository logic lives in the internal domain packages; this package
// parses flags and prints.
package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/spf13/cobra"

	"github.com/pacrepo/pacrepo/internal/config"
	"github.com/pacrepo/pacrepo/internal/ui"
)

// Globals are the flags every command shares.
type Globals struct {
	ConfigFile string // --config
	Profile    string // -P/--profile
	Repo       string // --repo: PATH/NAME.db.tar.EXT (or a directory holding one database)
	Color      string // --color auto|always|never
	Quiet      bool   // -q/--quiet
	AURURL     string // --aur-url

	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer

	out *ui.UI // output settings, resolved once (resolveOutput)
}

// commandConstructors are registered by each command file's init, so that
// adding a command never touches this file.
var commandConstructors []func(*Globals) *cobra.Command

func register(c func(*Globals) *cobra.Command) {
	commandConstructors = append(commandConstructors, c)
}

// NewRootCommand builds the whole command tree.
func NewRootCommand(g *Globals) *cobra.Command {
	root := &cobra.Command{
		Use:   "pacrepo",
		Short: "Manage local pacman package repositories safely",
		Long: `pacrepo manages local pacman package repositories: it adds, removes and
updates packages, writes the repository database itself, checks the
repository's integrity, keeps AUR packages up to date and serves the
repository over HTTP. Every change is locked, journaled and atomic: a
package file is never lost, and a database is never half-written.

` + exitCodesHelp,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(g.Stdout)
	root.SetErr(g.Stderr)
	pf := root.PersistentFlags()
	pf.StringVar(&g.ConfigFile, "config", "", "configuration file (default: $PACREPO_CONFIG, then pacrepo/config.toml in the XDG directories, then repoctl's)")
	pf.StringVarP(&g.Profile, "profile", "P", "", "configuration profile to use")
	pf.StringVar(&g.Repo, "repo", "", "repository database DIR/NAME.db.tar.EXT, or a DIR holding one (overrides the profile; needs no configuration file)")
	pf.StringVar(&g.Color, "color", "auto", "colour output: auto, always or never")
	pf.BoolVarP(&g.Quiet, "quiet", "q", false, "print only errors and requested output")
	pf.StringVar(&g.AURURL, "aur-url", "", "AUR base URL (default https://aur.archlinux.org)")

	registerFlagCompletions(root, g)
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error {
		switch g.Color {
		case "auto", "always", "never":
		default:
			return withExit(ExitUsage, fmt.Errorf("--color must be auto, always or never, not %q", g.Color))
		}
		g.resolveOutput(cmd)
		return nil
	}

	cmds := make([]*cobra.Command, 0, len(commandConstructors))
	for _, c := range commandConstructors {
		cmds = append(cmds, c(g))
	}
	sort.Slice(cmds, func(i, j int) bool { return cmds[i].Name() < cmds[j].Name() })
	root.AddCommand(cmds...)
	addExitCodes(root.Commands())
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return withExit(ExitUsage, err)
	})
	return root
}

// Main runs pacrepo with args and returns the process exit code.
func Main(args []string) int {
	ignoreSIGPIPE()
	return run(args, newStdout(os.Stdout), os.Stderr)
}

func run(args []string, stdout, stderr io.Writer) int {
	g := &Globals{Stdin: os.Stdin, Stdout: stdout, Stderr: stderr}
	root := NewRootCommand(g)
	root.SetArgs(args)
	err := root.Execute()
	if ferr := flushStdout(stdout); ferr != nil && err == nil {
		err = fmt.Errorf("write standard output: %w", ferr)
	}
	if err != nil {
		var ee *exitError
		if !errors.As(err, &ee) || ee.err != nil {
			fmt.Fprintf(stderr, "pacrepo: %v\n", err)
		}
		if !errors.As(err, &ee) && (isUsageError(err) || errors.Is(err, config.ErrNotFound)) {
			return ExitUsage
		}
	}
	return exitCodeOf(err)
}

// addExitCodes ends every command's help with the exit codes, so that a
// script author finds them where they look.
func addExitCodes(cmds []*cobra.Command) {
	for _, c := range cmds {
		if c.Hidden || c.Name() == "help" {
			continue
		}
		if c.Long == "" {
			c.Long = c.Short + "."
		}
		c.Long += "\n\n" + exitCodesHelp
		addExitCodes(c.Commands())
	}
}
