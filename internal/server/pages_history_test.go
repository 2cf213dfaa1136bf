package server

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pacrepo/pacrepo/internal/history"
	"github.com/pacrepo/pacrepo/internal/objstore"
	"github.com/pacrepo/pacrepo/internal/repo"
	"github.com/pacrepo/pacrepo/internal/repodb"
	"github.com/pacrepo/pacrepo/internal/s3repo"
	"github.com/pacrepo/pacrepo/internal/testutil"
)

// historyRepo is a repository that keeps its generations, in either
// store, as the pages' history tests change it.
type historyRepo struct {
	served   Repository
	add      func(files ...string)
	remove   func(names ...string)
	rollback func(gen int64)
}

func dirHistoryRepo(t *testing.T) historyRepo {
	dir := t.TempDir()
	loc := repodb.Location{Dir: dir, Name: "shop", Ext: ".tar.zst"}
	// Retired files stay in place, so that a rollback finds them.
	r := repo.New(repo.Options{DB: loc, RetireInPlace: true})
	ctx := context.Background()
	return historyRepo{
		served: Repository{Name: "shop", Dir: dir},
		add: func(files ...string) {
			if _, err := r.Add(ctx, files, repo.AddOptions{Mode: repo.Copy}); err != nil {
				t.Fatal(err)
			}
		},
		remove: func(names ...string) {
			if _, err := r.Remove(ctx, names, repo.Request{}); err != nil {
				t.Fatal(err)
			}
		},
		rollback: func(gen int64) {
			if _, err := r.Rollback(ctx, gen, repo.Request{}); err != nil {
				t.Fatal(err)
			}
		},
	}
}

func bucketHistoryRepo(t *testing.T) historyRepo {
	srv := testutil.StartS3(t, "pages")
	srv.SetEnv(t)
	const url = "s3://pages/shop.db.tar.zst"
	addr, err := s3repo.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	bucket, err := objstore.Open(ctx, objstore.Config{Bucket: addr.Bucket, Endpoint: srv.Endpoint})
	if err != nil {
		t.Fatal(err)
	}
	// Each change is a command of its own, as typed (which tells a
	// rollback).
	command := func(args ...string) *s3repo.Repo {
		return s3repo.New(addr, bucket, s3repo.Options{Command: strings.Join(append([]string{"pacrepo", "--repo", url}, args...), " ")})
	}
	return historyRepo{
		served: Repository{Name: "shop", Objects: command("host"), ObjectsURL: url},
		add: func(files ...string) {
			if _, err := command(append([]string{"add"}, files...)...).Add(ctx, files, s3repo.AddOptions{}); err != nil {
				t.Fatal(err)
			}
		},
		remove: func(names ...string) {
			if _, err := command(append([]string{"remove"}, names...)...).Remove(ctx, names, repo.Request{}); err != nil {
				t.Fatal(err)
			}
		},
		rollback: func(gen int64) {
			if _, err := command("rollback", strconv.FormatInt(gen, 10)).Rollback(ctx, gen, repo.Request{}); err != nil {
				t.Fatal(err)
			}
		},
	}
}

// TestPackagePagesHistory: a package page's history and the feed come
// from the repository's generations: after add v1, add v2, remove and a
// rollback, each generation is shown, newest first, with what it did, and
// the feed's entries have ids that name the generation.
func TestPackagePagesHistory(t *testing.T) {
	t.Parallel()
	checkPagesHistory(t, dirHistoryRepo(t))
}

// TestPackagePagesHistoryOfBucket: the same of a bucket, whose
// generations are its commit records.
func TestPackagePagesHistoryOfBucket(t *testing.T) {
	testutil.VersityGW(t)
	checkPagesHistory(t, bucketHistoryRepo(t)) // sets the environment: not parallel
}

func checkPagesHistory(t *testing.T, r historyRepo) {
	src := t.TempDir()
	v1 := makeTestPackage(t, src, testPackage{Name: "tool", Version: "1.0-1"})
	v2 := makeTestPackage(t, src, testPackage{Name: "tool", Version: "2.0-1"})
	other := makeTestPackage(t, src, testPackage{Name: "other", Version: "1-1"})
	h, err := NewHandler(Options{Repos: []Repository{r.served}, Pages: true})
	if err != nil {
		t.Fatal(err)
	}
	// eventually waits for a bucket's pages to follow its newest
	// generation (asked for at most once a second).
	eventually := func(path string, want ...string) string {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			w := pagesGet(t, h, path, nil)
			body := w.Body.String()
			if w.Code == http.StatusOK && inOrder(body, want...) {
				return body
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %d, want in order %q:\n%s", path, w.Code, want, body)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	r.add(v1, other)
	body := eventually("/shop/packages/tool", "generation 1, 1.0-1 added")
	if strings.Contains(body, "does not record") {
		t.Errorf("a repository with history says it has none:\n%s", body)
	}
	r.add(v2)
	eventually("/shop/packages/tool", "generation 2, 2.0-1 upgraded (from 1.0-1)", "generation 1, 1.0-1 added")
	etag := pagesGet(t, h, "/shop/packages/tool", nil).Header().Get("ETag")
	r.remove("tool")
	r.rollback(2)
	// Generation 4's databases are generation 2's (in a bucket, the very
	// objects): the history changed, and so does the page's ETag.
	eventually("/shop/packages/tool",
		"generation 4, 2.0-1 rolled back", "generation 3, 2.0-1 removed", "generation 2, 2.0-1 upgraded (from 1.0-1)", "generation 1, 1.0-1 added")
	if w := pagesGet(t, h, "/shop/packages/tool", map[string]string{"If-None-Match": etag}); w.Code != http.StatusOK {
		t.Errorf("the page of a new history with the ETag of the old: %d", w.Code)
	}
	// The package that did not change keeps its one line.
	eventually("/shop/packages/other", "generation 1, 1-1 added")
	feed := eventually("/shop/feed.atom",
		"<id>http://example.com/shop/packages/tool#generation-4</id>", "tool rolled back to 2.0-1 (generation 4)",
		"tool#generation-3</id>", "tool 2.0-1 removed",
		"tool#generation-2</id>", "tool upgraded from 1.0-1 to 2.0-1 (generation 2)",
		"other#generation-1</id>", "tool#generation-1</id>")
	if strings.Contains(feed, " built ") {
		t.Errorf("the feed of a repository with history names build dates:\n%s", feed)
	}
}

// inOrder tells whether s holds each of want, in that order.
func inOrder(s string, want ...string) bool {
	for _, w := range want {
		i := strings.Index(s, w)
		if i < 0 {
			return false
		}
		s = s[i+len(w):]
	}
	return true
}

// countingStore counts the records read from a history.
type countingStore struct {
	history.Store
	lists, reads int
}

func (s *countingStore) Generations(ctx context.Context) ([]int64, error) {
	s.lists++
	return s.Store.Generations(ctx)
}

func (s *countingStore) Record(ctx context.Context, g int64) (*history.Record, error) {
	s.reads++
	return s.Store.Record(ctx, g)
}

// TestRecordLogReadsEachRecordOnce: the pages read a record once, and
// read the records only when the database changed (or, in a directory,
// while the newest record is older than the database: it is written
// after it).
func TestRecordLogReadsEachRecordOnce(t *testing.T) {
	t.Parallel()
	r := dirHistoryRepo(t)
	src := t.TempDir()
	r.add(makeTestPackage(t, src, testPackage{Name: "a", Version: "1-1"}))
	store := &countingStore{Store: history.DirOf(r.served.Dir, "shop")}
	log := newRecordLog(store, true)
	catalogNow := func() *catalog {
		src, err := dirDatabases(r.served)
		if err != nil {
			t.Fatal(err)
		}
		return &catalog{generation: src.generation, modified: src.modified}
	}
	c := catalogNow()
	for range 3 {
		if ok, err := log.sync(context.Background(), c); !ok || err != nil {
			t.Fatalf("sync: %v, %v", ok, err)
		}
	}
	if store.lists != 1 || store.reads != 1 {
		t.Errorf("three requests of one generation: %d lists, %d records read", store.lists, store.reads)
	}
	r.add(makeTestPackage(t, src, testPackage{Name: "b", Version: "1-1"}))
	c = catalogNow()
	log.sync(context.Background(), c)
	log.sync(context.Background(), c)
	if store.lists != 2 || store.reads != 2 {
		t.Errorf("after a change: %d lists, %d records read", store.lists, store.reads)
	}
	if got := log.recent(c, 10); len(got) != 2 || got[0].Name != "b" || got[0].Generation != 2 {
		t.Errorf("recent: %+v", got)
	}
}
