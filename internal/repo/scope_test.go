package repo

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/pacrepo/pacrepo/internal/testutil"
)

// A change of some names looks at their entries and files only: another
// package's file being uploaded (here: cut short) is neither read nor
// reported by it, and stays as it is; a change of everything reports it.
func TestChangeOfSomeNamesReadsOnlyTheirFiles(t *testing.T) {
	r := newRepo(t)
	src := t.TempDir()
	mustAdd(t, r, mkpkg(t, src, "a", "1-1"), mkpkg(t, src, "b", "1-1"))
	b := filepath.Join(r.dir(), "b-1-1-x86_64.pkg.tar.zst")
	whole, err := os.ReadFile(b)
	if err != nil {
		t.Fatal(err)
	}
	cut := whole[:len(whole)/2]
	uploading := filepath.Join(r.dir(), "u-1-1-x86_64.pkg.tar.zst")
	for path, data := range map[string][]byte{b: cut, uploading: cut} {
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, op := range []struct {
		what string
		run  func() (*Result, error)
	}{
		{"add c", func() (*Result, error) {
			return r.Add(ctx, []string{mkpkg(t, src, "c", "1-1")}, AddOptions{Mode: Copy})
		}},
		{"update c", func() (*Result, error) { return r.Update(ctx, []string{"c"}, Request{}) }},
		{"remove a", func() (*Result, error) { return r.Remove(ctx, []string{"a"}, Request{}) }},
	} {
		res, err := op.run()
		if err != nil {
			t.Fatalf("%s: %v", op.what, err)
		}
		if len(res.Plan.Problems) != 0 {
			t.Errorf("%s reports files it does not concern: %+v", op.what, res.Plan.Problems)
		}
		for _, path := range []string{b, uploading} {
			if got, err := os.ReadFile(path); err != nil || !bytes.Equal(got, cut) {
				t.Fatalf("%s touched %s: %v", op.what, path, err)
			}
		}
	}
	if got := registered(t, r); !reflect.DeepEqual(got, map[string]string{"b": "1-1", "c": "1-1"}) {
		t.Fatalf("registered: %v", got)
	}
	p, err := r.Status(ctx, nil, Request{})
	if err != nil {
		t.Fatal(err)
	}
	var reported []string
	for _, pr := range p.Problems {
		reported = append(reported, filepath.Base(pr.Path))
	}
	slices.Sort(reported)
	if want := []string{filepath.Base(b), filepath.Base(uploading)}; !slices.Equal(reported, want) {
		t.Fatalf("status of everything reports %v, want %v", reported, want)
	}
}

// A file named after another package is outside a change of its own
// name: left as it is, and found by a change of everything.
func TestMisnamedFileWaitsForUpdateOfEverything(t *testing.T) {
	r := newRepo(t)
	src := t.TempDir()
	mustAdd(t, r, mkpkg(t, src, "a", "1-1"), mkpkg(t, src, "b", "1-1"))
	newer, err := os.ReadFile(mkpkg(t, src, "b", "2-1"))
	if err != nil {
		t.Fatal(err)
	}
	misnamed := filepath.Join(r.dir(), "a-9-1-x86_64.pkg.tar.zst")
	if err := os.WriteFile(misnamed, newer, 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := r.Update(ctx, []string{"b"}, Request{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Plan.Actions) != 0 || registered(t, r)["b"] != "1-1" {
		t.Fatalf("update b used a file named after a: %+v, %v", res.Plan.Actions, registered(t, r))
	}
	if _, err := r.Update(ctx, nil, Request{}); err != nil {
		t.Fatal(err)
	}
	if registered(t, r)["b"] != "2-1" {
		t.Fatalf("update of everything did not register the newer b: %v", registered(t, r))
	}
	assertInvariant1(t, r)
}

// TestScopedPlansMatchFullPlans hunts for a change whose scope leaves out
// something its plan needs: over random repositories (registered
// versions, newer and older files, files cut short, removed, garbage,
// unguessable names), the plan of update NAME made from a scan of NAME's
// scope equals the one made from a scan of everything, and so do the
// problems it reports about NAME's files. Set PACREPO_SCOPE_SEED to
// replay a run.
func TestScopedPlansMatchFullPlans(t *testing.T) {
	seed := testutil.Seed(t, "PACREPO_SCOPE_SEED")
	runs := envInt("PACREPO_SCOPE_RUNS", 12)
	if testing.Short() {
		runs = 4
	}
	src := t.TempDir()
	built := map[string]string{}
	pkg := func(name, ver string) string {
		if p, ok := built[name+" "+ver]; ok {
			return p
		}
		p := mkpkg(t, src, name, ver)
		built[name+" "+ver] = p
		return p
	}
	names := []string{"p0", "p1", "p1-x", "p2"}
	versions := []string{"1-1", "2-1", "10-1"}
	for run := range runs {
		rng := rand.New(rand.NewPCG(seed, uint64(run)))
		r := newRepo(t)
		var log []string
		var initial []string
		for _, n := range names {
			if rng.IntN(4) > 0 {
				initial = append(initial, pkg(n, versions[rng.IntN(len(versions))]))
			}
		}
		if len(initial) == 0 {
			initial = append(initial, pkg(names[0], versions[0]))
		}
		mustAdd(t, r, initial...)
		log = append(log, fmt.Sprintf("add %v", initial))
		if rng.IntN(2) == 0 {
			// A registered file named after another package: a newest n
			// under a name of m's, which update registers.
			n, m := names[rng.IntN(len(names))], names[rng.IntN(len(names))]
			if n != m {
				b, err := os.ReadFile(pkg(n, "99-1"))
				if err != nil {
					t.Fatal(err)
				}
				misnamed := m + "-7-1-x86_64.pkg.tar.zst"
				if err := os.WriteFile(filepath.Join(r.dir(), misnamed), b, 0o644); err != nil {
					t.Fatal(err)
				}
				if _, err := r.Update(ctx, nil, Request{Force: true}); err != nil {
					t.Fatal(err)
				}
				log = append(log, fmt.Sprintf("place %s 99-1 at %s, update", n, misnamed))
			}
		}
		for range 1 + rng.IntN(6) {
			n, v := names[rng.IntN(len(names))], versions[rng.IntN(len(versions))]
			file := filepath.Base(pkg(n, v))
			dst := filepath.Join(r.dir(), file)
			var err error
			switch k := rng.IntN(6); k {
			case 0, 1:
				var b []byte
				if b, err = os.ReadFile(pkg(n, v)); err == nil {
					err = os.WriteFile(dst, b, 0o644)
				}
				log = append(log, "place "+file)
			case 2:
				err = os.Truncate(dst, int64(rng.IntN(200)))
				log = append(log, "cut "+file)
			case 3:
				err = os.Remove(dst)
				log = append(log, "delete "+file)
			case 4:
				err = os.WriteFile(dst, []byte("garbage"), 0o644)
				log = append(log, "garbage at "+file)
			case 5:
				err = os.WriteFile(filepath.Join(r.dir(), "junk.pkg.tar.zst"), []byte("?"), 0o644)
				log = append(log, "garbage at junk.pkg.tar.zst")
			}
			if err != nil && !os.IsNotExist(err) {
				t.Fatal(err)
			}
		}
		full, _, err := r.scan(ctx, scanFor(Request{}))
		if err != nil {
			t.Fatalf("seed %d run %d: scan: %v", seed, run, err)
		}
		for _, n := range append(slices.Clone(names), "absent") {
			want, wantErr := planUpdate(full, []string{n}, planOptions{})
			if want != nil {
				r.planDisposals(want)
			}
			got, gotErr := r.Status(ctx, []string{n}, Request{})
			fail := func(what string, got, want any) {
				t.Fatalf("seed %d run %d: update %s: the scoped plan's %s differ:\n got %+v\nwant %+v\nafter:\n  %s\n(PACREPO_SCOPE_SEED=%d go test ./internal/repo -run TestScopedPlansMatchFullPlans replays it)",
					seed, run, n, what, got, want, strings.Join(log, "\n  "), seed)
			}
			if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
				fail("errors", gotErr, wantErr)
			}
			if want == nil || got == nil {
				continue
			}
			if !reflect.DeepEqual(got.Actions, want.Actions) {
				fail("actions", got.Actions, want.Actions)
			}
			if g, w := problemsOf(got, n), problemsOf(want, n); !slices.Equal(g, w) {
				fail("problems", g, w)
			}
		}
	}
}

// problemsOf are the files of p's problems that may be name's (named
// after it or so that no name can be guessed).
func problemsOf(p *Plan, name string) []string {
	var out []string
	for _, pr := range p.Problems {
		f := filepath.Base(pr.Path)
		if g := guessName(strings.TrimSuffix(f, ".sig")); g == "" || g == name {
			out = append(out, fmt.Sprintf("%+v", pr))
		}
	}
	return out
}

// FuzzGuessName holds the name guess, which every scan makes for every
// file of the directory, to its definition: what comes before the last
// three hyphen-separated parts of the name before ".pkg.tar".
func FuzzGuessName(f *testing.F) {
	for _, s := range []string{"a-1-1-x86_64.pkg.tar.zst", "a-b-c-1:2-3-any.pkg.tar.xz", "-1-1-any.pkg.tar", "1-1-any.pkg.tar.gz", "a.pkg.tar", "x", "a--1-1-.pkg.tar"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, filename string) {
		want := ""
		if i := strings.Index(filename, ".pkg.tar"); i >= 0 {
			if parts := strings.Split(filename[:i], "-"); len(parts) >= 4 {
				want = strings.Join(parts[:len(parts)-3], "-")
			}
		}
		if got := guessName(filename); got != want {
			t.Fatalf("guessName(%q) = %q, want %q", filename, got, want)
		}
	})
}
