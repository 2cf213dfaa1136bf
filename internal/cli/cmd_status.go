package cli

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pacrepo/pacrepo/internal/repo"
	"github.com/pacrepo/pacrepo/internal/ui"
)

type statusOptions struct {
	aur     bool
	missing bool
	cached  bool
	json    bool
}

func init() { register(newStatusCommand) }

func newStatusCommand(g *Globals) *cobra.Command {
	var o statusOptions
	cmd := &cobra.Command{
		Use:   "status [NAME...]",
		Short: "Show what update would do, package by package",
		Long: `Show the pending changes to the database, package by package, computed by
the very plan that update applies:

  new(v)             a package file not yet registered
  update(a->b)       a newer file than the registered one
  removal            a registered package whose file is gone
  obsolete(n)        n files that a newer registered version made obsolete
  upgrade(a->b)      (with -a) a newer version in the AUR
  !aur               (with -a -m) not in the AUR
  cached(n)          (with -c) n old files kept in the directory, retired in
                     place (backup = true with backup_dir "" or ".")

Unreadable or incomplete files are listed with their reason; status then
exits with code 3 when every such file is still being written, else 1.`,
		Example: `  pacrepo status
  pacrepo status -a        # also ask the AUR for newer versions
  pacrepo status --json`,
		ValidArgsFunction: completeRegisteredNames(g),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runStatus(cmd, g, o, args)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&o.aur, "aur", "a", false, "also check the AUR for upgrades")
	f.BoolVarP(&o.missing, "missing", "m", false, "with -a, mark packages that are not in the AUR")
	f.BoolVarP(&o.cached, "cached", "c", false, "show how many old files each package keeps in the directory (keep-in-place retirement)")
	f.BoolVar(&o.json, "json", false, "print JSON")
	return cmd
}

type statusJSON struct {
	Repo     string          `json:"repo"`
	Packages []packageStatus `json:"packages"`
	Problems []problemJSON   `json:"problems"`
}

func runStatus(cmd *cobra.Command, g *Globals, o statusOptions, names []string) error {
	sel, err := g.currentProfile(cmd)
	if err != nil {
		return err
	}
	if isObjectStorage(sel) {
		return g.objectStatus(cmd, sel, o, names)
	}
	opts, err := g.repoOptionsFor(cmd, sel)
	if err != nil {
		return err
	}
	// What update would sign: a signer the profile cannot make (a
	// passphrase not given) shows no sign action.
	if sel.Profile.SignsDatabases() {
		if s, err := signer(sel.Profile, ""); err == nil {
			opts.DatabaseSigner = s
		}
	}
	r := repo.New(opts)
	defer sel.UI.Finish()
	ctx := cmd.Context()
	var plan *repo.Plan
	var cached map[string]int
	// What update would do: with the signatures the profile embeds.
	req := repo.Request{EmbedSignatures: sel.Profile.AddOptions.IncludeSigs}
	if o.cached {
		plan, cached, err = statusWithCached(ctx, r, names, req)
	} else {
		plan, err = r.Status(ctx, names, req)
	}
	sel.UI.Finish()
	if err := g.showRefused(plan, err); err != nil {
		return err
	}
	lines := addCached(summarise(plan), cached)
	var aurErr error
	if o.aur {
		// An AUR out of reach still shows the local status, then exits 3.
		lines, aurErr = g.addAURStatus(ctx, r, sel, lines, names, o.missing)
		var down *aurUnavailableError
		if aurErr != nil && !errors.As(aurErr, &down) {
			return aurErr
		}
	}
	if err := g.printStatus(sel, o.json, r.Options().DB.Name, lines, plan.Problems); err != nil {
		return err
	}
	return aurErr
}

// showRefused lets status show a plan the safety valve refuses, with a
// warning: it is what update would refuse to do. Other errors stop it.
func (g *Globals) showRefused(plan *repo.Plan, err error) error {
	var refused *repo.RefusedError
	if errors.As(err, &refused) && plan != nil {
		fmt.Fprintf(g.Stderr, "pacrepo: warning: update would refuse this: %v\n", err)
		return nil
	}
	return err
}

// printStatus prints status's lines and the problems found.
func (g *Globals) printStatus(sel *profileSelection, asJSON bool, repoName string, lines []packageStatus, problems []repo.Problem) error {
	if asJSON {
		if err := ui.WriteJSON(g.Stdout, statusJSON{Repo: repoName, Packages: lines, Problems: problemsJSON(problems)}); err != nil {
			return err
		}
		if len(problems) > 0 {
			return reported(&skippedFilesError{problems: problems})
		}
		return nil
	}
	u := sel.UI
	fmt.Fprintf(g.Stdout, "On repo %s\n\n", u.Yellow(repoName))
	for _, l := range lines {
		if len(l.Flags) > 0 {
			fmt.Fprintf(g.Stdout, "\t%s: %s\n", l.Name, colorFlags(u, l.Flags))
		}
	}
	if len(problems) > 0 {
		fmt.Fprintln(g.Stdout, "\nUnreadable files (left alone, decide nothing):")
		for _, p := range problems {
			fmt.Fprintf(g.Stdout, "\t%s: %s: %s\n", p.Path, u.Red(problemKind(p)), problemReason(p))
		}
		return reported(&skippedFilesError{problems: problems})
	}
	if len(lines) == 0 {
		fmt.Fprintln(g.Stdout, "Everything up-to-date.")
	}
	return nil
}

// colorFlags colours status flags as repoctl does: changes that add in
// green, removals in red, obsolete files and AUR notes in yellow.
func colorFlags(u *ui.UI, flags []string) string {
	out := make([]string, len(flags))
	for i, f := range flags {
		switch {
		case strings.HasPrefix(f, "new"), strings.HasPrefix(f, "update"), strings.HasPrefix(f, "upgrade"), strings.HasPrefix(f, "refresh"):
			out[i] = u.Green(f)
		case f == "removal", strings.HasPrefix(f, "downgrade"):
			out[i] = u.Red(f)
		default:
			out[i] = u.Yellow(f)
		}
	}
	return strings.Join(out, " ")
}

// statusWithCached is the plan update would apply (for names, or all) and
// the number of files each name keeps retired in place, from one scan.
func statusWithCached(ctx context.Context, r *repo.Repo, names []string, req repo.Request) (*repo.Plan, map[string]int, error) {
	st, err := r.State(ctx, req)
	if err != nil {
		return nil, nil, err
	}
	if len(names) > 0 {
		// The state's pending plan is for every name: plan for these.
		plan, err := r.Status(ctx, names, req)
		if err != nil && plan == nil {
			return nil, nil, err
		}
		st.Pending = plan
	}
	cached := map[string]int{}
	for _, p := range st.Packages {
		if len(p.Kept) > 0 && (len(names) == 0 || slices.Contains(names, p.Name)) {
			cached[p.Name] = len(p.Kept)
		}
	}
	return st.Pending, cached, nil
}

// addCached adds the cached(n) flag of status -c to the summary lines.
func addCached(lines []packageStatus, cached map[string]int) []packageStatus {
	if len(cached) == 0 {
		return lines
	}
	byName := map[string]int{}
	for i, l := range lines {
		byName[l.Name] = i
	}
	for name, n := range cached {
		i, ok := byName[name]
		if !ok {
			lines = append(lines, packageStatus{Name: name, Flags: []string{}, Actions: []planAction{}})
			i = len(lines) - 1
		}
		lines[i].Flags = append(lines[i].Flags, fmt.Sprintf("cached(%d)", n))
	}
	sort.Slice(lines, func(i, j int) bool { return lines[i].Name < lines[j].Name })
	return lines
}
