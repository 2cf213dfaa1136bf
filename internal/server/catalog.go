package server

// The package pages' model. A catalog is what the pages show of one
// generation of a repository's databases: built once when the databases
// change (read from the files database, which holds every entry's desc and
// its file list), then only read by requests, so that a page or a search
// costs a lookup or a scan of memory, never a read of the database.

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/pacrepo/pacrepo/internal/layout"
	"github.com/pacrepo/pacrepo/internal/objstore"
	"github.com/pacrepo/pacrepo/internal/repodb"
	"github.com/pacrepo/pacrepo/internal/version"
)

// packFilesAbove is the size of a repository above which the catalog
// keeps file lists compressed, as a reset does: paths share long prefixes,
// and at 100,000 packages their strings would cost hundreds of megabytes.
const packFilesAbove = 5000

// objectsRecheck is how long a bucket's catalog is used before the
// bucket is asked again whether its databases changed: each asking costs
// requests to the store, a page costs none.
const objectsRecheck = time.Second

// catalog is one generation of a repository as the pages show it.
type catalog struct {
	repo       string
	generation string    // identity of the database files it was read from
	modified   time.Time // when the database was written: Last-Modified
	etag       string    // of every page of this generation
	hasFiles   bool      // read from the files database: file lists known

	byName     []*pkgView // sorted by name
	byDate     []*pkgView // oldest build first
	named      map[string]*pkgView
	providers  map[string][]*pkgView // by name and by every name provided
	requiredBy map[string][]reverseDep
	bases      map[string][]*pkgView // split packages by pkgbase
}

// pkgView is one package of a catalog.
type pkgView struct {
	repodb.Entry
	Epoch, Pkgver, Pkgrel string
	search                string // lower-case name, description and provides
	row                   listRow

	sigOnce sync.Once
	sig     sigState
}

// listRow is a package as a list shows it, made once: a list of a few
// hundred rows renders flat strings only.
type listRow struct {
	Name, Href, Version, Desc, Built string
}

// reverseDep is a package that depends on another, and how.
type reverseDep struct {
	Name string
	How  string // "" (depends), "optional", "make" or "check"
}

// newCatalog indexes entries (read from the database of identity
// generation, written at modified).
func newCatalog(repo, generation string, modified time.Time, hasFiles bool, entries []repodb.Entry, started time.Time) *catalog {
	c := &catalog{
		repo: repo, generation: generation, modified: modified, hasFiles: hasFiles,
		named:      make(map[string]*pkgView, len(entries)),
		providers:  make(map[string][]*pkgView, len(entries)),
		requiredBy: map[string][]reverseDep{},
		bases:      map[string][]*pkgView{},
	}
	sum := sha256.Sum256([]byte(generation + "\x00" + started.String()))
	// Weak: the bytes of a page depend on its query, the generation
	// decides what it says.
	c.etag = `W/"` + hex.EncodeToString(sum[:12]) + `"`
	c.byName = make([]*pkgView, 0, len(entries))
	for i := range entries {
		p := &pkgView{Entry: entries[i]}
		if len(entries) > packFilesAbove {
			p.PackFiles()
		}
		p.Epoch, p.Pkgver, p.Pkgrel = splitVersion(p.Version)
		var sb strings.Builder
		sb.WriteString(strings.ToLower(p.Name))
		sb.WriteByte(0)
		sb.WriteString(strings.ToLower(p.Desc))
		for _, pr := range p.Provides {
			sb.WriteByte(0)
			sb.WriteString(strings.ToLower(pr))
		}
		p.search = sb.String()
		p.row = listRow{Name: p.Name, Href: pkgHref(p.Name), Version: p.Version, Desc: p.Desc, Built: formatDate(p.BuildDate)}
		c.byName = append(c.byName, p)
		c.named[p.Name] = p
		c.providers[p.Name] = append(c.providers[p.Name], p)
		for _, pr := range p.Provides {
			if n := version.ParseDepend(pr).Name; n != p.Name {
				c.providers[n] = append(c.providers[n], p)
			}
		}
		base := cmp.Or(p.Base, p.Name)
		c.bases[base] = append(c.bases[base], p)
	}
	slices.SortFunc(c.byName, func(a, b *pkgView) int { return strings.Compare(a.Name, b.Name) })
	c.byDate = slices.Clone(c.byName)
	slices.SortStableFunc(c.byDate, func(a, b *pkgView) int { return cmp.Compare(a.BuildDate, b.BuildDate) })
	for _, p := range c.byName {
		seen := map[string]bool{}
		// A package that needs another in several ways is listed once,
		// by the strongest.
		add := func(deps []string, how string) {
			for _, d := range deps {
				for _, q := range c.providers[version.ParseDepend(d).Name] {
					if q != p && !seen[q.Name] {
						seen[q.Name] = true
						c.requiredBy[q.Name] = append(c.requiredBy[q.Name], reverseDep{Name: p.Name, How: how})
					}
				}
			}
		}
		add(p.Depends, "")
		add(p.OptDepends, "optional")
		add(p.MakeDepends, "make")
		add(p.CheckDepends, "check")
	}
	return c
}

// splitVersion splits [epoch:]pkgver-pkgrel.
func splitVersion(v string) (epoch, pkgver, pkgrel string) {
	if e, rest, ok := strings.Cut(v, ":"); ok {
		epoch, v = e, rest
	}
	if i := strings.LastIndexByte(v, '-'); i >= 0 {
		return epoch, v[:i], v[i+1:]
	}
	return epoch, v, ""
}

// linkTarget is the package a dependency's page link leads to: the
// package of that name, else the first that provides it; "" when this
// repository has none.
func (c *catalog) linkTarget(dep string) string {
	name := version.ParseDepend(dep).Name
	if _, ok := c.named[name]; ok {
		return name
	}
	if ps := c.providers[name]; len(ps) > 0 {
		return ps[0].Name
	}
	return ""
}

// search returns the packages whose name, description or provides hold
// every word of q (case-insensitive), in order.
func search(order []*pkgView, q string) []*pkgView {
	words := strings.Fields(strings.ToLower(q))
	if len(words) == 0 {
		return order
	}
	var out []*pkgView
next:
	for _, p := range order {
		for _, w := range words {
			if !strings.Contains(p.search, w) {
				continue next
			}
		}
		out = append(out, p)
	}
	return out
}

// catalogs keeps the current catalog of each repository and the feed's
// changes.
type catalogs struct {
	started time.Time

	mu    sync.Mutex
	byRep map[string]*repoCatalog
}

type repoCatalog struct {
	build   sync.Mutex // held while a new generation is read
	mu      sync.Mutex
	current *catalog
	checked time.Time // of a bucket: when its databases were last asked for
	changes changeLog
	records *recordLog // the repository's own history, made at its first use
}

func (cs *catalogs) of(name string) *repoCatalog {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.byRep == nil {
		cs.byRep = map[string]*repoCatalog{}
	}
	rc := cs.byRep[name]
	if rc == nil {
		rc = &repoCatalog{}
		cs.byRep[name] = rc
	}
	return rc
}

// errNoDatabase: the repository has no database to show (yet).
var errNoDatabase = errors.New("the repository has no database")

// catalog returns repo's catalog of the databases it has now, reading them
// when they changed since the last request.
func (h *handler) catalog(ctx context.Context, repo Repository) (*catalog, error) {
	rc := h.catalogs.of(repo.Name)
	if repo.Objects != nil {
		rc.mu.Lock()
		cur, fresh := rc.current, time.Since(rc.checked) < objectsRecheck
		rc.mu.Unlock()
		if cur != nil && fresh {
			return cur, nil
		}
	}
	src, err := h.databaseSource(ctx, repo)
	if err != nil {
		return nil, err
	}
	rc.mu.Lock()
	cur := rc.current
	rc.mu.Unlock()
	if cur != nil && cur.generation == src.generation {
		rc.mu.Lock()
		rc.checked = time.Now()
		rc.mu.Unlock()
		return cur, nil
	}
	// One request reads a new generation; the others wait for it.
	rc.build.Lock()
	defer rc.build.Unlock()
	rc.mu.Lock()
	cur = rc.current
	rc.mu.Unlock()
	if cur != nil && cur.generation == src.generation {
		return cur, nil
	}
	entries, hasFiles, err := src.read(ctx)
	if err != nil {
		return nil, err
	}
	next := newCatalog(repo.Name, src.generation, src.modified, hasFiles, entries, h.catalogs.started)
	rc.mu.Lock()
	rc.changes.observe(cur, next)
	rc.current, rc.checked = next, time.Now()
	rc.mu.Unlock()
	return next, nil
}

// databaseSource is where a generation of a repository's databases is
// read from.
type databaseSource struct {
	generation string
	modified   time.Time
	read       func(ctx context.Context) (entries []repodb.Entry, hasFiles bool, err error)
}

// databaseSource finds repo's databases as they are now: their identity,
// and how to read them.
func (h *handler) databaseSource(ctx context.Context, repo Repository) (databaseSource, error) {
	if repo.Objects != nil {
		return objectDatabases(ctx, repo)
	}
	return dirDatabases(repo)
}

// dirDatabases are the databases of a directory: through the NAME.db and
// NAME.files links pacrepo keeps (two stats a request), else as the
// directory lists them.
func dirDatabases(repo Repository) (databaseSource, error) {
	names := layout.Names{Repo: repo.Name}
	db, files := filepath.Join(repo.Dir, repo.Name+".db"), filepath.Join(repo.Dir, repo.Name+".files")
	dbInfo, err := os.Stat(db)
	if err != nil {
		locs, lerr := repodb.DatabasesIn(repo.Dir)
		if lerr != nil {
			return databaseSource{}, fmt.Errorf("list %s: %w", repo.Dir, lerr)
		}
		found := false
		for _, l := range locs {
			if l.Name == repo.Name {
				db, files, found = l.DBPath(), l.FilesPath(), true
			}
		}
		if !found {
			return databaseSource{}, fmt.Errorf("%s in %s: %w", names.Repo, repo.Dir, errNoDatabase)
		}
		if dbInfo, err = os.Stat(db); err != nil {
			return databaseSource{}, fmt.Errorf("stat %s: %w", db, err)
		}
	}
	generation := etagOf(dbInfo)
	filesInfo, ferr := os.Stat(files)
	if ferr == nil {
		generation += etagOf(filesInfo)
	}
	return databaseSource{
		generation: generation,
		modified:   dbInfo.ModTime(),
		read: func(context.Context) ([]repodb.Entry, bool, error) {
			if ferr == nil {
				entries, err := repodb.Read(files, repodb.ReadOptions{Files: true})
				if err == nil {
					return entries, true, nil
				}
				if !errors.Is(err, fs.ErrNotExist) {
					return nil, false, fmt.Errorf("read %s: %w", files, err)
				}
			}
			entries, err := repodb.Read(db, repodb.ReadOptions{})
			if err != nil {
				return nil, false, fmt.Errorf("read %s: %w", db, err)
			}
			return entries, false, nil
		},
	}, nil
}

// objectDatabases are the databases of a bucket's newest generation.
func objectDatabases(ctx context.Context, repo Repository) (databaseSource, error) {
	db, err := repo.Objects.Resolve(ctx, repo.Name+".db")
	if errors.Is(err, objstore.ErrNotFound) {
		return databaseSource{}, fmt.Errorf("%s: %w", repo.ObjectsURL, errNoDatabase)
	}
	if err != nil {
		return databaseSource{}, fmt.Errorf("%s: %w", repo.ObjectsURL, err)
	}
	files, ferr := repo.Objects.Resolve(ctx, repo.Name+".files")
	generation := db.Key + db.ETag
	if ferr == nil {
		generation += "\x00" + files.Key + files.ETag
	}
	readObject := func(ctx context.Context, obj objstore.Object, opts repodb.ReadOptions) ([]repodb.Entry, error) {
		body, err := repo.Objects.OpenAt(ctx, obj, 0)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", obj.Key, err)
		}
		defer body.Close()
		return repodb.ReadFrom(io.LimitReader(body, obj.Size), obj.Key, opts)
	}
	return databaseSource{
		generation: generation,
		modified:   db.Modified,
		read: func(ctx context.Context) ([]repodb.Entry, bool, error) {
			if ferr == nil {
				if entries, err := readObject(ctx, files, repodb.ReadOptions{Files: true}); err == nil {
					return entries, true, nil
				}
			}
			entries, err := readObject(ctx, db, repodb.ReadOptions{})
			return entries, false, err
		},
	}, nil
}
