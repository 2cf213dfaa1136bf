package s3repo

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pacrepo/pacrepo/internal/fsutil"
	"github.com/pacrepo/pacrepo/internal/history"
	"github.com/pacrepo/pacrepo/internal/objstore"
	"github.com/pacrepo/pacrepo/internal/repodb"
)

// commit is a commit record, .pacrepo/NAME/commits/GENERATION.json: which
// databases generation GENERATION of the repository is. A commit creates
// the record of the generation after the one it read, only if it does not
// exist (If-None-Match: *): of two publishers that read the same state,
// one creates the record and the other reads again. Only the one
// conditional write that every S3-compatible server with conditional
// writes makes atomic is relied on.
type commit struct {
	Version    int       `json:"version"`
	Generation int64     `json:"generation"`
	DB         string    `json:"db"`    // key of this generation's db
	Files      string    `json:"files"` // key of its files database
	DBSHA256   string    `json:"db_sha256"`
	FilesSHA   string    `json:"files_sha256"`
	Signed     bool      `json:"signed,omitempty"` // KEY.sig exists for both
	Committed  time.Time `json:"committed"`

	// Links is the key of this generation's links database (sogrep's
	// NAME.links.tar.EXT, never signed) and Libraries that of its
	// libraries object (libraries.go); "" in the records of an earlier
	// pacrepo.
	Links        string `json:"links,omitempty"`
	LinksSHA     string `json:"links_sha256,omitempty"`
	Libraries    string `json:"libraries,omitempty"`
	LibrariesSHA string `json:"libraries_sha256,omitempty"`

	// Recent are the generations this one superseded within the grace
	// period, with the package files each commit stopped referencing:
	// mirrors and CDNs may still serve those databases, so gc keeps what
	// they name.
	Recent []superseded `json:"recent,omitempty"`
	// Kept are the package objects commits unregistered or retired, with
	// the content they had, that may still be in the bucket until gc
	// deletes them: while an object holds that content it is a candidate
	// for nothing (update, status and reset leave it alone), as a file
	// retired in place is in a directory. An add of it registers it
	// again. A commit that lists the bucket forgets the objects gone, and
	// every commit looks for a few kept longer than the grace period.
	Kept []keptObject `json:"kept,omitempty"`
	// Change is who made the generation and what it changed (records of
	// an older pacrepo have none).
	history.Change
}

// sideObjects are the keys of the links database and the libraries
// object of generation h, when it has them.
func (h *commit) sideObjects() []string {
	var out []string
	for _, k := range []string{h.Links, h.Libraries} {
		if k != "" {
			out = append(out, k)
		}
	}
	return out
}

// keptObject is one package object a commit unregistered or retired.
type keptObject struct {
	Filename string `json:"file"`
	Name     string `json:"name"`
	Version  string `json:"version"`
	Size     int64  `json:"size"`
	SHA256   string `json:"sha256"`
	// At is when it was kept, or last found still there (pruneKept).
	At time.Time `json:"at"`
}

// keptOf is the kept record of what entry e registered.
func keptOf(e *repodb.Entry) keptObject {
	return keptObject{Filename: e.Filename, Name: e.Name, Version: e.Version, Size: e.CSize, SHA256: e.SHA256Sum}
}

type superseded struct {
	At      time.Time `json:"at"` // when it stopped being the current generation
	DB      string    `json:"db"`
	Files   string    `json:"files"`
	Signed  bool      `json:"signed,omitempty"`
	Retired []string  `json:"retired,omitempty"` // package file names (their .sig too)
}

const recordVersion = 1

// maxRecordSize bounds what is read as a commit record: its Recent list
// is pruned to the grace period.
const maxRecordSize = 64 << 20

// state is the repository as one read found it.
type state struct {
	commit  *commit        // the newest commit; nil: no repository yet
	entries []repodb.Entry // sorted by name; with file lists, except from readWithoutFileLists
}

// kept are the objects the newest commit records as kept, by file name.
func (st *state) kept() map[string]keptObject {
	m := map[string]keptObject{}
	if st.commit != nil {
		for _, k := range st.commit.Kept {
			m[k.Filename] = k
		}
	}
	return m
}

// NoRepositoryError says the bucket holds no repository at the address.
type NoRepositoryError struct{ Address Address }

func (e *NoRepositoryError) Error() string {
	return fmt.Sprintf("no repository at %s (add creates it)", e.Address)
}

// DamagedError says the repository's own objects are missing or damaged:
// never read as "no packages".
type DamagedError struct {
	URL string
	Err error
}

func (e *DamagedError) Error() string { return fmt.Sprintf("%s: %v", e.URL, e.Err) }
func (e *DamagedError) Unwrap() error { return e.Err }

// readLatest finds the newest commit record: from the generation the hint
// names, forward while the next record exists; by listing the records when
// there is no hint or gc pruned the record it names. nil (and no error)
// when there is no commit.
func (r *Repo) readLatest(ctx context.Context) (*commit, error) {
	var h *commit
	if g := r.readHint(ctx); g > 0 {
		var err error
		if h, err = r.readCommit(ctx, g); err != nil && !errors.Is(err, errPruned) {
			return nil, err
		}
	}
	if h == nil {
		g, err := r.listLatest(ctx)
		if err != nil || g == 0 {
			return nil, err
		}
		if h, err = r.readCommit(ctx, g); err != nil {
			return nil, err
		}
		if h == nil {
			return nil, &DamagedError{URL: r.addr.URL(r.addr.commitKey(g)), Err: errors.New("listed, but gone")}
		}
	}
	for {
		next, err := r.readCommit(ctx, h.Generation+1)
		if err != nil {
			// gc never prunes a record newer than one it keeps.
			return nil, err
		}
		if next == nil {
			return h, nil
		}
		h = next
	}
}

// readHint is the generation the hint names; 0 when there is none.
func (r *Repo) readHint(ctx context.Context) int64 {
	g, ok := r.readNumber(ctx, r.addr.hintKey())
	if !ok || g < 1 {
		return 0
	}
	return g
}

// readNumber reads the small object key holding one decimal number (the
// hint, lastupdate); false when there is none that can be read.
func (r *Repo) readNumber(ctx context.Context, key string) (int64, bool) {
	body, _, err := r.bucket.Get(ctx, key)
	if err != nil {
		return 0, false
	}
	defer body.Close()
	data, err := io.ReadAll(io.LimitReader(body, 64))
	if err != nil {
		return 0, false
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
	return n, err == nil
}

// writeHint names generation g as the newest. Readers go forward from it,
// so a hint behind (a publisher killed before writing it, or two writing
// it in the other order) costs a request, nothing else.
func (r *Repo) writeHint(ctx context.Context, g int64) {
	r.bucket.Put(ctx, r.addr.hintKey(), fmt.Appendf(nil, "%d\n", g))
}

// listLatest is the highest generation with a commit record; 0 when none.
func (r *Repo) listLatest(ctx context.Context) (int64, error) {
	records, err := r.commitRecords(ctx)
	if err != nil || len(records) == 0 {
		return 0, err
	}
	return records[len(records)-1].generation, nil
}

// listedRecord is a commit record as listing found it.
type listedRecord struct {
	generation int64
	obj        objstore.Object
}

// commitRecords lists the commit records, oldest first.
func (r *Repo) commitRecords(ctx context.Context) ([]listedRecord, error) {
	prefix := r.addr.commitPrefix()
	objs, err := r.bucket.List(ctx, prefix)
	if err != nil {
		return nil, err
	}
	var out []listedRecord
	for _, o := range objs {
		name, ok := strings.CutSuffix(strings.TrimPrefix(o.Key, prefix), ".json")
		g, err := strconv.ParseInt(name, 10, 64)
		if ok && err == nil && g > 0 && o.Key == r.addr.commitKey(g) {
			out = append(out, listedRecord{g, o})
		}
	}
	slices.SortFunc(out, func(a, b listedRecord) int { return cmp.Compare(a.generation, b.generation) })
	return out, nil
}

// prunedRecord is what gc leaves of a commit record it prunes. The key
// stays taken: a publisher that read a generation long ago (stalled for
// longer than the grace period) can never create the record after it
// again, behind the newest commit where no reader would look; its create
// fails and it reads the newest state like any publisher that lost a race.
var prunedRecord = []byte("pruned\n")

// errPruned says a commit record was pruned by gc.
var errPruned = errors.New("pruned commit record")

// readCommit reads the record of generation g; nil (and no error) when it
// does not exist, errPruned when gc pruned it.
func (r *Repo) readCommit(ctx context.Context, g int64) (*commit, error) {
	key := r.addr.commitKey(g)
	body, _, err := r.bucket.Get(ctx, key)
	if errors.Is(err, objstore.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer body.Close()
	data, err := io.ReadAll(io.LimitReader(body, maxRecordSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", r.addr.URL(key), err)
	}
	if bytes.Equal(data, prunedRecord) {
		return nil, errPruned
	}
	if len(data) > maxRecordSize {
		return nil, &DamagedError{URL: r.addr.URL(key), Err: errors.New("larger than a commit record can be")}
	}
	var h commit
	if err := json.Unmarshal(data, &h); err != nil {
		return nil, &DamagedError{URL: r.addr.URL(key), Err: fmt.Errorf("not a commit record: %w", err)}
	}
	if h.Version != recordVersion || h.DB == "" || h.Files == "" || h.Generation != g {
		return nil, &DamagedError{URL: r.addr.URL(key), Err: fmt.Errorf("not the commit record of generation %d", g)}
	}
	return &h, nil
}

// read reads the commit record and the databases it names.
func (r *Repo) read(ctx context.Context) (*state, error) { return r.readState(ctx, true) }

// readWithoutFileLists is read without the files database: its entries
// have no file lists. For gc, which needs only the file names: the files
// database is a repository's largest object, downloaded and decoded on
// every gc run for nothing.
func (r *Repo) readWithoutFileLists(ctx context.Context) (*state, error) {
	return r.readState(ctx, false)
}

func (r *Repo) readState(ctx context.Context, fileLists bool) (*state, error) {
	h, err := r.readLatest(ctx)
	if err != nil || h == nil {
		return &state{}, err
	}
	tmp, err := os.MkdirTemp("", "pacrepo-s3-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	loc := repodb.Location{Dir: tmp, Name: r.addr.Name, Ext: r.addr.Ext}
	if err := r.download(ctx, h.DB, h.DBSHA256, loc.DBPath()); err != nil {
		return nil, err
	}
	entries, err := repodb.Read(loc.DBPath(), repodb.ReadOptions{})
	if err != nil {
		return nil, &DamagedError{URL: r.addr.URL(h.DB), Err: err}
	}
	if !fileLists {
		return &state{commit: h, entries: entries}, nil
	}
	if err := r.download(ctx, h.Files, h.FilesSHA, loc.FilesPath()); err != nil {
		return nil, err
	}
	files, err := repodb.Read(loc.FilesPath(), repodb.ReadOptions{Files: true})
	if err != nil {
		return nil, &DamagedError{URL: r.addr.URL(h.Files), Err: err}
	}
	byName := map[string][]string{}
	for _, f := range files {
		byName[f.Name+"\x00"+f.Filename] = f.Files
	}
	for i := range entries {
		e := &entries[i]
		l, ok := byName[e.Name+"\x00"+e.Filename]
		if !ok {
			return nil, &DamagedError{URL: r.addr.URL(h.Files), Err: fmt.Errorf("no file list of %s", e.Filename)}
		}
		e.Files = l
	}
	return &state{commit: h, entries: entries}, nil
}

// download copies the object key, which must have SHA-256 sum, to path.
func (r *Repo) download(ctx context.Context, key, sum, path string) error {
	body, _, err := r.bucket.Get(ctx, key)
	if errors.Is(err, objstore.ErrNotFound) {
		return &DamagedError{URL: r.addr.URL(key), Err: errors.New("the committed database is missing")}
	}
	if err != nil {
		return err
	}
	defer body.Close()
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	h := sha256.New()
	_, err = io.Copy(io.MultiWriter(f, h), body)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", r.addr.URL(key), err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != sum {
		return &DamagedError{URL: r.addr.URL(key), Err: fmt.Errorf("SHA-256 %s, the commit record says %s", got, sum)}
	}
	return nil
}

// encodeRecord is the JSON of h.
func encodeRecord(h *commit) []byte {
	data, err := json.MarshalIndent(h, "", "  ")
	if err != nil {
		panic(err) // plain data: cannot fail
	}
	return append(data, '\n')
}

// putFile writes the file at path as the new object key, unless an
// object of the same content is there already (a retry, or content
// addressing). An object of other content under key is an error, and so
// is a file whose SHA-256 is not want (when given): it changed since it
// was read. The server checks the SHA-256 sent with the body, so a file
// changing during the upload is refused too.
func (r *Repo) putFile(ctx context.Context, path, key, want string) (wrote, error) {
	sum, size, err := fsutil.HashFile(path)
	if err != nil {
		return wrote{}, err
	}
	if want != "" && sum != want {
		return wrote{}, fmt.Errorf("%s changed since it was read (SHA-256 %s, read as %s); nothing was published", path, sum, want)
	}
	body := func() (io.ReadSeekCloser, error) { return fsutil.OpenRegular(path) }
	return r.put(ctx, key, body, size, sum, path)
}

// putBytes is putFile of data in memory.
func (r *Repo) putBytes(ctx context.Context, data []byte, key string) (wrote, error) {
	body := func() (io.ReadSeekCloser, error) { return nopCloser{bytes.NewReader(data)}, nil }
	return r.put(ctx, key, body, int64(len(data)), objstore.SumOf(data), "")
}

type nopCloser struct{ io.ReadSeeker }

func (nopCloser) Close() error { return nil }

// wrote is how put left an object: when it was written, as early as it
// can have been (this publisher's clock before its request, or the time
// the server shows of an object of the same content found there), and
// whether this put created it (no object was under the key then, so no
// gc had found one there old).
type wrote struct {
	at      time.Time
	created bool
}

// put creates key from body (size bytes of SHA-256 sum), or accepts the
// object there when it has the same content. Such an object, about to be
// referenced again, is written anew when it is older than half the grace
// period: a package retired long ago and published again (or a database
// generation that comes back) must look new to a gc that read the state
// before this commit. (Copying an object onto itself does not renew its
// time on every server.) The content does not change, only its time.
//
// Another publisher creating the same key at the same moment can make the
// create fail while its object is not visible yet (the server holds the
// key for a write in flight): the create is tried again a few times.
func (r *Repo) put(ctx context.Context, key string, body func() (io.ReadSeekCloser, error), size int64, sum, source string) (wrote, error) {
	for attempt := 0; ; attempt++ {
		f, err := body()
		if err != nil {
			return wrote{}, err
		}
		start := r.opts.Now()
		_, err = r.bucket.Create(ctx, key, f, size, sum)
		f.Close()
		if err == nil {
			return wrote{at: start, created: true}, nil
		}
		if !errors.Is(err, objstore.ErrPrecondition) {
			return wrote{}, err
		}
		obj, err := r.sameObject(ctx, key, size, sum, source)
		if errors.Is(err, objstore.ErrNotFound) && attempt < maxCreateAttempts {
			if err := backoff(ctx, attempt); err != nil {
				return wrote{}, err
			}
			continue // the other write has not landed, or failed
		}
		if err != nil {
			return wrote{}, err
		}
		if r.opts.Now().Sub(obj.Modified) < r.opts.Grace/2 {
			return wrote{at: obj.Modified}, nil
		}
		if f, err = body(); err != nil {
			return wrote{}, err
		}
		defer f.Close()
		start = r.opts.Now()
		return wrote{at: start}, r.bucket.Rewrite(ctx, key, f, size, sum)
	}
}

// maxCreateAttempts bounds the creates put tries while another write of
// the same key is in flight.
const maxCreateAttempts = 8

// CollisionError says an object exists under a key with other content
// than the file being published: it is never overwritten.
type CollisionError struct {
	Source string // the local file ("" for generated content)
	URL    string
}

func (e *CollisionError) Error() string {
	if e.Source == "" {
		return fmt.Sprintf("%s exists with other content", e.URL)
	}
	return fmt.Sprintf("%s exists with other content than %s (a package file is written once; bump pkgrel)", e.URL, filepath.Base(e.Source))
}

// sameObject returns the existing object key when it has size bytes of
// SHA-256 sum, and a *CollisionError when it has other content.
func (r *Repo) sameObject(ctx context.Context, key string, size int64, sum, source string) (objstore.Object, error) {
	obj, err := r.bucket.Head(ctx, key)
	if err != nil {
		return obj, err
	}
	if obj.Size == size && obj.SHA256 == sum {
		return obj, nil
	}
	if obj.Size == size && obj.SHA256 == "" {
		// Written by another tool: compare the content itself.
		body, _, err := r.bucket.Get(ctx, key)
		if err != nil {
			return obj, err
		}
		defer body.Close()
		h := sha256.New()
		if _, err := io.Copy(h, body); err != nil {
			return obj, fmt.Errorf("read %s: %w", r.addr.URL(key), err)
		}
		if hex.EncodeToString(h.Sum(nil)) == sum {
			return obj, nil
		}
	}
	return obj, &CollisionError{Source: source, URL: r.addr.URL(key)}
}
