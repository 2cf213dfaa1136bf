package cli

import (
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pacrepo/pacrepo/internal/aur/depsolve"
	"github.com/pacrepo/pacrepo/internal/config"
	"github.com/pacrepo/pacrepo/internal/repo"
	"github.com/pacrepo/pacrepo/internal/ui"
)

type listOptions struct {
	versioned  bool
	pending    bool
	duplicates bool
	outdated   bool
	installed  bool
	all        bool
	json       bool
	posix      bool
	localDBDir string
}

func init() { register(newListCommand) }

func newListCommand(g *Globals) *cobra.Command {
	var o listOptions
	cmd := &cobra.Command{
		Use:     "list [PATTERN...]",
		Aliases: []string{"ls"},
		Short:   "List the packages of the repository",
		Long: `List the registered packages of the repository, optionally only those whose
name matches one of the PATTERNs: a pattern with *, ? or [ ] is a shell glob
of the whole name, any other matches anywhere in the name (as repoctl does).
--json prints {"repo": NAME, "packages": [...], "problems": [...]}.

Marks:
  -v    the registered version
  -p    name* has a pending update, -name- is registered without its file,
        +name+ is a file not registered yet
  -d    (n) the number of other files of the same package in the directory
  -o    with -v "-> v" a newer version in the AUR, "<- v" an older one;
        without -v <!> newer in the AUR, <*> newer here, <?> not in the AUR;
        <AUR unknown> when the AUR cannot be reached (then exit 3)
  -l    [installed] installed on this machine (pacman's local database)`,
		Example: `  pacrepo list -v
  pacrepo list -vp 'python-*'
  pacrepo list --json`,
		ValidArgsFunction: completeRegisteredNames(g),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runList(cmd, g, o, args)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&o.versioned, "versioned", "v", false, "show package versions")
	f.BoolVarP(&o.pending, "pending", "p", false, "mark pending changes to the database")
	f.BoolVarP(&o.duplicates, "duplicates", "d", false, "mark packages with more than one file")
	f.BoolVarP(&o.outdated, "outdated", "o", false, "mark packages that are newer or older in the AUR")
	f.BoolVarP(&o.installed, "installed", "l", false, "mark packages installed on this machine: [installed] (with -v, [installed V] when V differs)")
	f.StringVar(&o.localDBDir, "local-db-dir", "", "pacman local database for -l (default: profile local_db_dir, else "+config.DefaultLocalDBDir+")")
	f.BoolVarP(&o.all, "all", "a", false, "all marks: same as -vpdol")
	f.BoolVarP(&g.Columns, "columns", "s", false, "print in columns (the configuration's columnate)")
	f.BoolVar(&o.posix, "posix", false, "repoctl's regular expressions: refused, pacrepo takes shell patterns")
	f.Lookup("posix").Hidden = true
	f.BoolVar(&o.json, "json", false, "print JSON")
	return cmd
}

// listedPackage is one row of `list`.
type listedPackage struct {
	Name       string `json:"name"`
	Version    string `json:"version,omitempty"`
	Registered bool   `json:"registered"`
	HasFile    bool   `json:"has_file"`
	Pending    bool   `json:"pending"`
	Duplicates int    `json:"duplicates"`
	AURVersion string `json:"aur_version,omitempty"`
	AUR        string `json:"aur,omitempty"` // newer, older, same, missing, unknown (the AUR out of reach)
	// Installed is the version installed on this machine (-l), "" if none.
	Installed string `json:"installed,omitempty"`
}

func runList(cmd *cobra.Command, g *Globals, o listOptions, patterns []string) error {
	if o.posix {
		return usage(errors.New("--posix: pacrepo list takes shell patterns ('python-*') or plain substrings ('qt'), not regular expressions"))
	}
	if o.all {
		o.versioned, o.pending, o.duplicates, o.outdated, o.installed = true, true, true, true, true
	}
	for _, p := range patterns {
		if _, err := path.Match(p, ""); err != nil {
			return usage(fmt.Errorf("bad pattern %q: %w", p, err))
		}
	}
	sel, err := g.currentProfile(cmd)
	if err != nil {
		return err
	}
	defer sel.UI.Finish()
	ctx := cmd.Context()
	var rows []listedPackage
	var problems []repo.Problem
	if isObjectStorage(sel) {
		if o.pending || o.duplicates {
			return usage(errors.New("list -p/-d: a repository in object storage has no files waiting to be registered"))
		}
		rows, err = g.objectListRows(ctx, sel)
	} else {
		var opts repo.Options
		if opts, err = g.repoOptionsFor(cmd, sel); err == nil {
			rows, problems, err = listRows(cmd, repo.New(opts), o)
		}
	}
	if err != nil {
		return err
	}
	rows = filterRows(rows, patterns)
	var aurErr error
	if o.outdated {
		// An AUR out of reach still lists what is known locally, then exits 3.
		aurErr = g.markAUR(ctx, sel, rows)
		var down *aurUnavailableError
		if aurErr != nil && !errors.As(aurErr, &down) {
			return aurErr
		}
	}
	if o.installed {
		if err := markInstalled(rows, firstNonEmpty(o.localDBDir, sel.Profile.LocalDatabase())); err != nil {
			return err
		}
	}
	if o.json {
		if rows == nil {
			rows = []listedPackage{}
		}
		out := struct {
			Repo     string          `json:"repo"`
			Packages []listedPackage `json:"packages"`
			Problems []problemJSON   `json:"problems"`
		}{repoName(sel), rows, problemsJSON(problems)}
		if err := ui.WriteJSON(g.Stdout, out); err != nil {
			return err
		}
	} else {
		items := make([]string, 0, len(rows))
		for _, row := range rows {
			items = append(items, formatListRow(row, o))
		}
		if g.columnate(cmd, sel.Config) {
			if err := ui.Columns(g.Stdout, items, sel.UI.Width()); err != nil {
				return err
			}
		} else {
			for _, it := range items {
				fmt.Fprintln(g.Stdout, it)
			}
		}
	}
	if len(problems) > 0 {
		return reportProblems(g.Stderr, problems)
	}
	return aurErr
}

// listRows builds the rows from the database alone when no mark needs the
// directory, and from the scanned state and plan otherwise.
func listRows(cmd *cobra.Command, r *repo.Repo, o listOptions) ([]listedPackage, []repo.Problem, error) {
	ctx := cmd.Context()
	if !o.pending && !o.duplicates {
		entries, err := r.Entries(ctx)
		if err != nil {
			return nil, nil, err
		}
		rows := make([]listedPackage, 0, len(entries))
		for _, e := range entries {
			rows = append(rows, listedPackage{Name: e.Name, Version: e.Version, Registered: true, HasFile: true})
		}
		return rows, nil, nil
	}
	state, err := r.State(ctx, repo.Request{})
	if err != nil {
		return nil, nil, err
	}
	plan := state.Pending
	pending := map[string]bool{}
	for _, a := range plan.Actions {
		switch a.Kind {
		case repo.ActNew, repo.ActUpgrade, repo.ActDowngrade, repo.ActRefresh, repo.ActUnregister:
			pending[a.Name] = true
		}
	}
	rows := make([]listedPackage, 0, len(state.Packages))
	for _, p := range state.Packages {
		row := listedPackage{Name: p.Name, Registered: p.Entry != nil, Pending: pending[p.Name]}
		if p.Entry != nil {
			row.Version = p.Entry.Version
			for _, f := range p.Files {
				if f.Filename == p.Entry.Filename {
					row.HasFile = true
				}
			}
		} else if len(p.Files) > 0 {
			row.Version = p.Files[0].Version
			row.HasFile = true
		}
		if len(p.Files) > 1 {
			row.Duplicates = len(p.Files) - 1
		}
		rows = append(rows, row)
	}
	return rows, plan.Problems, nil
}

func filterRows(rows []listedPackage, patterns []string) []listedPackage {
	if len(patterns) == 0 {
		return rows
	}
	var out []listedPackage
	for _, row := range rows {
		for _, p := range patterns {
			if matchName(p, row.Name) {
				out = append(out, row)
				break
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// matchName matches a package name as repoctl does: a pattern without
// glob characters matches as a substring, one with them as a shell glob of
// the whole name.
func matchName(pattern, name string) bool {
	if !strings.ContainsAny(pattern, "*?[\\") {
		return strings.Contains(name, pattern)
	}
	ok, _ := path.Match(pattern, name)
	return ok
}

func formatListRow(row listedPackage, o listOptions) string {
	var b strings.Builder
	switch {
	case o.pending && row.Registered && !row.HasFile:
		b.WriteString("-" + row.Name + "-")
	case o.pending && !row.Registered:
		b.WriteString("+" + row.Name + "+")
	default:
		b.WriteString(row.Name)
		if o.pending && row.Pending {
			b.WriteByte('*')
		}
	}
	if o.versioned && row.Version != "" {
		b.WriteString(" " + row.Version)
	}
	if o.outdated {
		switch row.AUR {
		case "missing":
			b.WriteString(" <?>")
		case "newer":
			if o.versioned {
				b.WriteString(" -> " + row.AURVersion)
			} else {
				b.WriteString(" <!>")
			}
		case "older":
			if o.versioned {
				b.WriteString(" <- " + row.AURVersion)
			} else {
				b.WriteString(" <*>")
			}
		case "unknown":
			b.WriteString(" <AUR unknown>")
		}
	}
	if o.duplicates && row.Duplicates > 0 {
		fmt.Fprintf(&b, " (%d)", row.Duplicates)
	}
	if o.installed && row.Installed != "" {
		if row.Installed == row.Version || !o.versioned {
			b.WriteString(" [installed]")
		} else {
			b.WriteString(" [installed " + row.Installed + "]")
		}
	}
	return b.String()
}

// markInstalled sets each row's installed version from pacman's local
// database in localDir (read in-process).
func markInstalled(rows []listedPackage, localDir string) error {
	installed, err := depsolve.LoadPacman("", localDir)
	if err != nil {
		return err
	}
	versions := make(map[string]string, len(installed))
	for _, p := range installed {
		versions[p.Name] = p.Version
	}
	for i := range rows {
		rows[i].Installed = versions[rows[i].Name]
	}
	return nil
}
