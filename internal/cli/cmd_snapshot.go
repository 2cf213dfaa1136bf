package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/pacrepo/pacrepo/internal/history"
	"github.com/pacrepo/pacrepo/internal/ui"
)

func init() { register(newSnapshotCommand) }

// snapshotStore is the selected repository's snapshots, in a directory or
// a bucket.
type snapshotStore struct {
	repo   string // the repository's name
	st     history.Store
	snaps  history.Snapshots
	create func(ctx context.Context, name string, from int64) (*history.Snapshot, error)
	delete func(ctx context.Context, name string) error
}

func (g *Globals) snapshotStore(cmd *cobra.Command) (*snapshotStore, error) {
	sel, err := g.currentProfile(cmd)
	if err != nil {
		return nil, err
	}
	if isObjectStorage(sel) {
		r, err := g.objectRepo(cmd.Context(), sel, changeFlags{})
		if err != nil {
			return nil, err
		}
		return &snapshotStore{repo: r.Address().Name, st: r.History(), snaps: r.Snapshots(),
			create: func(ctx context.Context, name string, from int64) (*history.Snapshot, error) {
				return r.CreateSnapshot(ctx, name, from, g.Command)
			},
			delete: r.DeleteSnapshot}, nil
	}
	r, _, err := g.openRepo(cmd)
	if err != nil {
		return nil, err
	}
	h := r.History()
	return &snapshotStore{repo: r.Options().DB.Name, st: h, snaps: h,
		create: func(ctx context.Context, name string, from int64) (*history.Snapshot, error) {
			return r.CreateSnapshot(ctx, name, from, g.Command)
		},
		delete: func(ctx context.Context, name string) error { return r.DeleteSnapshot(ctx, name, g.Command) }}, nil
}

// checkSnapshotName refuses a snapshot name argument as a usage error.
func checkSnapshotName(name string) error {
	if err := history.CheckSnapshotName(name); err != nil {
		return usage(err)
	}
	return nil
}

func newSnapshotCommand(g *Globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "snapshot",
		Short: "Name a generation of the repository, to serve or promote exactly it",
		Long: `A snapshot is a name given to one generation of the repository (pacrepo log
lists them). It is immutable: it serves the same packages until it is
deleted, and it pins its files meanwhile: no change, retirement, pruning or
gc deletes a file a snapshot references (a directory keeps hard links of
them in its history directory). host serves snapshot S of repository R at
/R/snapshots/S/; promote --snapshot S moves exactly what S holds.

A name is at most 64 bytes of printable characters, with no slash, no
space and no leading dot.`,
		Example: `  pacrepo snapshot create tested-2026-12
  pacrepo snapshot create before-upgrade --from 41
  pacrepo snapshot list
  pacrepo snapshot show tested-2026-12 --json
  pacrepo snapshot delete before-upgrade`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return usage(fmt.Errorf("snapshot needs a subcommand: create, list, show or delete"))
		},
	}
	cmd.AddCommand(newSnapshotCreateCommand(g), newSnapshotListCommand(g), newSnapshotShowCommand(g), newSnapshotDeleteCommand(g))
	return cmd
}

func newSnapshotCreateCommand(g *Globals) *cobra.Command {
	var from string
	cmd := &cobra.Command{
		Use:   "create S",
		Short: "Make the newest generation (or --from GEN) snapshot S",
		Long: `Make the newest generation of the repository, or generation GEN with --from,
snapshot S. Every package file of the generation must still be held (in the
directory, kept in place, in the backup directory, or in the bucket);
otherwise no snapshot is made and the files gone are named. A snapshot is
never replaced: delete it first.`,
		Example: `  pacrepo snapshot create tested-2026-12
  pacrepo snapshot create before-upgrade --from 41`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkSnapshotName(args[0]); err != nil {
				return err
			}
			gen := int64(-1)
			if from != "" {
				var err error
				if gen, err = parseGeneration(from); err != nil {
					return err
				}
			}
			s, err := g.snapshotStore(cmd)
			if err != nil {
				return err
			}
			snap, err := s.create(cmd.Context(), args[0], gen)
			if err != nil {
				return err
			}
			if !g.output().Quiet {
				fmt.Fprintf(g.Stdout, "snapshot %s of %s: generation %d\n", snap.Name, s.repo, snap.Generation)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&from, "from", "", "the generation to snapshot (default: the newest)")
	return cmd
}

// snapshotInfo is a snapshot as list and show print it.
type snapshotInfo struct {
	Name       string            `json:"name"`
	Generation int64             `json:"generation"`
	Time       time.Time         `json:"time"`
	Host       string            `json:"host,omitempty"`
	User       string            `json:"user,omitempty"`
	Command    string            `json:"command,omitempty"`
	Packages   []history.Package `json:"packages,omitempty"`
}

func infoOf(s *history.Snapshot) snapshotInfo {
	return snapshotInfo{Name: s.Name, Generation: s.Generation, Time: s.Time, Host: s.Host, User: s.User, Command: s.Command}
}

func newSnapshotListCommand(g *Globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the repository's snapshots",
		Long: `List the snapshots of the repository, by name, with the generation each is.

--json prints {"repo": NAME, "snapshots": [{"name", "generation", "time",
"host", "user", "command"}...]}.`,
		Example: `  pacrepo snapshot list
  pacrepo snapshot list --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := g.snapshotStore(cmd)
			if err != nil {
				return err
			}
			names, err := s.snaps.SnapshotNames(cmd.Context())
			if err != nil {
				return err
			}
			out := []snapshotInfo{}
			for _, n := range names {
				snap, err := s.snaps.Snapshot(cmd.Context(), n)
				if err != nil {
					return err
				}
				out = append(out, infoOf(snap))
			}
			if asJSON {
				return ui.WriteJSON(g.Stdout, struct {
					Repo      string         `json:"repo"`
					Snapshots []snapshotInfo `json:"snapshots"`
				}{s.repo, out})
			}
			for _, i := range out {
				fmt.Fprintf(g.Stdout, "%s  generation %d  %s\n", i.Name, i.Generation, i.Time.UTC().Format(time.RFC3339))
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newSnapshotShowCommand(g *Globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "show S",
		Short: "Show snapshot S and its packages",
		Long: `Show snapshot S: its generation, when and by whom it was made, and the
packages it holds (from the generation's database).

--json prints {"repo": NAME, "name", "generation", "time", "host", "user",
"command", "packages": [{"name", "version", "file", "size", "sha256"}...]}.`,
		Example: `  pacrepo snapshot show tested-2026-12
  pacrepo snapshot show tested-2026-12 --json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkSnapshotName(args[0]); err != nil {
				return err
			}
			s, err := g.snapshotStore(cmd)
			if err != nil {
				return err
			}
			snap, err := s.snaps.Snapshot(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			pkgs, err := history.SnapshotPackages(cmd.Context(), s.st, snap)
			if err != nil {
				return err
			}
			info := infoOf(snap)
			info.Packages = pkgs
			if asJSON {
				if info.Packages == nil {
					info.Packages = []history.Package{}
				}
				return ui.WriteJSON(g.Stdout, struct {
					Repo string `json:"repo"`
					snapshotInfo
				}{s.repo, info})
			}
			fmt.Fprintf(g.Stdout, "snapshot %s  generation %d  %s\n", snap.Name, snap.Generation, snap.Time.UTC().Format(time.RFC3339))
			for _, p := range pkgs {
				fmt.Fprintf(g.Stdout, "%s %s\n", p.Name, p.Version)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newSnapshotDeleteCommand(g *Globals) *cobra.Command {
	return &cobra.Command{
		Use:     "delete S",
		Short:   "Delete snapshot S: what only it pinned may then be deleted",
		Example: `  pacrepo snapshot delete before-upgrade`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkSnapshotName(args[0]); err != nil {
				return err
			}
			s, err := g.snapshotStore(cmd)
			if err != nil {
				return err
			}
			if err := s.delete(cmd.Context(), args[0]); err != nil {
				return err
			}
			if !g.output().Quiet {
				fmt.Fprintf(g.Stdout, "deleted snapshot %s of %s\n", args[0], s.repo)
			}
			return nil
		},
	}
}
