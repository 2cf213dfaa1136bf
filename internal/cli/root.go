// Package cli builds pacrepo's command tree. Each command lives in its own
// file: an options struct, a constructor and a thin run function. The
// repository logic lives in the internal domain packages; this package
// parses flags and prints.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/pacrepo/pacrepo/internal/config"
	"github.com/pacrepo/pacrepo/internal/ui"
)

// Globals are the flags every command shares.
type Globals struct {
	ConfigFile string   // --config
	Profile    string   // -P/--profile
	Repo       string   // --repo: PATH/NAME.db.tar.EXT (or a directory holding one database)
	Color      string   // --color auto|always|never
	Quiet      bool     // -q/--quiet
	AURURL     string   // --aur-url
	Columns    bool     // --columns (and list -s)
	Keyring    []string // --keyring: files of public keys (instead of the profile's)
	Debug      bool     // --debug: repoctl's, refused
	NoColor    bool     // --nocolor: repo-add's, --color never
	S3Endpoint string   // --s3-endpoint: the object storage server (overrides s3_endpoint)
	// Command is the command line as the history records it
	// (typedCommand).
	Command string

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
	pf.StringVar(&g.Repo, "repo", "", "repository database DIR/NAME.db.tar.EXT, or a DIR holding one, or s3://BUCKET/PREFIX/NAME.db.tar.EXT (overrides the profile; needs no configuration file)")
	pf.StringVar(&g.S3Endpoint, "s3-endpoint", "", "URL of the S3-compatible server of an s3:// repository (overrides s3_endpoint; default: AWS, or $AWS_ENDPOINT_URL)")
	pf.StringVar(&g.Color, "color", "auto", "colour output: auto, always or never")
	pf.BoolVarP(&g.Quiet, "quiet", "q", false, "print only errors and requested output")
	pf.BoolVar(&g.NoColor, "nocolor", false, "repo-add's: --color never")
	pf.Lookup("nocolor").Hidden = true
	pf.StringVar(&g.AURURL, "aur-url", "", "AUR base URL (default "+config.DefaultAURURL+")")
	pf.BoolVar(&g.Columns, "columns", false, "print lists in columns (overrides the configuration's columnate)")
	pf.StringSliceVar(&g.Keyring, "keyring", nil, "verify package signatures against the public keys in FILE (repeatable; instead of the profile's keyring)")
	pf.BoolVar(&g.Debug, "debug", false, "repoctl's debugging output: refused, see `pacrepo version`")
	pf.Lookup("debug").Hidden = true

	registerFlagCompletions(root, g)
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error {
		// cobra checks these after this hook, returning plain errors;
		// checked here first, they are typed as usage errors.
		if err := cmd.ValidateRequiredFlags(); err != nil {
			return usage(err)
		}
		if err := cmd.ValidateFlagGroups(); err != nil {
			return usage(err)
		}
		switch g.Color {
		case "auto", "always", "never":
		default:
			return usage(fmt.Errorf("--color must be auto, always or never, not %q", g.Color))
		}
		if g.Debug {
			return usage(errors.New("--debug: pacrepo has no debugging output; `pacrepo version` shows the configuration, profile and repository in use, and --json gives every detail of status, check, list and the changing commands"))
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
	addRepoctlHabits(root, g)
	addExitCodes(root.Commands())
	refuseUnknownSubcommands(root.Commands())
	typeArgErrors(root.Commands())
	root.SetHelpCommand(newHelpCommand())
	root.Version = pacrepoVersion()
	root.SetVersionTemplate("pacrepo {{.Version}}\n")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return usage(err)
	})
	return root
}

// refuseUnknownSubcommands makes a command that only groups others (conf)
// refuse an unknown subcommand with a suggestion and exit 2; cobra would
// print the group's help and exit 0, so a typo looked like success.
func refuseUnknownSubcommands(cmds []*cobra.Command) {
	for _, c := range cmds {
		if !c.HasSubCommands() {
			continue
		}
		if c.Run == nil && c.RunE == nil {
			c.Args = cobra.ArbitraryArgs
			c.RunE = func(cmd *cobra.Command, args []string) error {
				if len(args) == 0 {
					return cmd.Help()
				}
				return unknownCommand(cmd, args[0])
			}
		}
		refuseUnknownSubcommands(c.Commands())
	}
}

// typeArgErrors makes the errors of every command's argument check usage
// errors: cobra's checks (ExactArgs, MinimumNArgs...) return plain errors.
func typeArgErrors(cmds []*cobra.Command) {
	for _, c := range cmds {
		if check := c.Args; check != nil {
			c.Args = func(cmd *cobra.Command, args []string) error {
				if err := check(cmd, args); err != nil {
					// cobra's "requires at least 1 arg(s), only received
					// 0" says nothing of what to give: the usage line does.
					if len(args) == 0 {
						return usage(fmt.Errorf("%s: missing arguments; usage: %s", cmd.CommandPath(), cmd.UseLine()))
					}
					return usage(fmt.Errorf("%s: %w; usage: %s", cmd.CommandPath(), err, cmd.UseLine()))
				}
				return nil
			}
		}
		typeArgErrors(c.Commands())
	}
}

// unknownCommand is the usage error for a subcommand name that cmd does not
// have, with the names it most likely meant.
func unknownCommand(cmd *cobra.Command, name string) error {
	msg := fmt.Sprintf("unknown command %q for %q", name, cmd.CommandPath())
	if cmd.SuggestionsMinimumDistance <= 0 {
		cmd.SuggestionsMinimumDistance = 2 // cobra's default for the root
	}
	if s := cmd.SuggestionsFor(name); len(s) > 0 {
		msg += "\n\nDid you mean this?\n\t" + strings.Join(s, "\n\t")
	}
	return usage(errors.New(msg))
}

// newHelpCommand is `help [COMMAND...]`: an unknown topic is a usage error
// with suggestions, not the root's help and exit 0.
func newHelpCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "help [command]",
		Short: "Help about any command",
		Long:  "Help for any command: pacrepo help COMMAND [SUBCOMMAND].",
		RunE: func(c *cobra.Command, args []string) error {
			target := c.Root()
			for _, name := range args {
				next, _, err := target.Find([]string{name})
				if err != nil || next == target {
					return unknownCommand(target, name)
				}
				target = next
			}
			return target.Help()
		},
		ValidArgsFunction: func(c *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
			var names []string
			for _, sub := range c.Root().Commands() {
				if sub.IsAvailableCommand() {
					names = append(names, sub.Name())
				}
			}
			return names, cobra.ShellCompDirectiveNoFileComp
		},
	}
}

// Main runs pacrepo with args and returns the process exit code. SIGINT
// and SIGTERM cancel the one context every command runs with; a second
// signal ends the process at once. The handler stays until the process
// exits: a signal that comes after the command finished must not kill it
// and turn a whole change into an exit by signal.
func Main(args []string) int {
	ignoreSIGPIPE()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop()
	}()
	return run(ctx, args, newStdout(os.Stdout), os.Stderr)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	g := &Globals{Stdin: os.Stdin, Stdout: stdout, Stderr: stderr, Command: typedCommand(args)}
	root := NewRootCommand(g)
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	var ue *UsageError
	if err != nil && cmd == root && !errors.As(err, &ue) {
		// The root runs nothing: the one plain error cobra returns for it
		// is from looking up the command, an unknown one.
		err = usage(err)
	}
	if ferr := flushStdout(stdout); ferr != nil && err == nil {
		err = fmt.Errorf("write standard output: %w", ferr)
	}
	var done *reportedError
	switch {
	case err == nil, errors.As(err, &done):
	case errors.Is(err, context.Canceled):
		fmt.Fprintln(stderr, "pacrepo: interrupted")
	default:
		fmt.Fprintf(stderr, "pacrepo: %v\n", err)
	}
	return exitCode(err)
}

// addExitCodes ends every command's help with where the exit codes are:
// the table itself is in `pacrepo --help` and pacrepo(1) alone, where a
// script author finds it without reading it again in every command.
func addExitCodes(cmds []*cobra.Command) {
	for _, c := range cmds {
		if c.Hidden || c.Name() == "help" {
			continue
		}
		if c.Long == "" {
			c.Long = c.Short + "."
		}
		c.Long += "\n\n" + exitCodesPointer
		addExitCodes(c.Commands())
	}
}
