package repo

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/pacrepo/pacrepo/internal/history"
	"github.com/pacrepo/pacrepo/internal/repodb"
	"github.com/pacrepo/pacrepo/internal/testutil"
	"github.com/pacrepo/pacrepo/internal/version"
)

// promoteCrashPoints are the steps a promotion is killed at: its own, and
// those of the target's registration (the source's unregistration passes
// the same names later: the first is where the kill happens).
var promoteCrashPoints = []string{"promote-intent", "after-lock", "after-journal", "after-place", "after-db",
	"mid-retire", "before-journal-clear", "promote-registered", "promote-unregistered"}

// TestPromoteCrashAtEveryStep kills a promotion at every named step: each
// package is registered in the source or the target (or both), never in
// neither, no file is lost, and the next promotion or check --repair
// finishes it.
func TestPromoteCrashAtEveryStep(t *testing.T) {
	t.Parallel()
	for i, point := range promoteCrashPoints {
		t.Run(point, func(t *testing.T) {
			t.Parallel()
			src := t.TempDir()
			source := withOpts(newRepo(t), func(o *Options) { o.BackupDir = filepath.Join(t.TempDir(), "backup") })
			target := newRepo(t)
			mustAdd(t, source, mkpkg(t, src, "a", "2-1"), mkpkg(t, src, "b", "1-1"), mkpkg(t, src, "c", "1-1"))
			mustAdd(t, target, mkpkg(t, src, "a", "1-1"))
			have := contents(t, source.dir())
			cmd := helper(source, "promote", []string{target.dir(), "a", "b"}, CrashEnv+"="+point)
			out, err := cmd.CombinedOutput()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || !ee.Sys().(syscall.WaitStatus).Signaled() {
				t.Fatalf("promotion not killed at %s: %v\n%s", point, err, out)
			}
			inSource, inTarget := registered(t, source), registered(t, target)
			for _, n := range []string{"a", "b"} {
				want := map[string]string{"a": "2-1", "b": "1-1"}[n]
				if inSource[n] != want && inTarget[n] != want {
					t.Errorf("after a crash at %s, %s %s is in neither repository: source %v, target %v", point, n, want, inSource, inTarget)
				}
			}
			if inSource["c"] != "1-1" {
				t.Errorf("c left the source: %v", inSource)
			}
			assertNothingLost(t, have, contents(t, source.dir(), target.dir(), source.opts.BackupDir))
			// Recovery: check --repair finishes it, or the next promotion.
			if i%2 == 0 {
				if _, err := source.Check(ctx, true); err != nil {
					t.Fatal(err)
				}
				if _, err := target.Check(ctx, true); err != nil {
					t.Fatal(err)
				}
				if err := source.FinishPromotion(ctx, target); err != nil {
					t.Fatal(err)
				}
			} else if _, err := source.Promote(ctx, target, PromoteRequest{Names: []string{"c"}, Copy: true}); err != nil {
				t.Fatal(err)
			}
			if got := registered(t, source); !reflect.DeepEqual(got, map[string]string{"c": "1-1"}) {
				t.Errorf("after recovery, the source registers %v", got)
			}
			if got := registered(t, target); got["a"] != "2-1" || got["b"] != "1-1" {
				t.Errorf("after recovery, the target registers %v", got)
			}
			if p, err := source.PendingPromotion(); p != nil || err != nil {
				t.Errorf("promotion still pending: %+v %v", p, err)
			}
			assertInvariant1(t, source)
			assertInvariant1(t, target)
			assertClean(t, source)
			assertClean(t, target)
			assertNothingLost(t, have, contents(t, source.dir(), target.dir(), source.opts.BackupDir))
		})
	}
}

// TestPlanPromotion: a split package moves with every member of its
// pkgbase; --all takes what differs; a newer version in the target is
// refused.
func TestPlanPromotion(t *testing.T) {
	t.Parallel()
	source := []repodb.Entry{{Name: "lib", Base: "pair", Version: "2-1"}, {Name: "lib-debug", Base: "pair", Version: "2-1"},
		{Name: "tool", Version: "1-1"}, {Name: "same", Version: "1-1"}}
	target := []repodb.Entry{{Name: "same", Version: "1-1"}, {Name: "tool", Version: "0.5-1"}}
	names := func(es []repodb.Entry) []string {
		var out []string
		for _, e := range es {
			out = append(out, e.Name)
		}
		return out
	}
	sel, err := PlanPromotion(source, target, []string{"lib"}, false)
	if err != nil || !reflect.DeepEqual(names(sel), []string{"lib", "lib-debug"}) {
		t.Errorf("promote lib: %v %v", names(sel), err)
	}
	sel, err = PlanPromotion(source, target, nil, true)
	if err != nil || !reflect.DeepEqual(names(sel), []string{"lib", "lib-debug", "tool"}) {
		t.Errorf("promote --all: %v %v", names(sel), err)
	}
	var newer *NewerInTargetError
	if _, err := PlanPromotion(source, []repodb.Entry{{Name: "lib-debug", Version: "3-1"}}, []string{"lib"}, false); !errors.As(err, &newer) || newer.Name != "lib-debug" {
		t.Errorf("promote over a newer version: %v", err)
	}
	if _, err := PlanPromotion(source, target, []string{"nosuch"}, false); err == nil {
		t.Error("promote of an unknown name succeeded")
	}
}

// TestFinishPromotionAfterTheTargetMovedOn: a promotion finished late
// does not downgrade a target that got a newer version since, and the
// source keeps the package the target did not take.
func TestFinishPromotionAfterTheTargetMovedOn(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	source, target := newRepo(t), newRepo(t)
	mustAdd(t, source, mkpkg(t, src, "a", "1-1"), mkpkg(t, src, "b", "1-1"))
	es, err := source.Entries(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sel, err := PlanPromotion(es, nil, []string{"a", "b"}, false)
	if err != nil {
		t.Fatal(err)
	}
	p := &Promotion{Version: promotionVersion, Target: target.opts.DB.DBPath()}
	for _, e := range sel {
		p.Files = append(p.Files, PromotedFile{Package: history.Package{Name: e.Name, Version: e.Version, File: e.Filename,
			SHA256: e.SHA256Sum}, Source: filepath.Join(source.dir(), e.Filename)})
	}
	if err := source.writePromotion(p); err != nil {
		t.Fatal(err)
	}
	mustAdd(t, target, mkpkg(t, src, "a", "2-1")) // before the promotion was finished
	if err := source.FinishPromotion(ctx, target); err != nil {
		t.Fatal(err)
	}
	if got := registered(t, target); !reflect.DeepEqual(got, map[string]string{"a": "2-1", "b": "1-1"}) {
		t.Errorf("target: %v", got)
	}
	if got := registered(t, source); !reflect.DeepEqual(got, map[string]string{"a": "1-1"}) {
		t.Errorf("source: %v", got)
	}
	if p, err := source.PendingPromotion(); p != nil || err != nil {
		t.Errorf("promotion still pending: %+v %v", p, err)
	}
}

// TestPromoteRandomKills: promotions back and forth between two
// repositories, each killed with SIGKILL at a random step or not, each
// interrupted one finished before the next (as the next change of its
// source does): after every step, every name either repository
// registered is registered in one of them, at the newest version either
// had. A normal run takes a few steps; a hunt:
// PACREPO_PROMOTE_STEPS=200 (PACREPO_PROMOTE_SEED=N replays one).
func TestPromoteRandomKills(t *testing.T) {
	t.Parallel()
	seed := testutil.Seed(t, "PACREPO_PROMOTE_SEED")
	rng := rand.New(rand.NewPCG(seed, 0))
	steps := envInt("PACREPO_PROMOTE_STEPS", 4)
	repos := [2]*Repo{newRepo(t), withOpts(newRepo(t), func(o *Options) { o.BackupDir = filepath.Join(t.TempDir(), "backup") })}
	names := []string{"a", "b", "c", "d"}
	for i, r := range repos {
		src := t.TempDir()
		var files []string
		for _, n := range names {
			if rng.IntN(3) > 0 {
				files = append(files, mkpkg(t, src, n, fmt.Sprintf("%d-%d", 1+rng.IntN(3), 1+i)))
			}
		}
		if len(files) > 0 {
			mustAdd(t, r, files...)
		}
	}
	finish := func() {
		t.Helper()
		for i, r := range repos {
			if err := r.FinishPromotion(ctx, repos[1-i]); err != nil {
				t.Fatalf("seed %d: finish: %v", seed, err)
			}
		}
	}
	newest := func() map[string]string {
		m := map[string]string{}
		for _, r := range repos {
			for n, v := range registered(t, r) {
				if m[n] == "" || version.Compare(v, m[n]) > 0 {
					m[n] = v
				}
			}
		}
		return m
	}
	for step := range steps {
		finish()
		from := rng.IntN(2)
		source, target := repos[from], repos[1-from]
		var picked []string
		for n := range registered(t, source) {
			if rng.IntN(2) == 0 {
				picked = append(picked, n)
			}
		}
		if len(picked) == 0 {
			continue
		}
		slices.Sort(picked)
		point := "none"
		if k := rng.IntN(len(promoteCrashPoints) + 1); k < len(promoteCrashPoints) {
			point = promoteCrashPoints[k]
		}
		before := newest()
		out, err := helper(source, "promote", append([]string{target.dir()}, picked...), CrashEnv+"="+point).CombinedOutput()
		var ee *exec.ExitError
		if errors.As(err, &ee) && !ee.Sys().(syscall.WaitStatus).Signaled() && !strings.Contains(string(out), "newer than") {
			t.Fatalf("seed %d step %d: promote %v from %d, crash at %s: %v\n%s", seed, step, picked, from, point, err, out)
		}
		if after := newest(); !reflect.DeepEqual(after, before) {
			t.Fatalf("seed %d step %d: promote %v from %d, crash at %s: the newest registered versions went from %v to %v",
				seed, step, picked, from, point, before, after)
		}
		for _, r := range repos {
			assertInvariant1(t, r)
		}
	}
	finish()
	for _, r := range repos {
		// A transaction killed inside the promotion is the next
		// command's, or check --repair's, to finish.
		if _, err := r.Check(ctx, true); err != nil {
			t.Fatal(err)
		}
		assertInvariant1(t, r)
		assertClean(t, r)
	}
}

// TestFinishingAnOldIntentKeepsANewerOne: two processes finish one intent
// of a directory; the first done removes it and a new promotion writes its
// own; the other, done later, leaves that one: it removes only the intent
// it read. (In process, ordered by the promotion's step hook: not
// parallel, the hook is global.)
func TestFinishingAnOldIntentKeepsANewerOne(t *testing.T) {
	src := t.TempDir()
	source, target := newRepo(t), newRepo(t)
	mustAdd(t, source, mkpkg(t, src, "a", "1-1"), mkpkg(t, src, "b", "1-1"))
	intent := func(id, name string) *Promotion {
		files, err := source.Promote(ctx, target, PromoteRequest{Names: []string{name}, Request: Request{DryRun: true}})
		if err != nil {
			t.Fatal(err)
		}
		return &Promotion{Version: promotionVersion, ID: id, Target: target.PromotionStore().Address(), Files: files}
	}
	if err := source.writePromotion(intent("old", "a")); err != nil {
		t.Fatal(err)
	}
	interleaved := false
	crashHook = func(step string) {
		if step != "promote-registered" || interleaved {
			return
		}
		interleaved = true
		if err := source.FinishPromotion(ctx, target); err != nil {
			t.Errorf("the second finisher: %v", err)
		}
		if err := source.writePromotion(intent("new", "b")); err != nil {
			t.Errorf("the newer intent: %v", err)
		}
	}
	defer func() { crashHook = nil }()
	if err := source.FinishPromotion(ctx, target); err != nil {
		t.Fatal(err)
	}
	if p, err := source.PendingPromotion(); !interleaved || err != nil || p == nil || p.ID != "new" {
		t.Fatalf("after the first finisher (interleaved: %v), the pending intent is %+v (%v), want the newer one", interleaved, p, err)
	}
	if err := source.FinishPromotion(ctx, target); err != nil {
		t.Fatal(err)
	}
	if got := registered(t, target); got["a"] != "1-1" || got["b"] != "1-1" {
		t.Errorf("the target registers %v", got)
	}
}
