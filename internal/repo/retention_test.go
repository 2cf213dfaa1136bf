package repo

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/pacrepo/pacrepo/internal/history"
)

// pruneActions are the ActPrune actions of a result, by file.
func pruneActions(res *Result) map[string]Action {
	out := map[string]Action{}
	if res == nil || res.Plan == nil {
		return out
	}
	for _, a := range res.Plan.Actions {
		if a.Kind == ActPrune {
			out[a.File] = a
		}
	}
	return out
}

// TestPruneSparesAKeptFileRegisteredAgain: in keep-in-place mode with
// KeepBackups, adding again a file kept in place (rolling back to it)
// registered it, then pruning the files kept in place deleted it, saying
// nothing: the database named a missing file. A kept file registered again
// leaves the kept list instead, and what is pruned later is reported.
func TestPruneSparesAKeptFileRegisteredAgain(t *testing.T) {
	for _, keep := range []int{1, 2} {
		t.Run(itoa(keep), func(t *testing.T) {
			r := withOpts(newRepo(t), func(o *Options) { o.RetireInPlace, o.KeepBackups = true, keep })
			src := t.TempDir()
			for _, v := range []string{"1.0-1", "2.0-1", "3.0-1", "4.0-1"} {
				mustAdd(t, r, mkpkg(t, src, "bar", v))
			}
			back := "3.0-1" // the one file kept with keep 1
			if keep == 2 {
				back = "2.0-1"
			}
			res, err := r.Add(ctx, []string{filepath.Join(r.dir(), fn("bar", back))}, AddOptions{Mode: Copy})
			if err != nil {
				t.Fatalf("adding the kept bar %s again: %v", back, err)
			}
			if got := registered(t, r); got["bar"] != back {
				t.Fatalf("registered %v, want bar %s", got, back)
			}
			if _, err := os.Stat(filepath.Join(r.dir(), fn("bar", back))); err != nil {
				t.Fatalf("the file just registered was pruned: %v (pruned %v)", err, pruneActions(res))
			}
			assertInvariant1(t, r)
			assertClean(t, r)
			k, err := r.loadKept()
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := k.Files[fn("bar", back)]; ok {
				t.Errorf("the registered %s is still recorded as kept", fn("bar", back))
			}

			// The next retirement prunes the oldest file kept, and says so.
			res, err = r.Add(ctx, []string{mkpkg(t, src, "bar", "5.0-1")}, AddOptions{Mode: Copy})
			if err != nil {
				t.Fatal(err)
			}
			want := []string{"4.0-1", "3.0-1", "2.0-1"}[:keep+1] // the files kept before the prune, newest first
			for i, v := range want {
				_, err := os.Stat(filepath.Join(r.dir(), fn("bar", v)))
				if pruned := i >= keep; pruned != (err != nil) {
					t.Errorf("bar %s: present %v, want %v", v, err == nil, !pruned)
				}
				if a, reported := pruneActions(res)[fn("bar", v)]; reported != (i >= keep) || reported && (a.Disposal != DisposalDelete || a.From != v) {
					t.Errorf("bar %s: prune reported %v (%+v), want %v", v, reported, a, i >= keep)
				}
			}
			assertInvariant1(t, r)
			assertClean(t, r)
		})
	}
}

// TestPruneSparesALinkedBackup: add -l of a backup registers a link to it;
// the retirement that add makes pruned the backups of the name, the link's
// target among them, leaving the database naming a dangling link. Backups
// are judged by identity against what the registered entries resolve to.
func TestPruneSparesALinkedBackup(t *testing.T) {
	r := newRepo(t)
	backup := filepath.Join(r.dir(), "backup")
	r = withOpts(r, func(o *Options) { o.BackupDir, o.KeepBackups = backup, 2 })
	src := t.TempDir()
	for _, v := range []string{"1.0-1", "2.0-1", "3.0-1"} {
		mustAdd(t, r, mkpkg(t, src, "bar", v))
	}
	target := filepath.Join(backup, fn("bar", "1.0-1"))
	res, err := r.Add(ctx, []string{target}, AddOptions{Mode: Link})
	if err != nil {
		t.Fatal(err)
	}
	if got := registered(t, r); got["bar"] != "1.0-1" {
		t.Fatalf("registered %v, want bar 1.0-1", got)
	}
	if _, err := os.Stat(target); err != nil {
		t.Fatalf("the registered link's target was pruned: %v (pruned %v)", err, pruneActions(res))
	}
	for _, v := range []string{"2.0-1", "3.0-1"} {
		if _, err := os.Stat(filepath.Join(backup, fn("bar", v))); err != nil {
			t.Errorf("backup bar %s: %v", v, err)
		}
	}
	if p := pruneActions(res); len(p) != 0 {
		t.Errorf("pruned %v", p)
	}
	assertInvariant1(t, r)
	assertClean(t, r)

	// Once the link is retired, its target is an ordinary backup again:
	// pruned as the oldest, and reported.
	res, err = r.Add(ctx, []string{mkpkg(t, src, "bar", "4.0-1")}, AddOptions{Mode: Copy})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(target); err == nil {
		t.Errorf("%s not pruned", target)
	}
	if a, ok := pruneActions(res)[target]; !ok || a.Name != "bar" || a.From != "1.0-1" {
		t.Errorf("pruning of %s not reported: %v", target, res.Plan.Actions)
	}
	assertInvariant1(t, r)
	assertClean(t, r)
}

// TestAddCopyOfAKeptFile: a byte-identical copy of a file kept in place,
// given from outside the repository under the file's own name or under
// another name, registers the kept file; it was refused as "a different
// file ... is already in the repository (remove it first)", which a kept
// file cannot be. The oldest file kept is taken, the one the pruning that
// follows would delete if it did not spare what is registered.
func TestAddCopyOfAKeptFile(t *testing.T) {
	for _, as := range []string{"same name", "other name"} {
		t.Run(as, func(t *testing.T) {
			r := withOpts(newRepo(t), func(o *Options) { o.RetireInPlace, o.KeepBackups = true, 2 })
			src := t.TempDir()
			for _, v := range []string{"1.0-1", "2.0-1", "3.0-1"} {
				mustAdd(t, r, mkpkg(t, src, "bar", v))
			}
			kept := filepath.Join(r.dir(), fn("bar", "1.0-1"))
			name := fn("bar", "1.0-1")
			if as == "other name" {
				name = "bar.pkg"
			}
			cp := filepath.Join(t.TempDir(), name)
			if err := os.WriteFile(cp, must(os.ReadFile(kept)), 0o644); err != nil {
				t.Fatal(err)
			}
			if _, err := r.Add(ctx, []string{cp}, AddOptions{Mode: Copy}); err != nil {
				t.Fatalf("adding a copy of the kept bar 1.0-1: %v", err)
			}
			if got := registered(t, r); got["bar"] != "1.0-1" {
				t.Fatalf("registered %v, want bar 1.0-1", got)
			}
			assertInvariant1(t, r)
			assertClean(t, r)
		})
	}
}

// TestPruneCrashSparesWhatIsRegistered: killed after the database write
// that registers a retired file again (before its retirements, between
// them, or after the pruning), the command is finished by recovery, and
// the file registered is there: recovery does not prune, and the pruning
// before the kill spared it.
func TestPruneCrashSparesWhatIsRegistered(t *testing.T) {
	scenarios := map[string]func(t *testing.T) (r *Repo, op, arg, back string){
		"keep": func(t *testing.T) (*Repo, string, string, string) {
			r := withOpts(newRepo(t), func(o *Options) { o.RetireInPlace, o.KeepBackups = true, 2 })
			src := t.TempDir()
			for _, v := range []string{"1.0-1", "2.0-1", "3.0-1", "4.0-1"} {
				mustAdd(t, r, mkpkg(t, src, "bar", v))
			}
			return r, "add", filepath.Join(r.dir(), fn("bar", "2.0-1")), "2.0-1"
		},
		"link": func(t *testing.T) (*Repo, string, string, string) {
			r := newRepo(t)
			backup := filepath.Join(r.dir(), "backup")
			r = withOpts(r, func(o *Options) { o.BackupDir, o.KeepBackups = backup, 2 })
			src := t.TempDir()
			for _, v := range []string{"1.0-1", "2.0-1", "3.0-1"} {
				mustAdd(t, r, mkpkg(t, src, "bar", v))
			}
			return r, "link", filepath.Join(backup, fn("bar", "1.0-1")), "1.0-1"
		},
	}
	for name, setup := range scenarios {
		for _, point := range []string{"after-db", "mid-retire", "before-journal-clear"} {
			t.Run(name+"/"+point, func(t *testing.T) {
				r, op, arg, back := setup(t)
				if out, err := helper(r, op, []string{arg}, CrashEnv+"="+point).CombinedOutput(); err == nil {
					t.Fatalf("the helper was not killed at %s: %s", point, out)
				}
				if _, err := r.Check(ctx, true); err != nil {
					t.Fatal(err)
				}
				if got := registered(t, r); got["bar"] != back {
					t.Fatalf("registered %v, want bar %s", got, back)
				}
				if _, err := os.Stat(arg); err != nil {
					t.Fatalf("the file registered is gone: %v", err)
				}
				assertInvariant1(t, r)
				assertClean(t, r)
			})
		}
	}
}

// TestRetireSparesALinksTarget: a symbolic link in the directory to a
// package file of the directory, under another package file name, was
// registered by update, which then retired (deleted, or moved to the
// backup directory) the link's target: the entry named a dangling link.
// Retiring, and recovery's roll-forward of a retirement, leave alone what
// a registered entry resolves to.
func TestRetireSparesALinksTarget(t *testing.T) {
	for _, mode := range []string{"delete", "backup"} {
		for _, crash := range []string{"", "after-db"} {
			t.Run(mode+"/"+crash, func(t *testing.T) {
				r := newRepo(t)
				if mode == "backup" {
					r = withOpts(r, func(o *Options) { o.BackupDir = filepath.Join(r.dir(), "backup") })
				}
				target := mkpkg(t, r.dir(), "bar", "1.0-1")
				if err := os.Symlink(target, filepath.Join(r.dir(), "bar-1.0-1-any.pkg.tar.zst")); err != nil {
					t.Fatal(err)
				}
				if crash == "" {
					r.Update(ctx, nil, Request{}) // may say what it left in place
				} else {
					if out, err := helper(r, "update", nil, CrashEnv+"="+crash).CombinedOutput(); err == nil {
						t.Fatalf("the helper was not killed at %s: %s", crash, out)
					}
					if _, err := r.Check(ctx, true); err != nil {
						t.Fatal(err)
					}
				}
				if got := registered(t, r); got["bar"] != "1.0-1" {
					t.Fatalf("registered %v", got)
				}
				if _, err := os.Stat(target); err != nil {
					t.Fatalf("the registered link's target was retired: %v", err)
				}
				assertInvariant1(t, r)
			})
		}
	}
}

// clock is a settable clock for Options.Now.
type clock struct{ now time.Time }

func (c *clock) Now() time.Time { return c.now }

// TestSupersededFileStaysForTheGracePeriod (issue item 4): without a
// backup directory a superseded file was deleted at once, so a client
// holding the database of a moment ago got 404. It stays, kept in place
// (no command takes it for a new package), until it was superseded
// longer ago than the grace period, and no retained generation
// references it; then the next change of its name prunes it, reported.
func TestSupersededFileStaysForTheGracePeriod(t *testing.T) {
	clk := &clock{now: time.Now()}
	r := withOpts(newRepo(t), func(o *Options) {
		o.Retention, o.Now = history.Retention{Grace: 24 * time.Hour}, clk.Now
	})
	src := t.TempDir()
	mustAdd(t, r, mkpkg(t, src, "bar", "1.0-1"))
	mustAdd(t, r, mkpkg(t, src, "bar", "2.0-1"))
	old := filepath.Join(r.dir(), fn("bar", "1.0-1"))
	if _, err := os.Stat(old); err != nil {
		t.Fatalf("bar 1.0-1, superseded now, is gone: %v", err)
	}
	if p, err := r.Status(ctx, nil, Request{}); err != nil || changes(p) {
		t.Fatalf("status after the upgrade: %v %v, want nothing to do", p, err)
	}
	assertClean(t, r)

	clk.now = clk.now.Add(25 * time.Hour)
	res, err := r.Add(ctx, []string{mkpkg(t, src, "bar", "3.0-1")}, AddOptions{Mode: Copy})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(old); err == nil {
		t.Errorf("bar 1.0-1, superseded 25h ago, not pruned")
	}
	if _, ok := pruneActions(res)[fn("bar", "1.0-1")]; !ok {
		t.Errorf("pruning of bar 1.0-1 not reported: %v", res.Plan.Actions)
	}
	if _, err := os.Stat(filepath.Join(r.dir(), fn("bar", "2.0-1"))); err != nil {
		t.Errorf("bar 2.0-1, superseded now, is gone: %v", err)
	}
	assertInvariant1(t, r)
	assertClean(t, r)
}

// TestRetainedGenerationsKeepTheirFiles: without a backup directory and
// without a grace period, the files of the newest KeepGenerations
// generations stay (rollback can restore them); older ones go.
func TestRetainedGenerationsKeepTheirFiles(t *testing.T) {
	r := withOpts(newRepo(t), func(o *Options) { o.Retention = history.Retention{KeepGenerations: 3} })
	src := t.TempDir()
	for _, v := range []string{"1.0-1", "2.0-1", "3.0-1", "4.0-1"} {
		mustAdd(t, r, mkpkg(t, src, "bar", v))
	}
	for v, want := range map[string]bool{"1.0-1": false, "2.0-1": true, "3.0-1": true, "4.0-1": true} {
		if _, err := os.Stat(filepath.Join(r.dir(), fn("bar", v))); (err == nil) != want {
			t.Errorf("bar %s present %v, want %v", v, err == nil, want)
		}
	}
	gens, err := r.History().Generations(ctx)
	if err != nil || len(gens) != 4 {
		t.Fatalf("generations %v %v", gens, err)
	}
	if _, err := r.Rollback(ctx, gens[1], Request{}); err != nil {
		t.Fatalf("rollback to bar 2.0-1, a retained generation: %v", err)
	}
	if got := registered(t, r); got["bar"] != "2.0-1" {
		t.Fatalf("registered %v, want bar 2.0-1", got)
	}
	assertInvariant1(t, r)
	assertClean(t, r)
}

// TestGCOfADirectory: gc deletes, and a dry run lists without deleting,
// the files retired longer ago than the grace period that no retained
// generation references, the records of the generations retention lets
// go (never the newest) and the databases no remaining record names.
func TestGCOfADirectory(t *testing.T) {
	clk := &clock{now: time.Now()}
	r := withOpts(newRepo(t), func(o *Options) {
		o.Retention, o.Now = history.Retention{KeepGenerations: 2, Grace: time.Hour}, clk.Now
	})
	src := t.TempDir()
	for _, v := range []string{"1.0-1", "2.0-1", "3.0-1", "4.0-1"} {
		mustAdd(t, r, mkpkg(t, src, "bar", v))
	}
	if res, err := r.GC(ctx, false); err != nil || len(res.Deleted) != 0 {
		t.Fatalf("gc within the grace period deleted %v (%v)", res, err)
	}
	clk.now = clk.now.Add(2 * time.Hour)
	dry, err := r.GC(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	h := r.History()
	gens, _ := h.Generations(ctx)
	want := []string{filepath.Join(r.dir(), fn("bar", "1.0-1")), filepath.Join(r.dir(), fn("bar", "2.0-1")),
		h.RecordPath(gens[0]), h.RecordPath(gens[1])}
	for _, w := range want {
		if !slices.Contains(dry.Deleted, w) {
			t.Errorf("gc -n does not list %s: %v", w, dry.Deleted)
		}
		if _, err := os.Stat(w); err != nil {
			t.Errorf("gc -n deleted %s", w)
		}
	}
	res, err := r.GC(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Deleted, dry.Deleted) {
		t.Errorf("gc deleted %v, gc -n listed %v", res.Deleted, dry.Deleted)
	}
	for _, w := range res.Deleted {
		if _, err := os.Lstat(w); err == nil {
			t.Errorf("%s not deleted", w)
		}
	}
	if _, err := os.Stat(filepath.Join(r.dir(), fn("bar", "3.0-1"))); err != nil {
		t.Errorf("bar 3.0-1, of a retained generation: %v", err)
	}
	left, _ := h.Generations(ctx)
	if !slices.Equal(left, gens[2:]) {
		t.Errorf("generations after gc %v, want %v", left, gens[2:])
	}
	for _, g := range left {
		rec, err := h.Record(ctx, g)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := h.Packages(ctx, rec); err != nil {
			t.Errorf("generation %d after gc: %v", g, err)
		}
	}
	if again, err := r.GC(ctx, false); err != nil || len(again.Deleted) != 0 {
		t.Errorf("a second gc deleted %v (%v)", again, err)
	}
	mustAdd(t, r, mkpkg(t, src, "bar", "5.0-1"))
	if now, _ := h.Generations(ctx); now[len(now)-1] != gens[len(gens)-1]+1 {
		t.Errorf("generations after gc and a change %v: a number reused", now)
	}
	assertInvariant1(t, r)
	assertClean(t, r)
}

// TestGCKeepsTheGenerationASnapshotNames: retention beyond keep_generations
// spares the generation a snapshot names, its record and databases too, so
// that it stays restorable.
func TestGCKeepsTheGenerationASnapshotNames(t *testing.T) {
	clk := &clock{now: time.Now()}
	r := withOpts(newRepo(t), func(o *Options) {
		o.Retention, o.Now = history.Retention{KeepGenerations: 1, Grace: time.Hour}, clk.Now
	})
	src := t.TempDir()
	mustAdd(t, r, mkpkg(t, src, "bar", "1.0-1"))
	gens, err := r.History().Generations(ctx)
	if err != nil || len(gens) == 0 {
		t.Fatalf("generations %v: %v", gens, err)
	}
	pinned := gens[len(gens)-1]
	if _, err := r.CreateSnapshot(ctx, "tested", pinned, "snapshot create tested"); err != nil {
		t.Fatal(err)
	}
	mustAdd(t, r, mkpkg(t, src, "bar", "2.0-1"))
	mustAdd(t, r, mkpkg(t, src, "bar", "3.0-1"))
	clk.now = clk.now.Add(2 * time.Hour)
	if _, err := r.GC(ctx, false); err != nil {
		t.Fatal(err)
	}
	rec, err := r.History().Record(ctx, pinned)
	if err != nil {
		t.Fatalf("gc deleted the record of generation %d, which a snapshot names: %v", pinned, err)
	}
	db, ok := rec.DB()
	if !ok {
		t.Fatalf("the record of generation %d names no database", pinned)
	}
	if _, err := os.Stat(r.History().Path(db)); err != nil {
		t.Errorf("gc deleted the database of generation %d, which a snapshot names: %v", pinned, err)
	}
	if _, err := r.Rollback(ctx, pinned, Request{}); err != nil {
		t.Fatalf("rollback to the snapshot's generation: %v", err)
	}
	if got := registered(t, r); got["bar"] != "1.0-1" {
		t.Errorf("after rollback bar is %q, want 1.0-1", got["bar"])
	}
}
