package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/pacrepo/pacrepo/internal/repo"
	"github.com/pacrepo/pacrepo/internal/ui"
)

type checkOptions struct {
	repair bool
	json   bool
	deps   bool
}

func init() { register(newCheckCommand) }

func newCheckCommand(g *Globals) *cobra.Command {
	var o checkOptions
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Verify the repository against its invariants",
		Long: `Verify the whole repository: every database entry's file is present with the
right size and SHA-256, no package file is missing from the database, no
signature is orphaned, the db and files databases agree, and no interrupted
transaction or temporary file is left behind.

With --repair, an interrupted transaction is finished (or rolled back) and
what can be repaired without losing anything is repaired; what cannot is
reported. Exits with code 5 when problems remain.

With --deps, check instead that every package can be installed: each of
its dependencies (with their version constraints, provides and soname
provides such as libfoo.so=1-64) is satisfied by this repository or its
upstream repositories (the profile's upstream, read from sync_db_dir),
and each library its ELF files need is still provided at that soname when
some package known provides it. Libraries nothing known provides are
listed as external. Exits with code 5 when some are not met.`,
		Example: `  pacrepo check
  pacrepo check --repair
  pacrepo check --json
  pacrepo check --deps`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runCheck(cmd, g, o)
		},
	}
	cmd.Flags().BoolVar(&o.repair, "repair", false, "finish interrupted transactions and repair what can be repaired safely")
	cmd.Flags().BoolVar(&o.json, "json", false, "print JSON")
	cmd.Flags().BoolVar(&o.deps, "deps", false, "check that every package's dependencies and needed libraries are met")
	cmd.MarkFlagsMutuallyExclusive("deps", "repair")
	return cmd
}

type findingJSON struct {
	Kind     string `json:"kind"`
	Name     string `json:"name,omitempty"`
	Path     string `json:"path,omitempty"`
	Detail   string `json:"detail"`
	Repaired bool   `json:"repaired"`
}

func runCheck(cmd *cobra.Command, g *Globals, o checkOptions) error {
	if o.deps {
		return runCheckDeps(cmd, g, o)
	}
	sel, err := g.currentProfile(cmd)
	if err != nil {
		return err
	}
	defer sel.UI.Finish()
	var repoName string
	var checked int
	var findings []findingJSON
	if isObjectStorage(sel) {
		repoName, checked, findings, err = g.checkObjectStorage(cmd, sel, o.repair)
	} else {
		repoName, checked, findings, err = checkDirectory(cmd, g, sel, o.repair)
	}
	sel.UI.Finish()
	if err != nil {
		return err
	}
	remaining := 0
	for _, f := range findings {
		if !f.Repaired {
			remaining++
		}
	}
	if o.json {
		err = ui.WriteJSON(g.Stdout, struct {
			Repo     string        `json:"repo"`
			Checked  int           `json:"checked"`
			Findings []findingJSON `json:"findings"`
		}{repoName, checked, findings})
		if err != nil {
			return err
		}
	} else {
		for _, f := range findings {
			state := ""
			if f.Repaired {
				state = " [repaired]"
			}
			where := f.Path
			if where == "" {
				where = f.Name
			}
			fmt.Fprintf(g.Stdout, "%s: %s: %s%s\n", f.Kind, where, f.Detail, state)
		}
		if !g.output().Quiet {
			fmt.Fprintf(g.Stdout, "checked %s: %s, %d repaired\n", plural(checked, "package"), plural(len(findings), "problem"), len(findings)-remaining)
		}
	}
	if remaining > 0 {
		return reported(&problemsFoundError{remaining: remaining})
	}
	return nil
}

// checkDirectory checks a repository directory.
func checkDirectory(cmd *cobra.Command, g *Globals, sel *profileSelection, repair bool) (string, int, []findingJSON, error) {
	opts, err := g.repoOptionsFor(cmd, sel)
	if err != nil {
		return "", 0, nil, err
	}
	r := repo.New(opts)
	report, err := r.Check(cmd.Context(), repair)
	if err != nil {
		return "", 0, nil, err
	}
	findings := make([]findingJSON, 0, len(report.Findings))
	for _, f := range report.Findings {
		findings = append(findings, findingJSON{Kind: f.Kind, Name: f.Name, Path: f.Path, Detail: f.Detail, Repaired: f.Repaired})
	}
	// An interrupted promotion is finished with the target's options.
	if f, err := g.promotionFinding(cmd, sel.Config, r.PromotionStore(), repair); err != nil {
		return "", 0, nil, err
	} else if f != nil {
		findings = append(findings, *f)
	}
	return opts.DB.Name, report.Checked, findings, nil
}

// plural writes n with its noun, in the singular for one.
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
