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
// db finds a links database at least as new. Over a links database its
// index describes, only the chunks around the packages the change touches
// are written anew (writeLinksChanges); else it is written whole. The
// libraries of an entry come from its read (registered now), else from
// the links database on disk (its NAME-VERSION unchanged), else from the
// verification cache or a read of its file (librariesOf). An entry whose
// file cannot be read is left out: the links database is derived data.
func (r *Repo) writeLinks(c *change) error {
	loc := r.opts.DB
	if lix := repodb.ReadLinksIndex(loc); lix != nil {
		err := r.writeLinksChanges(c, lix)
		if !errors.Is(err, repodb.ErrNotIncremental) {
			return err
		}
	}
	old, err := repodb.ReadLinks(loc.LinksPath())
	if err != nil {
		old = nil // none yet, or damaged: made again from the packages
	}
	var links []repodb.Links
	listed := func(k repodb.Key) bool {
		l, ok := old[k.Name+"-"+k.Version]
		if ok {
			links = append(links, repodb.Links{Name: k.Name, Version: k.Version, Libraries: l})
		}
		return ok
	}
	found, _ := r.linksAfter(c, listed)
	return repodb.WriteLinks(loc, append(links, found...))
}

// writeLinksChanges writes the links database lix describes with the
// links that change after c: those of the entries it registers anew (read
// now, or from the cache) and the packages it drops. The links of the
// entries the links database lists at their version are not looked up:
// they stay in the frames copied. A change that changes no package's
// links (a new signature, say) leaves the file as it is.
func (r *Repo) writeLinksChanges(c *change, lix *repodb.LinksIndex) error {
	listed := lix.Packages()
	upserts, registered := r.linksAfter(c, func(k repodb.Key) bool {
		v, ok := listed[k.Name]
		return ok && v == k.Version
	})
	var removed []string
	upserted := map[string]bool{}
	for _, l := range upserts {
		upserted[l.Name] = true
	}
	for name := range listed {
		if !upserted[name] && !registered[name] {
			removed = append(removed, name)
		}
	}
	if len(upserts) == 0 && len(removed) == 0 {
		return nil
	}
	return repodb.WriteLinksChanges(r.opts.DB, lix, upserts, removed)
}

// linksAfter are the links of the entries registered after c that the
// links database on disk is not to give, and the names of those it gives
// (listed tells whether it lists an entry's NAME-VERSION, and keeps its
// links when it does). An entry's links come from its read in this
// change, else from the links database on disk, else from the cache or
// its file; one whose file cannot be read is left out.
func (r *Repo) linksAfter(c *change, listed func(k repodb.Key) bool) (links []repodb.Links, kept map[string]bool) {
	libsByFile := map[string]*pkgfile.Libraries{}
	for _, f := range c.registered {
		if f.libs != nil {
			libsByFile[f.Filename] = f.libs
		}
	}
	kept = map[string]bool{}
	var unknown []repodb.Key
	add := func(k repodb.Key) {
		switch libs := libsByFile[k.Filename]; {
		case libs != nil:
			links = append(links, repodb.Links{Name: k.Name, Version: k.Version, Libraries: libs.Links()})
		case listed(k):
			kept[k.Name] = true
		default:
			unknown = append(unknown, k)
		}
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
		found := r.librariesOf(context.Background(), unknown) // in the commit: not to be cut short
		for _, k := range unknown {
			if libs := found[k.Filename]; libs != nil {
				links = append(links, repodb.Links{Name: k.Name, Version: k.Version, Libraries: libs.Links()})
			}
		}
	}
	return links, kept
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
