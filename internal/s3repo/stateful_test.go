package s3repo

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pacrepo/pacrepo/internal/repo"
	"github.com/pacrepo/pacrepo/internal/testutil"
)

// TestStateful hunts for the siblings of the bugs the fixed tests pin: a
// seeded random sequence of adds (new packages, upgrades, downgrades, the
// same file again), removals, publishers interrupted after uploading or
// after committing, repairs and gc runs with the clock moved past the grace
// period. After every step the registered packages are the model's, the
// database pacman reads names only packages that exist, and check finds
// nothing but names an interrupted commit left behind. A failure prints the
// seed and the steps; PACREPO_S3_SEED replays it, PACREPO_S3_STEPS sets
// the length.
func TestStateful(t *testing.T) {
	seed := testutil.Seed(t, "PACREPO_S3_SEED")
	steps := 40
	if s := os.Getenv("PACREPO_S3_STEPS"); s != "" {
		steps, _ = strconv.Atoi(s)
	}
	rng := rand.New(rand.NewPCG(seed, 7))
	now := time.Now()
	clock := func() time.Time { return now }
	const grace = time.Hour
	tr := newTestRepo(t, "s3://farm/os/farm.db.tar.zst", Options{Grace: grace, Now: clock})
	src := t.TempDir()
	model := map[string]string{} // name -> version
	var log []string
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("seed %d, after steps:\n  %s\n%s", seed, strings.Join(log, "\n  "), fmt.Sprintf(format, args...))
	}
	// One file per name and version: a package file is written once, so
	// another build of the same version would rightly be refused.
	built := map[string]string{}
	pkg := func(name string) (string, string) {
		v := fmt.Sprintf("%d-1", 1+rng.IntN(4))
		if f, ok := built[name+" "+v]; ok {
			return f, v
		}
		f := mkpkg(t, src, name, v)
		built[name+" "+v] = f
		return f, v
	}
	staleAllowed := false
	for step := range steps {
		switch op := rng.IntN(11); {
		case op < 4: // add one to three packages
			files, want := []string{}, map[string]string{}
			for range 1 + rng.IntN(3) {
				name := fmt.Sprintf("p%d", rng.IntN(8))
				if _, dup := want[name]; dup {
					continue
				}
				f, v := pkg(name)
				files, want[name] = append(files, f), v
			}
			log = append(log, fmt.Sprintf("%d: add %v", step, want))
			if _, err := tr.Add(ctx, files, AddOptions{}); err != nil {
				fail("add: %v", err)
			}
			for n, v := range want {
				model[n] = v
			}
			staleAllowed = false
		case op < 6 && len(model) > 0: // remove one
			var name string
			for n := range model {
				name = n
				break
			}
			log = append(log, fmt.Sprintf("%d: remove %s", step, name))
			if _, err := tr.Remove(ctx, []string{name}, repo.Request{}); err != nil {
				fail("remove: %v", err)
			}
			delete(model, name)
			staleAllowed = false
		case op < 8: // a publisher interrupted after uploading or committing
			at := []string{"after-upload", "after-commit"}[rng.IntN(2)]
			name := fmt.Sprintf("p%d", rng.IntN(8))
			f, v := pkg(name)
			log = append(log, fmt.Sprintf("%d: add %s %s interrupted %s", step, name, v, at))
			crashHook = func(s string) {
				if s == at {
					panic(s)
				}
			}
			func() {
				defer func() { recover() }()
				tr.Add(ctx, []string{f}, AddOptions{})
			}()
			crashHook = nil
			if at == "after-commit" && model[name] != v {
				model[name] = v
				staleAllowed = true
			}
		case op < 9: // repair
			log = append(log, fmt.Sprintf("%d: check --repair", step))
			if _, err := tr.Check(ctx, true); err != nil && !noRepositoryYet(err) {
				fail("repair: %v", err)
			}
			staleAllowed = false
		case op == 10: // a publisher stalls past the grace period while others commit and gc runs
			at := []string{"after-upload", "before-commit"}[rng.IntN(2)]
			name := fmt.Sprintf("p%d", rng.IntN(8))
			f, v := pkg(name)
			var others []string
			otherWant := map[string]string{}
			for range rng.IntN(3) {
				on := fmt.Sprintf("p%d", rng.IntN(8))
				of, ov := pkg(on)
				others, otherWant[on] = append(others, of), ov
			}
			log = append(log, fmt.Sprintf("%d: add %s %s stalled %s while others add %v and gc runs", step, name, v, at, otherWant))
			other := tr.reopen(Options{Grace: grace, Now: clock})
			stalled := false
			crashHook = func(s string) {
				if s != at {
					return
				}
				crashHook, stalled = nil, true
				for _, of := range others {
					if _, err := other.Add(ctx, []string{of}, AddOptions{}); err != nil {
						fail("another publisher's add: %v", err)
					}
				}
				now = now.Add(grace + time.Minute)
				time.Sleep(1100 * time.Millisecond) // the server's times have a second's resolution
				if _, err := other.GC(ctx, false); err != nil && !noRepositoryYet(err) {
					fail("gc during the stall: %v", err)
				}
			}
			_, err := tr.Add(ctx, []string{f}, AddOptions{})
			crashHook = nil
			if err != nil {
				fail("the stalled add: %v", err)
			}
			if stalled { // (an add that changes nothing never gets there)
				for on, ov := range otherWant {
					model[on] = ov
				}
			}
			model[name] = v
			staleAllowed = false
		default: // gc, sometimes past the grace period
			if rng.IntN(2) == 0 {
				now = now.Add(grace + time.Minute)
			}
			log = append(log, fmt.Sprintf("%d: gc at +%s", step, now.Sub(time.Now()).Round(time.Minute)))
			if _, err := tr.GC(ctx, false); err != nil && !noRepositoryYet(err) {
				fail("gc: %v", err)
			}
		}
		entries, err := tr.Entries(ctx)
		if noRepositoryYet(err) && len(model) == 0 {
			continue // nothing committed yet
		}
		if err != nil {
			fail("entries: %v", err)
		}
		got := map[string]string{}
		for _, e := range entries {
			got[e.Name] = e.Version
		}
		if fmt.Sprint(got) != fmt.Sprint(model) {
			fail("registered %v, the model says %v", got, model)
		}
		rep, err := tr.Check(ctx, false)
		if err != nil {
			fail("check: %v", err)
		}
		for _, f := range rep.Findings {
			if f.Kind != "stale-names" || !staleAllowed {
				fail("check: %s %s: %s", f.Kind, f.URL, f.Detail)
			}
		}
		if !staleAllowed {
			assertFixedNamesWhole(t, tr)
		}
	}
}

func noRepositoryYet(err error) bool { return errors.As(err, new(*NoRepositoryError)) }
