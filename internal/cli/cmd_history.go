package cli

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/pacrepo/pacrepo/internal/history"
	"github.com/pacrepo/pacrepo/internal/repodb"
	"github.com/pacrepo/pacrepo/internal/ui"
	"github.com/pacrepo/pacrepo/internal/version"
)

func init() {
	register(newLogCommand)
	register(newDiffCommand)
}

// historyStore opens the selected repository's history, in a directory or
// a bucket; name is the repository's name.
func (g *Globals) historyStore(cmd *cobra.Command) (st history.Store, name string, err error) {
	sel, err := g.currentProfile(cmd)
	if err != nil {
		return nil, "", err
	}
	if isObjectStorage(sel) {
		r, err := g.objectRepo(cmd.Context(), sel, changeFlags{})
		if err != nil {
			return nil, "", err
		}
		return r.History(), r.Address().Name, nil
	}
	loc, err := repodb.ParseLocation(sel.Profile.Repo)
	if err != nil {
		return nil, "", usage(err)
	}
	return history.DirOf(loc.Dir, loc.Name), loc.Name, nil
}

// parseGeneration reads a generation number argument.
func parseGeneration(s string) (int64, error) {
	g, err := strconv.ParseInt(s, 10, 64)
	if err != nil || g < 0 {
		return 0, usage(fmt.Errorf("%q is not a generation number (pacrepo log lists them)", s))
	}
	return g, nil
}

func newLogCommand(g *Globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "log [NAME...]",
		Short: "Show the repository's generations, newest first",
		Long: `Show the generations of the repository, newest first: each change of the
repository (add, remove, update, reset, rollback) is one, with its time, who
made it, the command, and what it registered, unregistered and retired.
With NAMEs, only the generations that changed one of those packages.

--json prints {"repo": NAME, "generations": [...]}, each generation as its
record is kept.`,
		Example: `  pacrepo log
  pacrepo log bar
  pacrepo diff 12`,
		ValidArgsFunction: completeRegisteredNames(g),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, name, err := g.historyStore(cmd)
			if err != nil {
				return err
			}
			recs, err := history.Log(cmd.Context(), st, args)
			if err != nil {
				return err
			}
			if asJSON {
				if recs == nil {
					recs = []*history.Record{}
				}
				return ui.WriteJSON(g.Stdout, struct {
					Repo        string            `json:"repo"`
					Generations []*history.Record `json:"generations"`
				}{name, recs})
			}
			for _, r := range recs {
				printRecord(g, r)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// printRecord prints one generation of log.
func printRecord(g *Globals, r *history.Record) {
	who := r.User
	if r.Host != "" {
		who += "@" + r.Host
	}
	head := []string{fmt.Sprintf("generation %d", r.Generation), r.Time.UTC().Format(time.RFC3339)}
	if who != "" {
		head = append(head, who)
	}
	fmt.Fprintln(g.Stdout, strings.Join(head, "  "))
	if r.Command != "" {
		fmt.Fprintf(g.Stdout, "    %s\n", r.Command)
	}
	for _, p := range r.Registered {
		fmt.Fprintf(g.Stdout, "    %s\n", registration(p))
	}
	for _, p := range r.Unregistered {
		fmt.Fprintf(g.Stdout, "    remove %s %s\n", p.Name, p.Version)
	}
	for _, p := range r.Retired {
		fmt.Fprintf(g.Stdout, "    retire %s: %s\n", p.File, retiredText(p))
	}
}

// registration says what registering p did.
func registration(p history.Package) string {
	switch c := version.Compare(p.Version, p.From); {
	case p.From == "":
		return fmt.Sprintf("new %s %s", p.Name, p.Version)
	case c > 0:
		return fmt.Sprintf("upgrade %s %s -> %s", p.Name, p.From, p.Version)
	case c < 0:
		return fmt.Sprintf("downgrade %s %s -> %s", p.Name, p.From, p.Version)
	}
	return fmt.Sprintf("refresh %s %s", p.Name, p.Version)
}

func retiredText(p history.Retired) string {
	switch p.Disposal {
	case history.Moved:
		return "moved to " + p.To
	case history.Deleted:
		return "deleted"
	case history.Kept:
		return "kept"
	case history.Left:
		return "left in place"
	}
	return p.Disposal
}

func newDiffCommand(g *Globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "diff GEN [GEN]",
		Short: "Show what differs between two generations of the repository",
		Long: `Show the packages added, removed and changed (another version, or another
build of the same one) from generation GEN to the second GEN, by default the
newest (pacrepo log lists them).

--json prints {"repo": NAME, "from": GEN, "to": GEN, "added": [...],
"removed": [...], "changed": [...]}; a changed package's "from" is its
version in the first generation.`,
		Example: `  pacrepo diff 12
  pacrepo diff 12 15 --json`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			from, err := parseGeneration(args[0])
			if err != nil {
				return err
			}
			st, name, err := g.historyStore(cmd)
			if err != nil {
				return err
			}
			var to int64
			if len(args) == 2 {
				if to, err = parseGeneration(args[1]); err != nil {
					return err
				}
			} else {
				newest, err := history.Newest(cmd.Context(), st)
				if err != nil {
					return err
				}
				to = newest.Generation
			}
			d, err := history.Diff(cmd.Context(), st, from, to)
			if err != nil {
				return err
			}
			if asJSON {
				return ui.WriteJSON(g.Stdout, struct {
					Repo string `json:"repo"`
					*history.Difference
				}{name, d})
			}
			for _, p := range d.Added {
				fmt.Fprintf(g.Stdout, "+ %s %s\n", p.Name, p.Version)
			}
			for _, p := range d.Removed {
				fmt.Fprintf(g.Stdout, "- %s %s\n", p.Name, p.Version)
			}
			for _, p := range d.Changed {
				if p.From == p.Version {
					fmt.Fprintf(g.Stdout, "~ %s %s (rebuilt: %s)\n", p.Name, p.Version, p.File)
					continue
				}
				fmt.Fprintf(g.Stdout, "~ %s %s -> %s\n", p.Name, p.From, p.Version)
			}
			if !g.output().Quiet {
				fmt.Fprintf(g.Stdout, "generation %d -> %d: %d added, %d removed, %d changed\n", d.From, d.To,
					len(d.Added), len(d.Removed), len(d.Changed))
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
