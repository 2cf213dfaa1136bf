package s3repo

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pacrepo/pacrepo/internal/objstore"
	"github.com/pacrepo/pacrepo/internal/repo"
	"github.com/pacrepo/pacrepo/internal/repodb"
	"github.com/pacrepo/pacrepo/internal/testutil"
	"github.com/pacrepo/pacrepo/internal/testutil/pkggen"
)

// bucketAt is the repository at url in tr's bucket.
func (tr *testRepo) bucketAt(t *testing.T, url string, opts Options) *Repo {
	t.Helper()
	return New(tr.addrAt(t, url), tr.bucket, opts)
}

// dirRepo is a new repository directory NAME.
func dirRepo(t *testing.T, name string) *repo.Repo {
	return repo.New(repo.Options{DB: repodb.Location{Dir: t.TempDir(), Name: name, Ext: ".tar.zst"}, LockTimeout: 20 * time.Second})
}

func dirRegistered(t *testing.T, r *repo.Repo) map[string]string {
	t.Helper()
	es, err := r.PromotionStore().Registered(ctx)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, e := range es {
		m[e.Name] = e.Version
	}
	return m
}

// TestPromoteAcrossStores: a directory promotes to a bucket, a bucket to
// another (a snapshot of it, copied), a bucket to a directory (--all),
// which real pacman then reads; each package moves with its .sig and its
// pkgbase; a newer version in a bucket target is refused, and so is a file
// its signature policy refuses.
func TestPromoteAcrossStores(t *testing.T) {
	tr := newTestRepo(t, "s3://farm/testing/testing.db.tar.zst", Options{})
	testing_, stable := tr.Repo, tr.bucketAt(t, "s3://farm/stable/stable.db.tar.zst", Options{})
	staging, mirror := dirRepo(t, "staging"), dirRepo(t, "mirror")
	src := t.TempDir()
	key := testutil.NewPGPKey(t, "promoter")
	a := mkpkg(t, src, "a", "1-1")
	key.SignFile(t, a)
	var split []string
	for _, n := range []string{"pair", "pair-docs"} {
		p, err := pkggen.MakePackage(src, pkggen.Spec{Name: n, Base: "pair", Version: "1-1", NumFiles: 1, FileSize: 10})
		if err != nil {
			t.Fatal(err)
		}
		split = append(split, p)
	}
	if _, err := staging.Add(ctx, append([]string{a, mkpkg(t, src, "b", "1-1")}, split...), repo.AddOptions{}); err != nil {
		t.Fatal(err)
	}

	// directory -> bucket; a dry run first, which changes nothing.
	files, err := repo.Promote(ctx, staging.PromotionStore(), testing_.PromotionStore(), repo.PromoteRequest{Names: []string{"a", "pair-docs"}, Request: repo.Request{DryRun: true}})
	if err != nil || len(files) != 3 {
		t.Fatalf("dry run: %+v %v", files, err)
	}
	if _, err := testing_.Entries(ctx); err == nil {
		t.Fatal("a dry run created the target")
	}
	if _, err := repo.Promote(ctx, staging.PromotionStore(), testing_.PromotionStore(), repo.PromoteRequest{Names: []string{"a", "pair-docs"}}); err != nil {
		t.Fatal(err)
	}
	if got, want := registered(t, testing_), map[string]string{"a": "1-1", "pair": "1-1", "pair-docs": "1-1"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("the bucket registers %v, want %v", got, want)
	}
	if got := dirRegistered(t, staging); !reflect.DeepEqual(got, map[string]string{"b": "1-1"}) {
		t.Fatalf("the directory still registers %v", got)
	}
	sigKey := "testing/" + filepath.Base(a) + ".sig"
	if _, err := tr.bucket.Head(ctx, sigKey); err != nil {
		t.Fatalf("a's signature did not move: %v", err)
	}

	// bucket -> bucket: what a snapshot holds, copied.
	if _, err := testing_.CreateSnapshot(ctx, "rc1", -1, "test"); err != nil {
		t.Fatal(err)
	}
	if _, err := testing_.Remove(ctx, []string{"pair", "pair-docs"}, repo.Request{}); err != nil {
		t.Fatal(err)
	}
	if _, err := repo.Promote(ctx, testing_.PromotionStore(), stable.PromotionStore(), repo.PromoteRequest{Snapshot: "rc1", Copy: true}); err != nil {
		t.Fatal(err)
	}
	if got := registered(t, stable); len(got) != 3 || got["pair-docs"] != "1-1" {
		t.Fatalf("the snapshot promoted: %v", got)
	}
	if got := registered(t, testing_); !reflect.DeepEqual(got, map[string]string{"a": "1-1"}) {
		t.Fatalf("a copy changed the source: %v", got)
	}
	if _, err := tr.bucket.Head(ctx, "stable/"+filepath.Base(a)+".sig"); err != nil {
		t.Fatalf("a's signature did not move: %v", err)
	}

	// bucket -> directory, --all; real pacman reads the directory.
	if _, err := repo.Promote(ctx, stable.PromotionStore(), mirror.PromotionStore(), repo.PromoteRequest{All: true}); err != nil {
		t.Fatal(err)
	}
	if got := registered(t, stable); len(got) != 0 {
		t.Fatalf("the bucket still registers %v", got)
	}
	mirrorDir := mirror.Options().DB.Dir
	if _, err := os.Stat(filepath.Join(mirrorDir, filepath.Base(a)+".sig")); err != nil {
		t.Fatalf("a's signature did not move: %v", err)
	}
	pm := testutil.NewPacman(t, map[string]string{"mirror": mirrorDir})
	pm.MustRun("-Sy")
	if got := strings.Join(pm.Sync("mirror"), ","); got != "a 1-1,pair 1-1,pair-docs 1-1" {
		t.Errorf("pacman reads %s", got)
	}
	pm.MustRun("-Sw", "--noconfirm", "pair-docs")

	// A newer version in a bucket target is refused: nothing changes.
	if _, err := stable.Add(ctx, []string{mkpkg(t, src, "a", "2-1")}, AddOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err = repo.Promote(ctx, testing_.PromotionStore(), stable.PromotionStore(), repo.PromoteRequest{Names: []string{"a"}})
	var newer *repo.NewerInTargetError
	if !errors.As(err, &newer) || newer.TargetVersion != "2-1" {
		t.Fatalf("promote under a newer version: %v", err)
	}
	if got := registered(t, testing_); got["a"] != "1-1" {
		t.Errorf("the refused promotion changed the source: %v", got)
	}
	if p, err := testing_.PendingPromotion(ctx); p != nil || err != nil {
		t.Errorf("a refused promotion left its intent: %+v %v", p, err)
	}
	// A file a bucket target's rules refuse (unsigned, signatures
	// required) moves nowhere, and the promotion does not stay pending.
	strict := tr.bucketAt(t, "s3://farm/strict/strict.db.tar.zst", Options{Signatures: repo.SignaturePolicy{Require: true}})
	_, err = repo.Promote(ctx, staging.PromotionStore(), strict.PromotionStore(), repo.PromoteRequest{Names: []string{"b"}})
	var unreadable *repo.UnreadableFilesError
	if !errors.As(err, &unreadable) {
		t.Fatalf("promote of an unsigned package to a bucket requiring signatures: %v", err)
	}
	if p, err := staging.PendingPromotion(); p != nil || err != nil {
		t.Errorf("the refused promotion stays pending: %+v %v", p, err)
	}
	if got := dirRegistered(t, staging); got["b"] != "1-1" {
		t.Errorf("the refused promotion changed the source: %v", got)
	}
	for _, r := range []*Repo{testing_, stable} {
		assertClean(t, r, true)
	}
}

// TestHelperPromoter is not a test: the kill tests run the test binary as
// a promotion (PACREPO_S3_HELPER=promote) from PACREPO_S3_URL to
// PACREPO_S3_TARGET (each an s3:// address or a database path) of
// PACREPO_S3_NAMES, killed with SIGKILL at step PACREPO_S3_KILL_AT, a step
// of a bucket's (crashHook) or of a directory's (repo.SetCrashHook).
func TestHelperPromoter(t *testing.T) {
	if os.Getenv("PACREPO_S3_HELPER") != "promote" {
		t.Skip("helper process")
	}
	at := os.Getenv("PACREPO_S3_KILL_AT")
	crashHook = func(step string) {
		if step == at {
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
			time.Sleep(time.Minute)
		}
	}
	repo.SetCrashHook(crashHook)
	var stores []repo.PromotionStore
	for _, env := range []string{"PACREPO_S3_URL", "PACREPO_S3_TARGET"} {
		if where := os.Getenv(env); !strings.HasPrefix(where, Scheme) {
			loc, err := repodb.ParseLocation(where)
			if err != nil {
				t.Fatal(err)
			}
			stores = append(stores, repo.New(repo.Options{DB: loc, LockTimeout: 20 * time.Second}).PromotionStore())
			continue
		}
		addr, err := ParseURL(os.Getenv(env))
		if err != nil {
			t.Fatal(err)
		}
		b, err := objstore.Open(ctx, objstore.Config{Bucket: addr.Bucket})
		if err != nil {
			t.Fatal(err)
		}
		stores = append(stores, New(addr, b, Options{}).PromotionStore())
	}
	names := strings.Split(os.Getenv("PACREPO_S3_NAMES"), ",")
	if _, err := repo.Promote(ctx, stores[0], stores[1], repo.PromoteRequest{Names: names}); err != nil {
		t.Fatal(err)
	}
}

// bucketPromotionKills are the steps a promotion from a bucket is killed
// at: its own, and those of a bucket target's commit (the source's commit
// passes the same names later: the first is where the kill happens); a
// directory target's own steps are the directory promotion's
// (repo.TestPromoteCrashAtEveryStep).
var bucketPromotionKills = []struct {
	step  string
	toDir bool
}{
	{"promote-intent", false}, {"after-upload", false}, {"before-commit", false}, {"committing", false},
	{"after-commit", false}, {"promote-registered", false}, {"promote-unregistered", false},
	{"promote-intent", true}, {"promote-registered", true}, {"promote-unregistered", true},
}

func storeRegistered(t *testing.T, s repo.PromotionStore) map[string]string {
	t.Helper()
	es, err := s.Registered(ctx)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, e := range es {
		m[e.Name] = e.Version
	}
	return m
}

// killPromotion runs the promotion of a 2-1 and b from source (which
// registers c too) to target (which registers a 1-1) in a helper process
// killed at step: each package is then in the source or the target (or
// both), never in neither, and the intent is pending. Finishing the intent
// (check --repair's way), or with next the next promotion to the same
// target, completes it.
func (tr *testRepo) killPromotion(t *testing.T, step string, source, target repo.PromotionStore, next bool) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperPromoter$")
	cmd.Env = append(os.Environ(), tr.server.Env()...)
	cmd.Env = append(cmd.Env, "PACREPO_S3_HELPER=promote", "PACREPO_S3_KILL_AT="+step,
		"PACREPO_S3_URL="+source.Address(), "PACREPO_S3_TARGET="+target.Address(), "PACREPO_S3_NAMES=a,b",
		"TMPDIR="+t.TempDir()) // a killed helper leaves its temporary files to the test's cleanup
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("promotion not killed at %s: %v\n%s", step, err, out)
	}
	inSource, inTarget := storeRegistered(t, source), storeRegistered(t, target)
	for n, v := range map[string]string{"a": "2-1", "b": "1-1"} {
		if inSource[n] != v && inTarget[n] != v {
			t.Errorf("after a kill at %s, %s %s is in neither repository: source %v, target %v", step, n, v, inSource, inTarget)
		}
	}
	if inSource["c"] != "1-1" {
		t.Errorf("c left the source: %v", inSource)
	}
	if p, err := source.ReadPromotion(ctx); err != nil || p == nil {
		t.Fatalf("after a kill at %s, no intent is pending: %v", step, err)
	}
	if !next {
		if err := repo.FinishPromotion(ctx, source, target); err != nil {
			t.Fatal(err)
		}
	} else if _, err := repo.Promote(ctx, source, target, repo.PromoteRequest{Names: []string{"c"}, Copy: true}); err != nil {
		t.Fatal(err)
	}
	if got := storeRegistered(t, source); !reflect.DeepEqual(got, map[string]string{"c": "1-1"}) {
		t.Errorf("after recovery, the source registers %v", got)
	}
	if got := storeRegistered(t, target); got["a"] != "2-1" || got["b"] != "1-1" {
		t.Errorf("after recovery, the target registers %v", got)
	}
	if p, err := source.ReadPromotion(ctx); p != nil || err != nil {
		t.Errorf("promotion still pending: %+v %v", p, err)
	}
}

// TestPromoteFromABucketKilledAtEveryStep: a promotion from a bucket, to
// another or to a directory, killed at every step leaves each package in
// the source or the target (or both), never in neither; the next
// promotion, or finishing the intent (check --repair's), completes it.
func TestPromoteFromABucketKilledAtEveryStep(t *testing.T) {
	tr := newTestRepo(t, "s3://farm/setup/setup.db.tar.zst", Options{})
	src := t.TempDir()
	a1, a2, b, c := mkpkg(t, src, "a", "1-1"), mkpkg(t, src, "a", "2-1"), mkpkg(t, src, "b", "1-1"), mkpkg(t, src, "c", "1-1")
	for i, k := range bucketPromotionKills {
		name := k.step
		if k.toDir {
			name = "to-directory-" + k.step
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel() // each in prefixes or directories of its own
			source := tr.bucketAt(t, "s3://farm/"+name+"/staging/staging.db.tar.zst", Options{})
			if _, err := source.Add(ctx, []string{a2, b, c}, AddOptions{}); err != nil {
				t.Fatal(err)
			}
			var target repo.PromotionStore
			check := func() {} // repairs and checks the target
			if k.toDir {
				d := dirRepo(t, "stable")
				if _, err := d.Add(ctx, []string{a1}, repo.AddOptions{}); err != nil {
					t.Fatal(err)
				}
				target = d.PromotionStore()
				check = func() {
					if rep, err := d.Check(ctx, true); err != nil || len(rep.Findings) > 0 {
						t.Errorf("check --repair of the target: %+v %v", rep, err)
					}
				}
			} else {
				bt := tr.bucketAt(t, "s3://farm/"+name+"/stable/stable.db.tar.zst", Options{})
				if _, err := bt.Add(ctx, []string{a1}, AddOptions{}); err != nil {
					t.Fatal(err)
				}
				target = bt.PromotionStore()
				// A kill after the target's commit leaves the names
				// pacman reads to its check --repair.
				check = func() {
					if _, err := bt.Check(ctx, true); err != nil {
						t.Fatal(err)
					}
					assertClean(t, bt, true)
				}
			}
			tr.killPromotion(t, k.step, source.PromotionStore(), target, i%2 == 1)
			assertClean(t, source, true)
			check()
		})
	}
}

// directoryToBucketKills are the steps a promotion from a directory to a
// bucket is killed at: its own, the bucket's commit's around its record
// (TestPromoteFromABucketKilledAtEveryStep kills a target's commit at
// each), and the directory's removal's on either side of its databases
// and its retirement (the directory's journal recovers the steps between
// alike: repo's crash tests kill a removal at each).
var directoryToBucketKills = []string{"promote-intent", "after-upload", "after-commit", "promote-registered",
	"after-journal", "after-db", "mid-retire", "before-journal-clear", "promote-unregistered"}

// TestPromoteFromADirectoryKilledAtEveryStep: a promotion from a directory
// to a bucket, killed at every step, leaves each package in one repository
// or both, never in neither; the next promotion, or finishing the intent,
// completes it, and check --repair finds both repositories whole.
func TestPromoteFromADirectoryKilledAtEveryStep(t *testing.T) {
	tr := newTestRepo(t, "s3://farm/setup/setup.db.tar.zst", Options{})
	src := t.TempDir()
	a1, a2, b, c := mkpkg(t, src, "a", "1-1"), mkpkg(t, src, "a", "2-1"), mkpkg(t, src, "b", "1-1"), mkpkg(t, src, "c", "1-1")
	for i, step := range directoryToBucketKills {
		t.Run(step, func(t *testing.T) {
			t.Parallel() // each in a directory and a prefix of its own
			source := dirRepo(t, "staging")
			if _, err := source.Add(ctx, []string{a2, b, c}, repo.AddOptions{}); err != nil {
				t.Fatal(err)
			}
			target := tr.bucketAt(t, "s3://farm/"+step+"/stable/stable.db.tar.zst", Options{})
			if _, err := target.Add(ctx, []string{a1}, AddOptions{}); err != nil {
				t.Fatal(err)
			}
			tr.killPromotion(t, step, source.PromotionStore(), target.PromotionStore(), i%2 == 1)
			if rep, err := source.Check(ctx, true); err != nil || len(rep.Findings) > 0 {
				t.Errorf("check --repair of the source: %+v %v", rep, err)
			}
			if _, err := target.Check(ctx, true); err != nil {
				t.Fatal(err)
			}
			assertClean(t, target, true)
		})
	}
}

// TestFinishingAnOldIntentKeepsANewerOne: two processes finish one intent;
// the first done removes it and a new promotion writes its own; the other,
// done later, leaves that one: it removes only the intent it read. (In
// process, ordered by the promotion's step hook: not parallel, the hook is
// global.)
func TestFinishingAnOldIntentKeepsANewerOne(t *testing.T) {
	tr := newTestRepo(t, "s3://farm/staging/staging.db.tar.zst", Options{})
	source, target := tr.PromotionStore(), tr.bucketAt(t, "s3://farm/stable/stable.db.tar.zst", Options{}).PromotionStore()
	src := t.TempDir()
	if _, err := tr.Add(ctx, []string{mkpkg(t, src, "a", "1-1"), mkpkg(t, src, "b", "1-1")}, AddOptions{}); err != nil {
		t.Fatal(err)
	}
	assertNewerIntentStays(t, source, target)
}

// assertNewerIntentStays writes the intent of promoting a from source to
// target and finishes it twice, the second finisher run within the first,
// where the first has registered the files; between them, a promotion of
// b writes its intent, which must outlive the first finisher.
func assertNewerIntentStays(t *testing.T, source, target repo.PromotionStore) {
	t.Helper()
	intent := func(id, name string) *repo.Promotion {
		files, err := repo.Promote(ctx, source, target, repo.PromoteRequest{Names: []string{name}, Request: repo.Request{DryRun: true}})
		if err != nil {
			t.Fatal(err)
		}
		return &repo.Promotion{Version: 1, ID: id, Target: target.Address(), Files: files}
	}
	if err := source.WritePromotion(ctx, intent("old", "a")); err != nil {
		t.Fatal(err)
	}
	interleaved := false
	crashHook = func(step string) {
		if step != "promote-registered" || interleaved {
			return
		}
		interleaved = true
		if err := repo.FinishPromotion(ctx, source, target); err != nil {
			t.Errorf("the second finisher: %v", err)
		}
		if err := source.WritePromotion(ctx, intent("new", "b")); err != nil {
			t.Errorf("the newer intent: %v", err)
		}
	}
	defer func() { crashHook = nil }()
	if err := repo.FinishPromotion(ctx, source, target); err != nil {
		t.Fatal(err)
	}
	if !interleaved {
		t.Fatal("the first finisher passed no promote-registered")
	}
	if p, err := source.ReadPromotion(ctx); err != nil || p == nil || p.ID != "new" {
		t.Fatalf("after the first finisher, the pending intent is %+v (%v), want the newer one", p, err)
	}
	if err := repo.FinishPromotion(ctx, source, target); err != nil {
		t.Fatal(err)
	}
	if got := storeRegistered(t, target); got["a"] != "1-1" || got["b"] != "1-1" {
		t.Errorf("the target registers %v", got)
	}
	if got := storeRegistered(t, source); len(got) != 0 {
		t.Errorf("the source still registers %v", got)
	}
}
