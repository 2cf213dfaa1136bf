package repo

import (
	"context"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pacrepo/pacrepo/internal/fsutil"
	"github.com/pacrepo/pacrepo/internal/history"
	"github.com/pacrepo/pacrepo/internal/repodb"
	"github.com/pacrepo/pacrepo/internal/signature"
	"github.com/pacrepo/pacrepo/internal/testutil"
)

// assertHistory checks that the history holds generations first..last,
// each whole (its databases present with their SHA-256), the newest one
// being the databases on disk.
func assertHistory(t testing.TB, r *Repo, first, last int64) []*history.Record {
	t.Helper()
	h := r.History()
	gens, err := h.Generations(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var want []int64
	for g := first; g <= last; g++ {
		want = append(want, g)
	}
	if !slices.Equal(gens, want) {
		t.Fatalf("generations %v, want %v", gens, want)
	}
	var recs []*history.Record
	for _, g := range gens {
		rec, err := h.Record(context.Background(), g)
		if err != nil {
			t.Fatal(err)
		}
		if len(rec.Databases) != 2 {
			t.Fatalf("generation %d has databases %v", g, rec.Databases)
		}
		for _, db := range rec.Databases {
			sum, _, err := fsutil.HashFile(h.Path(db))
			if err != nil || sum != db.SHA256 {
				t.Fatalf("generation %d: database %s: %v (sha256 %s, recorded %s)", g, db.Path, err, sum, db.SHA256)
			}
		}
		recs = append(recs, rec)
	}
	newest := recs[len(recs)-1]
	for _, db := range newest.Databases {
		path := r.opts.DB.DBPath()
		if db.Files() {
			path = r.opts.DB.FilesPath()
		}
		if sum, _, _ := fsutil.HashFile(path); sum != db.SHA256 {
			t.Fatalf("the newest generation %d is not the database on disk (%s)", newest.Generation, db.Name)
		}
	}
	return recs
}

// TestHistoryRecordsEveryChange: each change is a generation saying what
// it changed, its databases hard links of the committed ones; the state
// found by the first change is generation 0 when a database existed.
func TestHistoryRecordsEveryChange(t *testing.T) {
	t.Parallel()
	r := newRepo(t)
	r = withOpts(r, func(o *Options) { o.BackupDir = t.TempDir(); o.Command = "pacrepo add a b" })
	src := t.TempDir()
	mustAdd(t, r, mkpkg(t, src, "a", "1-1"), mkpkg(t, src, "b", "1-1"))
	recs := assertHistory(t, r, 1, 1)
	if got := recs[0]; got.Command != "pacrepo add a b" || got.PID != os.Getpid() || got.Host == "" || got.User == "" || len(got.Registered) != 2 {
		t.Fatalf("record 1: %+v", got)
	}
	// The committed database is the history's, not a copy.
	fi1, _ := os.Stat(r.opts.DB.DBPath())
	db, _ := recs[0].DB()
	fi2, _ := os.Stat(r.History().Path(db))
	if !os.SameFile(fi1, fi2) {
		t.Error("the history's database is not a hard link of the committed one")
	}
	mustAdd(t, r, mkpkg(t, src, "a", "2-1"))
	// Linking into the history leaves the databases as the index was
	// written for them: the next change stays incremental.
	if repodb.ReadIndex(r.opts.DB) == nil {
		t.Error("the index no longer describes the databases after a change")
	}
	if _, err := r.Remove(ctx, []string{"b"}, Request{}); err != nil {
		t.Fatal(err)
	}
	recs = assertHistory(t, r, 1, 3)
	up, rm := recs[1], recs[2]
	if want := []history.Package{{Name: "a", Version: "2-1", File: up.Registered[0].File, Size: up.Registered[0].Size,
		SHA256: up.Registered[0].SHA256, From: "1-1"}}; !reflect.DeepEqual(up.Registered, want) || up.Registered[0].SHA256 == "" {
		t.Errorf("upgrade registered %+v", up.Registered)
	}
	if len(up.Retired) != 1 || up.Retired[0].Name != "a" || up.Retired[0].Version != "1-1" || up.Retired[0].Disposal != history.Moved || up.Retired[0].To == "" {
		t.Errorf("upgrade retired %+v", up.Retired)
	}
	if len(rm.Unregistered) != 1 || rm.Unregistered[0].Name != "b" || rm.Unregistered[0].Version != "1-1" || rm.Unregistered[0].File == "" {
		t.Errorf("remove unregistered %+v", rm.Unregistered)
	}
	// A repository whose database existed before its history starts with
	// that database as generation 0.
	os.RemoveAll(r.History().Root)
	mustAdd(t, r, mkpkg(t, src, "c", "1-1"))
	recs = assertHistory(t, r, 0, 1)
	if pkgs, err := r.History().Packages(ctx, recs[0]); err != nil || len(pkgs) != 1 || pkgs[0].Name != "a" {
		t.Errorf("generation 0 holds %v, %v", pkgs, err)
	}
}

// TestHistoryRecordSizeFollowsTheChange: the record of a one-package
// change to a repository of 100,000 packages is under 2 KB (its packages
// are in its databases, not in its record).
func TestHistoryRecordSizeFollowsTheChange(t *testing.T) {
	t.Parallel()
	r := withOpts(newRepo(t), func(o *Options) {
		o.Command = "pacrepo add /srv/build/out/bar-2.0-1-x86_64.pkg.tar.zst"
		o.BackupDir = "/srv/repo/backup"
	})
	c := &change{journal: &journal{}}
	for i := range 100_000 {
		name := fmt.Sprintf("package-%06d", i)
		c.keys = append(c.keys, repodb.Key{Name: name, Version: "1.0-1", Filename: name + "-1.0-1-x86_64.pkg.tar.zst",
			SHA256Sum: strings.Repeat("ab", 32), CSize: 123456})
	}
	c.keys[4242].Name, c.keys[4242].Filename = "bar", "bar-1.0-1-x86_64.pkg.tar.zst"
	sha := strings.Repeat("cd", 32)
	c.registered = []*verifiedFile{{Filename: "bar-2.0-1-x86_64.pkg.tar.zst", Name: "bar", Version: "2.0-1", CSize: 123456, SHA256: sha}}
	retire := Action{Kind: ActRetire, Name: "bar", File: "bar-1.0-1-x86_64.pkg.tar.zst", Disposal: DisposalMove, DisposedTo: "/srv/repo/backup/bar-1.0-1-x86_64.pkg.tar.zst"}
	c.journal.Retire = []journalRetire{{File: retire.File, Size: 123456, Name: "bar", Version: "1.0-1", SHA256: strings.Repeat("ab", 32)}}
	c.retireActions = []*Action{&retire}
	plan := &Plan{Actions: []Action{{Kind: ActUpgrade, Name: "bar", File: "bar-2.0-1-x86_64.pkg.tar.zst", From: "1.0-1", To: "2.0-1"}, retire}}
	h, _, err := r.planGeneration(&txn{command: "add", plan: plan}, c)
	if err != nil {
		t.Fatal(err)
	}
	dbs := []history.Database{
		{Name: "test.files.tar.zst", Path: "gen/" + sha[:32] + "-test.files.tar.zst", SHA256: sha, SigSHA256: sha},
		{Name: "test.db.tar.zst", Path: "gen/" + sha[:32] + "-test.db.tar.zst", SHA256: sha, SigSHA256: sha},
	}
	rec := &history.Record{Version: history.RecordVersion, Generation: 123456789, Time: time.Now(), Change: h.Change, Databases: dbs}
	if n := len(history.Encode(rec)); n > 2048 || len(rec.Registered) != 1 || len(rec.Retired) != 1 {
		t.Fatalf("a one-package change to 100,000 packages: a record of %d bytes:\n%s", n, history.Encode(rec))
	}
}

// TestHistoryKeepsSignatures: a signed repository's generations keep each
// database with the signature made of it, the pair pacman would verify.
func TestHistoryKeepsSignatures(t *testing.T) {
	t.Parallel()
	key := testutil.NewPGPKey(t, "repo")
	r := withOpts(newRepo(t), func(o *Options) { o.DatabaseSigner = keySigner(t, key) })
	src := t.TempDir()
	mustAdd(t, r, mkpkg(t, src, "a", "1-1"))
	mustAdd(t, r, mkpkg(t, src, "a", "2-1"))
	keyring := keyringOf(t, key)
	for _, rec := range assertHistory(t, r, 1, 2) {
		for _, db := range rec.Databases {
			path := r.History().Path(db)
			sig, err := signature.ReadFile(path + ".sig")
			if err != nil || !db.Signed {
				t.Fatalf("generation %d: %s: signed %v, %v", rec.Generation, db.Name, db.Signed, err)
			}
			if sum, _, _ := fsutil.HashFile(path + ".sig"); sum != db.SigSHA256 {
				t.Errorf("generation %d: %s.sig: sha256 %s, recorded %s", rec.Generation, db.Name, sum, db.SigSHA256)
			}
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			_, err = keyring.Verify(f, sig, path+".sig")
			f.Close()
			if err != nil {
				t.Errorf("generation %d: %s: %v", rec.Generation, db.Name, err)
			}
		}
	}
}
