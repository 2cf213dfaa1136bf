package repo

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"

	"github.com/pacrepo/pacrepo/internal/fsutil"
	"github.com/pacrepo/pacrepo/internal/pkgfile"
	"github.com/pacrepo/pacrepo/internal/repodb"
)

// writeLinks writes the links database of the entries registered after c,
// before the databases (which stay the commit point): whoever sees the new
// db finds a links database at least as new. The libraries of an entry
// come from its read (registered now), else from the links database on
// disk (its NAME-VERSION unchanged), else from the verification cache or
// a read of its file (librariesOf). An entry whose file cannot be read is
// left out: the links database is derived data, made again whole by the
// next change.
func (r *Repo) writeLinks(c *change) error {
	loc := r.opts.DB
	old, err := repodb.ReadLinks(loc.LinksPath())
	if err != nil {
		old = nil // none yet, or damaged: made again from the packages
	}
	libsByFile := map[string]*pkgfile.Libraries{}
	for _, f := range c.registered {
		if f.libs != nil {
			libsByFile[f.Filename] = f.libs
		}
	}
	var links []repodb.Links
	var unknown []repodb.Key
	add := func(k repodb.Key) {
		if libs := libsByFile[k.Filename]; libs != nil {
			links = append(links, repodb.Links{Name: k.Name, Version: k.Version, Libraries: libs.Links()})
			return
		}
		if l, ok := old[k.Name+"-"+k.Version]; ok {
			links = append(links, repodb.Links{Name: k.Name, Version: k.Version, Libraries: l})
			return
		}
		unknown = append(unknown, k)
	}
	for _, k := range c.keys {
		if !c.removed[k.Name] && c.upserts[k.Name] == nil {
			add(k)
		}
	}
	for _, e := range c.upserts {
		add(repodb.KeyOf(e))
	}
	if len(unknown) > 0 {
		known := r.librariesOf(context.Background(), unknown) // in the commit: not to be cut short
		for _, k := range unknown {
			if libs := known[k.Filename]; libs != nil {
				links = append(links, repodb.Links{Name: k.Name, Version: k.Version, Libraries: libs.Links()})
			}
		}
	}
	return repodb.WriteLinks(loc, links)
}

// syncLinks makes the links database, when there is one, list exactly the
// packages of entries (the database on disk), after recovery: a change
// interrupted between the links database's write and the databases'
// leaves it a change ahead, which a roll-back does not undo by itself.
// The links of the entries it lists are kept; the others come from the
// cache or the files.
func (r *Repo) syncLinks(entries []repodb.Entry) error {
	loc := r.opts.DB
	old, err := repodb.ReadLinks(loc.LinksPath())
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	same := err == nil && len(old) == len(entries)
	for i := 0; same && i < len(entries); i++ {
		_, same = old[entries[i].Name+"-"+entries[i].Version]
	}
	if same {
		return nil
	}
	c := &change{removed: map[string]bool{}, upserts: map[string]*repodb.Entry{}}
	for i := range entries {
		c.keys = append(c.keys, repodb.KeyOf(&entries[i]))
	}
	if err := r.writeLinks(c); err != nil {
		return fmt.Errorf("rewrite the links database: %w", err)
	}
	return nil
}

// librariesOf returns the libraries of the registered files of keys, by
// file name: from the verification cache when it vouches for the file,
// else from a read of the file (recorded in the cache). A file that
// cannot be read, or no longer holds its entry's content, has none.
func (r *Repo) librariesOf(ctx context.Context, keys []repodb.Key) map[string]*pkgfile.Libraries {
	want := map[string]bool{}
	for _, k := range keys {
		want[k.Filename] = true
	}
	cache := r.loadCache(func(filename string) bool { return want[filename] })
	out := map[string]*pkgfile.Libraries{}
	bySHA := map[string]string{} // file name -> the SHA-256 its entry registers
	var toRead []string
	for _, k := range keys {
		if rec, ok := cache.Files[k.Filename]; ok && rec.Libs != nil {
			if _, trusted := cache.trusted(r.dir(), k.Filename, k.CSize, k.SHA256Sum); trusted {
				out[k.Filename] = rec.Libs
				continue
			}
		}
		toRead = append(toRead, k.Filename)
		bySHA[k.Filename] = k.SHA256Sum
	}
	if len(toRead) == 0 {
		return out
	}
	read, _ := r.readPackages(ctx, toRead)
	changed := false
	for _, f := range read {
		if f.SHA256 != bySHA[f.Filename] {
			continue
		}
		out[f.Filename] = f.libs
		if id, err := fsutil.StatID(filepath.Join(r.dir(), f.Filename)); err == nil && id == f.id {
			rec := cache.Files[f.Filename]
			if rec.SHA256 != f.SHA256 {
				rec = cacheRecord{}
			}
			rec.ID, rec.SHA256, rec.Libs = id, f.SHA256, f.libs
			cache.Files[f.Filename] = rec
			changed = true
		}
	}
	if changed {
		r.saveCache(cache)
	}
	return out
}
