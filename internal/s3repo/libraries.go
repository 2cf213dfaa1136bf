package s3repo

// A bucket's sonames. Each generation keeps, beside its databases, what
// reading its package objects found about shared libraries (what a
// directory keeps in its verification cache): the libraries object,
// .pacrepo/NAME/gen/SUM-NAME.libraries, the sonames every registered
// object provides and needs by file name, with the SHA-256 read; and the
// links database NAME.links.tar.EXT made of them by the writer of
// directories (repodb.WriteLinks), copied to the name sogrep reads like
// the databases. A commit takes the libraries of the objects it does not
// touch from the generation before it and reads only what it registers;
// an object no generation has read (registered by an earlier pacrepo) is
// downloaded and read once, by the first commit that meets it.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	"github.com/pacrepo/pacrepo/internal/compress"
	"github.com/pacrepo/pacrepo/internal/deps"
	"github.com/pacrepo/pacrepo/internal/fsutil"
	"github.com/pacrepo/pacrepo/internal/objstore"
	"github.com/pacrepo/pacrepo/internal/pkgfile"
	"github.com/pacrepo/pacrepo/internal/repo"
	"github.com/pacrepo/pacrepo/internal/repodb"
)

// librariesVersion is the version of the libraries object's format.
const librariesVersion = 1

// maxLibrariesSize bounds what is read as a libraries object, unpacked.
const maxLibrariesSize = 256 << 20

// librariesDoc is the libraries object of a generation.
type librariesDoc struct {
	Version int                      `json:"version"`
	Files   map[string]libraryRecord `json:"files"` // by file name
}

// libraryRecord is what reading one package object found.
type libraryRecord struct {
	SHA256   string           `json:"sha256"` // of the object read
	Provides []pkgfile.Soname `json:"provides,omitempty"`
	Needed   []pkgfile.Soname `json:"needed,omitempty"`
	// Unread says the object could not be read (gone, or not the
	// package of its entry: check reports it): its libraries are not
	// known, and no commit downloads it again.
	Unread bool `json:"unread,omitempty"`
}

// libraries are the libraries l records; nil when the object was unread.
func (l libraryRecord) libraries() *pkgfile.Libraries {
	if l.Unread {
		return nil
	}
	return &pkgfile.Libraries{Provides: l.Provides, Needed: l.Needed}
}

// libraryReads remembers the libraries known to one change, across its
// attempts: the libraries objects read, and the objects read for theirs.
type libraryReads struct {
	docs map[string]map[string]libraryRecord // by key of the libraries object
	// read are the libraries of objects read, by file name and SHA-256.
	read map[string]*pkgfile.Libraries
}

func newLibraryReads() *libraryReads {
	return &libraryReads{docs: map[string]map[string]libraryRecord{}, read: map[string]*pkgfile.Libraries{}}
}

// generationLibraries are the libraries generation h records, by file
// name; none when h records none (a commit of an earlier pacrepo) or its
// object is gone or damaged: derived data, read again from the packages.
func (r *Repo) generationLibraries(ctx context.Context, h *commit, lr *libraryReads) (map[string]libraryRecord, error) {
	if h == nil || h.Libraries == "" {
		return nil, nil
	}
	if doc, ok := lr.docs[h.Libraries]; ok {
		return doc, nil
	}
	tmp, err := os.MkdirTemp("", "pacrepo-s3-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	path := filepath.Join(tmp, "libraries")
	err = r.download(ctx, h.Libraries, h.LibrariesSHA, path)
	var damaged *DamagedError
	if errors.As(err, &damaged) {
		lr.docs[h.Libraries] = nil
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	doc, err := readLibrariesFile(path)
	if err != nil {
		doc = nil // read again from the packages
	}
	lr.docs[h.Libraries] = doc
	return doc, nil
}

// readLibrariesFile reads a libraries object from path.
func readLibrariesFile(path string) (map[string]libraryRecord, error) {
	dec, err := compress.OpenFile(path)
	if err != nil {
		return nil, err
	}
	defer dec.Close()
	var doc librariesDoc
	d := json.NewDecoder(io.LimitReader(dec, maxLibrariesSize))
	if err := d.Decode(&doc); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if doc.Version != librariesVersion {
		return nil, fmt.Errorf("read %s: libraries object of version %d", path, doc.Version)
	}
	return doc.Files, nil
}

// writeLibrariesFile writes the libraries of entries (those known) to
// path, in the compression of the databases.
func (r *Repo) writeLibrariesFile(path string, entries []repodb.Entry, libs map[string]*pkgfile.Libraries) error {
	doc := librariesDoc{Version: librariesVersion, Files: map[string]libraryRecord{}}
	for i := range entries {
		e := &entries[i]
		l, read := libs[e.Filename]
		switch {
		case l != nil:
			doc.Files[e.Filename] = libraryRecord{SHA256: e.SHA256Sum, Provides: l.Provides, Needed: l.Needed}
		case read:
			doc.Files[e.Filename] = libraryRecord{SHA256: e.SHA256Sum, Unread: true}
		}
	}
	data, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	format, err := compress.FormatForName(r.addr.Name + ".db" + r.addr.Ext)
	if err != nil {
		return err
	}
	return fsutil.WriteFileWith(path, 0o644, func(f *os.File) error {
		cw, err := compress.NewWriter(f, format)
		if err != nil {
			return err
		}
		if _, err := cw.Write(data); err != nil {
			return err
		}
		return cw.Close()
	})
}

// librariesOf are the libraries of the package objects of entries, by
// file name: from known (what this change read), else from generation
// h's libraries object when it read the same content, else read now (an
// upload from its local file in local, by file name; another object
// downloaded). An object that cannot be read (gone, or not its entry's
// content) is there with nil libraries: the links database leaves it
// out, and the libraries object records it unread, so that later
// commits do not download it again.
func (r *Repo) librariesOf(ctx context.Context, entries []repodb.Entry, h *commit, known map[string]*pkgfile.Libraries,
	local map[string]string, lr *libraryReads) (map[string]*pkgfile.Libraries, error) {
	prev, err := r.generationLibraries(ctx, h, lr)
	if err != nil {
		return nil, err
	}
	out := make(map[string]*pkgfile.Libraries, len(entries))
	var tmp string
	defer func() {
		if tmp != "" {
			os.RemoveAll(tmp)
		}
	}()
	for i := range entries {
		e := &entries[i]
		id := e.Filename + "\x00" + e.SHA256Sum
		if l := known[e.Filename]; l != nil {
			out[e.Filename] = l
			continue
		}
		if rec, ok := prev[e.Filename]; ok && rec.SHA256 == e.SHA256Sum {
			out[e.Filename] = rec.libraries()
			continue
		}
		if l, ok := lr.read[id]; ok {
			out[e.Filename] = l
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		path := local[e.Filename]
		if path == "" {
			if tmp == "" {
				if tmp, err = os.MkdirTemp("", "pacrepo-s3-"); err != nil {
					return nil, err
				}
			}
			path = filepath.Join(tmp, e.Filename)
			if err := r.downloadTo(ctx, r.addr.key(e.Filename), path); err != nil {
				if errors.Is(err, objstore.ErrNotFound) || errors.Is(err, os.ErrExist) {
					lr.read[id], out[e.Filename] = nil, nil
					continue
				}
				return nil, err
			}
		}
		p, err := pkgfile.Read(path, pkgfile.ReadOptions{})
		if path != local[e.Filename] {
			os.Remove(path)
		}
		if err != nil || p.SHA256 != e.SHA256Sum {
			lr.read[id], out[e.Filename] = nil, nil
			continue
		}
		l := p.Libraries // a copy: the package read is let go
		lr.read[id], out[e.Filename] = &l, &l
	}
	return out, nil
}

// writeLinksFiles writes, in dir, the links database and the libraries
// object of entries, whose libraries are libs.
func (r *Repo) writeLinksFiles(dir string, entries []repodb.Entry, libs map[string]*pkgfile.Libraries) (linksPath, librariesPath string, err error) {
	loc := repodb.Location{Dir: dir, Name: r.addr.Name, Ext: r.addr.Ext}
	var links []repodb.Links
	for i := range entries {
		e := &entries[i]
		if l := libs[e.Filename]; l != nil {
			links = append(links, repodb.Links{Name: e.Name, Version: e.Version, Libraries: l.Links()})
		}
	}
	if err := repodb.WriteLinks(loc, links); err != nil {
		return "", "", fmt.Errorf("write the links database of %s: %w", r.addr, err)
	}
	librariesPath = filepath.Join(dir, r.addr.Name+".libraries")
	if err := r.writeLibrariesFile(librariesPath, entries, libs); err != nil {
		return "", "", fmt.Errorf("write the libraries of %s: %w", r.addr, err)
	}
	return loc.LinksPath(), librariesPath, nil
}

// DependencyPackages are the registered packages as the dependency
// judgement takes them (package deps), with the libraries of their
// objects: from the newest generation's libraries object, else read from
// the objects (a repository an earlier pacrepo wrote; the next commit
// records them).
func (r *Repo) DependencyPackages(ctx context.Context) ([]deps.Package, error) {
	h, err := r.readLatest(ctx)
	if err != nil {
		return nil, err
	}
	if h == nil {
		return nil, &NoRepositoryError{Address: r.addr}
	}
	// The db alone: the file lists are not judged.
	tmp, err := os.MkdirTemp("", "pacrepo-s3-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	path := filepath.Join(tmp, r.addr.Name+".db"+r.addr.Ext)
	if err := r.download(ctx, h.DB, h.DBSHA256, path); err != nil {
		return nil, err
	}
	entries, err := repodb.Read(path, repodb.ReadOptions{})
	if err != nil {
		return nil, &DamagedError{URL: r.addr.URL(h.DB), Err: err}
	}
	libs, err := r.librariesOf(ctx, entries, h, nil, nil, newLibraryReads())
	if err != nil {
		return nil, err
	}
	return dependencyPackages(entries, libs), nil
}

// dependencyPackages are entries with their libraries, as package deps
// takes them.
func dependencyPackages(entries []repodb.Entry, libs map[string]*pkgfile.Libraries) []deps.Package {
	out := make([]deps.Package, len(entries))
	for i := range entries {
		out[i] = deps.FromEntry(&entries[i], "")
		out[i].Libs = libs[entries[i].Filename]
	}
	return out
}

// judgeChangeOf is the judgement of the commit of p on top of st
// (repo.JudgeChange, the rule of every store), when the options ask for
// one: st's packages before, those p registers after, each with the
// libraries of its object.
func (r *Repo) judgeChangeOf(ctx context.Context, st *state, p *planned, ups []upload, lr *libraryReads) ([]deps.Problem, error) {
	if !repo.Judges(r.opts.Installable) || !changes(p.plan.Actions) {
		return nil, nil
	}
	registered := make([]repodb.Entry, 0, len(p.upserts))
	for _, e := range sortedEntries(p.upserts) {
		registered = append(registered, *e)
	}
	all := append(slices.Clone(st.entries), registered...)
	libs, err := r.librariesOf(ctx, all, st.commit, p.libs, localSources(ups), lr)
	if err != nil {
		return nil, err
	}
	return repo.JudgeChange(r.opts.Installable, r.opts.Upstream, p.plan,
		dependencyPackages(st.entries, libs), dependencyPackages(registered, libs))
}
