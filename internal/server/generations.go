package server

// A repository with history (internal/history) is served by generation:
// a database name (NAME.db, NAME.db.tar.EXT, the files database's) is the
// newest generation's database, and its .sig that generation's signature.
// Writers replace the database and then its signature under the fixed
// names, and commit again at any moment; a generation's pair never
// changes. pacman fetches a database and then its signature, over the
// same connection: between the two requests a commit may land, so the
// server remembers which generation each client got (pairs) and answers
// the signature request with that generation's signature. A repository
// without history is served from its files, as before.

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	repohistory "github.com/pacrepo/pacrepo/internal/history"
	"github.com/pacrepo/pacrepo/internal/layout"
	"github.com/pacrepo/pacrepo/internal/objstore"
)

// pairWindow is how long after a client got a database its request for
// the signature gets the signature of that database's generation rather
// than the newest's. pacman asks for it as soon as the database arrived.
const pairWindow = time.Minute

// maxPairs bounds the clients remembered: beyond, the expired are
// forgotten, and if that is not enough, all (the signature requests of
// the clients forgotten get the newest generation's).
const maxPairs = 1 << 14

// foreignSlack is how much newer than the newest generation's record a
// database on disk may be before the server takes it for one written by
// another tool (repo-add), which records no generation, and serves the
// files on disk instead. A pacrepo change installs its databases shortly
// before it writes the record.
const foreignSlack = time.Minute

// pairKey is one client's database of one repository: client is the
// connection (address and port) or the client's address alone.
type pairKey struct {
	repo   string
	files  bool
	client string
}

type servedGeneration struct {
	gen int64
	at  time.Time
}

// pairs remembers the generation of the database each client got last.
type pairs struct {
	mu     sync.Mutex
	served map[pairKey]servedGeneration
}

// clientKeys are the keys of r's client, the most precise first: its
// connection, then its address (a client that opened another connection
// for the signature).
func clientKeys(r *http.Request) []string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil || host == "" {
		return []string{r.RemoteAddr}
	}
	return []string{r.RemoteAddr, host}
}

// remember notes that r's client got generation gen of a database.
func (p *pairs) remember(r *http.Request, repo string, files bool, gen int64) {
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.served == nil || len(p.served) >= maxPairs {
		p.expire(now)
	}
	for _, c := range clientKeys(r) {
		p.served[pairKey{repo: repo, files: files, client: c}] = servedGeneration{gen: gen, at: now}
	}
}

// expire forgets the expired pairs, or all of them when the map stays full.
func (p *pairs) expire(now time.Time) {
	for k, s := range p.served {
		if now.Sub(s.at) >= pairWindow {
			delete(p.served, k)
		}
	}
	if p.served == nil || len(p.served) >= maxPairs {
		p.served = map[pairKey]servedGeneration{}
	}
}

// recall is the generation of the database r's client got within the
// window; false when none.
func (p *pairs) recall(r *http.Request, repo string, files bool) (int64, bool) {
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range clientKeys(r) {
		if s, ok := p.served[pairKey{repo: repo, files: files, client: c}]; ok && now.Sub(s.at) < pairWindow {
			return s.gen, true
		}
	}
	return 0, false
}

// databaseRequest tells whether name is a database name of the repository
// (NAME.db, NAME.db.tar.EXT, the files database's) or its signature, and
// which database.
func databaseRequest(repoName, name string) (base string, files, isSig, ok bool) {
	base, isSig = strings.CutSuffix(name, ".sig")
	switch publicKind(repoName, base) {
	case layout.Database, layout.DatabaseLink:
		return base, strings.HasPrefix(base, repoName+".files"), isSig, true
	}
	return "", false, false, false
}

// generationContent is a database, or its signature, of one generation,
// ready to serve.
type generationContent struct {
	gen      int64
	modified time.Time // the generation's time
	size     int64
	etag     string
	content  io.ReadSeeker
	close    func()
	// sharedSecond: the generation before has a time in the same second
	// (or later). HTTP dates have seconds, so If-Modified-Since cannot
	// tell the two apart: a client asking with that second may hold the
	// one before, and gets the whole database.
	sharedSecond bool
}

// serveGeneration serves the database request name of repo from a
// generation, and returns false when the repository has none (a
// directory without history): the caller serves the file on disk.
func (h *handler) serveGeneration(w http.ResponseWriter, r *http.Request, repo Repository, name, base string, files, isSig bool) bool {
	want := int64(-1)
	if isSig {
		if g, ok := h.pairs.recall(r, repo.Name, files); ok {
			want = g
		}
	}
	var c *generationContent
	var err error
	if repo.Objects != nil {
		c, err = resolveObjectGeneration(r.Context(), repo, name, want)
	} else {
		c, err = h.openDirGeneration(r.Context(), repo, base, files, isSig, want)
	}
	switch {
	case errors.Is(err, errNoGeneration):
		return false
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, objstore.ErrNotFound), isLinkRefused(err):
		notFound(w)
		return true
	case err != nil && repo.Objects != nil:
		http.Error(w, "object storage: "+err.Error(), http.StatusBadGateway)
		return true
	case err != nil:
		http.Error(w, "cannot open file", http.StatusInternalServerError)
		return true
	}
	defer c.close()
	if c.sharedSecond {
		r.Header.Del("If-Modified-Since")
	}
	hdr := w.Header()
	hdr.Set("Content-Type", "application/octet-stream")
	if c.etag != "" {
		hdr.Set("ETag", c.etag)
	}
	hdr.Set("Cache-Control", cacheDatabase)
	limitRanges(r, c.size)
	http.ServeContent(w, r, name, c.modified, c.content)
	// Remembered once the response is written: the client cannot ask
	// for the signature before it has the whole database.
	if !isSig && r.Method == http.MethodGet {
		h.pairs.remember(r, repo.Name, files, c.gen)
	}
	return true
}

// errNoGeneration: the directory has no generation to serve (no history,
// or databases another tool wrote after the newest generation).
var errNoGeneration = errors.New("no generation to serve")

// resolveObjectGeneration resolves a database request of a repository in
// object storage as generation want has it (the newest when want < 0).
func resolveObjectGeneration(ctx context.Context, repo Repository, name string, want int64) (*generationContent, error) {
	obj, gen, err := repo.Objects.ResolveGeneration(ctx, name, want)
	if err != nil {
		return nil, err
	}
	content := &objectReader{ctx: ctx, objects: repo.Objects, obj: obj}
	return &generationContent{gen: gen, modified: obj.Modified, size: obj.Size, etag: obj.ETag,
		content: content, close: func() { content.Close() }}, nil
}

// newestRecords caches the newest generation's record of each directory
// repository, read again when a newer generation appears.
type newestRecords struct {
	mu     sync.Mutex
	byRepo map[string]newestRecord
}

type newestRecord struct {
	rec          *repohistory.Record
	sharedSecond bool
}

func (n *newestRecords) get(ctx context.Context, repo string, hist repohistory.Dir) (newestRecord, error) {
	latest, err := hist.Latest(ctx)
	if err != nil || latest < 0 {
		return newestRecord{}, err
	}
	n.mu.Lock()
	cached := n.byRepo[repo]
	n.mu.Unlock()
	if cached.rec != nil && cached.rec.Generation == latest {
		return cached, nil
	}
	rec, err := hist.Record(ctx, latest)
	if err != nil {
		return newestRecord{}, err
	}
	cached = newestRecord{rec: rec, sharedSecond: sharesSecond(ctx, hist, rec)}
	n.mu.Lock()
	if n.byRepo == nil {
		n.byRepo = map[string]newestRecord{}
	}
	n.byRepo[repo] = cached
	n.mu.Unlock()
	return cached, nil
}

// sharesSecond tells whether the generation before rec has a time in
// rec's second or later (a clock set back).
func sharesSecond(ctx context.Context, hist repohistory.Dir, rec *repohistory.Record) bool {
	prev, err := hist.Record(ctx, rec.Generation-1)
	if err != nil {
		return false // none, or pruned: no client holds it
	}
	return !prev.Time.Truncate(time.Second).Before(rec.Time.Truncate(time.Second))
}

// openDirGeneration opens the database request base (or its signature)
// of a directory repository as generation want has it; the newest
// generation's when want < 0 or generation want is gone. errNoGeneration
// when the directory is to be served from its files.
func (h *handler) openDirGeneration(ctx context.Context, repo Repository, base string, files, isSig bool, want int64) (*generationContent, error) {
	hist := repohistory.DirOf(repo.Dir, repo.Name)
	cached, err := h.newest.get(ctx, repo.Name, hist)
	newest := cached.rec
	if err != nil || newest == nil {
		// No history, or one that cannot be read (check reports it):
		// the files on disk, as before there was any.
		return nil, errNoGeneration
	}
	rec, sharedSecond := newest, cached.sharedSecond
	if want >= 0 && want != newest.Generation {
		if old, err := hist.Record(ctx, want); err == nil {
			rec, sharedSecond = old, sharesSecond(ctx, hist, old)
		}
	}
	var db repohistory.Database
	found := false
	for _, d := range rec.Databases {
		if d.Files() == files {
			db, found = d, true
		}
	}
	link := repo.Name + ".db"
	if files {
		link = repo.Name + ".files"
	}
	if !found || base != db.Name && base != link {
		// Another name (another compression) than the generation's:
		// whatever lies on disk under it.
		return nil, errNoGeneration
	}
	if rec == newest {
		// A database written after the newest record by something that
		// records no generation is what the repository is now.
		if fi, err := os.Stat(filepath.Join(repo.Dir, db.Name)); err == nil && fi.ModTime().After(rec.Time.Add(foreignSlack)) {
			return nil, errNoGeneration
		}
	}
	// The record names the file: a file of the history's gen directory,
	// opened within the repository directory, never through a link at
	// the end, as any public file.
	dirName, file, _ := strings.Cut(db.Path, "/")
	if dirName != "gen" || strings.ContainsAny(file, "/\\") || !strings.HasSuffix(file, "-"+db.Name) ||
		publicKind(repo.Name, db.Name) != layout.Database {
		return nil, fs.ErrNotExist
	}
	path := filepath.Join(layout.Names{Repo: repo.Name}.HistoryDir(), dirName, file)
	if isSig {
		if !db.Signed {
			return nil, fs.ErrNotExist
		}
		path += ".sig"
	}
	root, err := os.OpenRoot(repo.Dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	f, err := root.OpenFile(path, openFlags|noFollow, 0)
	if err != nil {
		if fi, lerr := root.Lstat(path); lerr == nil && fi.Mode()&fs.ModeSymlink != 0 {
			return nil, fs.ErrNotExist // a link, wherever it leads
		}
		return nil, err
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = fs.ErrNotExist
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return &generationContent{gen: rec.Generation, modified: rec.Time, size: fi.Size(), etag: etagOf(fi),
		content: f, close: func() { f.Close() }, sharedSecond: sharedSecond}, nil
}
