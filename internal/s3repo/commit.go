package s3repo

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/pacrepo/pacrepo/internal/fsutil"
	"github.com/pacrepo/pacrepo/internal/objstore"
	"github.com/pacrepo/pacrepo/internal/pkgfile"
	"github.com/pacrepo/pacrepo/internal/repo"
	"github.com/pacrepo/pacrepo/internal/repodb"
	"github.com/pacrepo/pacrepo/internal/signature"
)

// AddOptions tune Add.
type AddOptions struct {
	DryRun bool
	// Force allows a plan that retires or unregisters most of the
	// repository (the safety valve of every store).
	Force bool
	// PreventDowngrade leaves out files older than the registered version.
	PreventDowngrade bool
	// OnlyNew leaves out files of names registered already.
	OnlyNew bool
	// EmbedSignatures writes each package's .sig into its entry.
	EmbedSignatures bool
	// RequireSignature refuses a package without its .sig (as
	// Options.Signatures.Require does for every command).
	RequireSignature bool
}

// upload is one package file being published.
type upload struct {
	src   string // local path
	key   string // its object
	entry repodb.Entry
	sig   []byte // its .sig, nil when there is none
	// libs are the libraries its ELF files provide and need, nil when
	// it was not read (publish: read when registered).
	libs *pkgfile.Libraries
}

// Add publishes package files: each is read and verified completely,
// uploaded (written once), and registered by one commit. A file whose name
// is registered already replaces that entry (the old package object stays
// until gc). A lost race is retried against the new state.
func (r *Repo) Add(ctx context.Context, files []string, o AddOptions) (*repo.Result, error) {
	var ups []upload
	var problems []repo.Problem
	for _, f := range files {
		u, prob := r.readUpload(f, o)
		if prob != nil {
			problems = append(problems, *prob)
			continue
		}
		ups = append(ups, u)
	}
	if len(problems) > 0 {
		return &repo.Result{Plan: &repo.Plan{Problems: problems}}, &repo.UnreadableFilesError{Problems: problems}
	}
	if seen := map[string]string{}; true {
		for _, u := range ups {
			if other, ok := seen[u.entry.Name]; ok {
				return nil, fmt.Errorf("%s and %s are both package %s: add one of them", other, u.src, u.entry.Name)
			}
			seen[u.entry.Name] = u.src
		}
	}
	ao := repo.AddOptions{OnlyNew: o.OnlyNew, PreventDowngrade: o.PreventDowngrade,
		Request: repo.Request{DryRun: o.DryRun, Force: o.Force, EmbedSignatures: o.EmbedSignatures}}
	plan := func(st *state) (*planned, error) {
		bs := registeredSnapshot(st, o.EmbedSignatures)
		var added []repo.AddedFile
		for i := range ups {
			u := &ups[i]
			f := snapshotFile(&u.entry, u.sig != nil, u.entry.PGPSig)
			bs.entries[f.Filename], bs.files[f.Filename] = &u.entry, f
			bs.libs[f.Filename] = u.libs
			added = append(added, repo.AddedFile{SnapshotFile: f, Source: u.src})
		}
		p, err := repo.PlanAdd(bs.snap, added, ao)
		return bs.planned(p), err
	}
	return r.change(ctx, o.DryRun, ups, plan)
}

// Remove unregisters packages by name and retires every object of theirs.
// The objects stay until gc, kept: candidates for nothing.
func (r *Repo) Remove(ctx context.Context, names []string, req repo.Request) (*repo.Result, error) {
	return r.changeScanned(ctx, req, scanOptions{embedSigs: req.EmbedSignatures, names: names}, func(s *repo.Snapshot) (*repo.Plan, error) {
		return repo.PlanRemove(s, names, req.Force)
	})
}

// planned is what a commit does: the plan, the entries it registers (by
// name; every ActUnregister drops its name), and the unregistered objects
// it retires.
type planned struct {
	plan    *repo.Plan
	upserts map[string]*repodb.Entry
	retired []keptObject
	// listed, when set, are the base names of every object of the
	// repository's prefix as the plan's scan listed them: a kept record
	// of an object not listed is forgotten.
	listed map[string]bool
	// found are the objects it registers that no entry registered: those
	// found in the bucket (update, reset), and the uploads of add.
	found []foundObject
	// libs are the libraries of the objects its scan read, by file name.
	libs map[string]*pkgfile.Libraries
}

// foundObject is a package object a plan registers that no entry
// registered.
type foundObject struct {
	file   string // its base name
	sha256 string
	hasSig bool
}

// planFunc decides a change against a state. A plan the safety valve
// refuses comes with its error.
type planFunc func(st *state) (*planned, error)

// change uploads ups, then plans and commits against the current state
// until a commit wins, then brings the names pacman reads up to it.
func (r *Repo) change(ctx context.Context, dryRun bool, ups []upload, plan planFunc) (*repo.Result, error) {
	if dryRun {
		st, err := r.read(ctx)
		if err != nil {
			return nil, err
		}
		if err := r.checkAlone(ctx, st.commit == nil); err != nil {
			return nil, err
		}
		p, err := plan(st)
		if p == nil {
			return nil, err
		}
		res := &repo.Result{Plan: p.plan, Created: st.commit == nil}
		if err != nil {
			return res, err
		}
		r.planSigning(st, p)
		// What the change would leave unmet, whether installable warns or
		// refuses: a dry run shows it.
		if res.Unsatisfiable, err = r.judgeChangeOf(ctx, st, p, ups, newLibraryReads()); err != nil {
			return res, fmt.Errorf("judge the change's dependencies: %w", err)
		}
		return res, nil
	}
	byName := map[string]*upload{}
	uploads := map[string]bool{} // by file name
	for i := range ups {
		byName[ups[i].entry.Name] = &ups[i]
		uploads[ups[i].entry.Filename] = true
	}
	// The databases of each attempt stay until its commit: a generation
	// object gc deleted meanwhile is written again from them.
	tmp, err := os.MkdirTemp("", "pacrepo-s3-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	uploaded := map[*upload][]*reference{}
	lr := newLibraryReads()
	for attempt := 0; ; attempt++ {
		st, err := r.read(ctx)
		if err != nil {
			return nil, err
		}
		if attempt == 0 {
			// Before the probe, which writes among the repository's own
			// objects.
			if err := r.checkAlone(ctx, st.commit == nil); err != nil {
				return nil, err
			}
			if err := r.ensureConditionalWrites(ctx); err != nil {
				return nil, err
			}
		}
		p, err := plan(st)
		if err == nil {
			r.planSigning(st, p)
		}
		if err != nil {
			var refused *repo.RefusedError
			if p != nil && errors.As(err, &refused) {
				return &repo.Result{Plan: p.plan, Created: st.commit == nil}, err
			}
			return nil, err
		}
		upserts := p.upserts
		res := &repo.Result{Plan: p.plan, Created: st.commit == nil}
		if !changes(p.plan.Actions) && st.commit != nil {
			return res, r.completeFixedNames(ctx, st.commit)
		}
		if err := r.keepsDatabaseSignature(st); err != nil {
			return res, err
		}
		// Judged before the uploads: a change refused at its first attempt
		// uploads nothing.
		entries, registeredFiles := entriesAfter(st, p)
		libs, err := r.librariesOf(ctx, entries, st.commit, p.libs, localSources(ups), lr)
		if err != nil {
			return nil, err
		}
		if res.Unsatisfiable, err = r.judgeChangeOf(ctx, st, p, ups, lr); err != nil {
			return res, fmt.Errorf("judge the change's dependencies: %w", err)
		}
		if len(res.Unsatisfiable) > 0 && r.opts.Installable == "refuse" {
			return &repo.Result{Plan: p.plan, Created: st.commit == nil}, &repo.UnsatisfiableError{Problems: res.Unsatisfiable}
		}
		// What this commit registers is uploaded before it: only that (a
		// skipped or unchanged package costs nothing), once for all
		// attempts (freshen writes again what needs it).
		var refs []*reference
		for name := range upserts {
			u := byName[name]
			if u == nil {
				continue
			}
			if uploaded[u] == nil {
				if uploaded[u], err = r.uploadPackage(ctx, u); err != nil {
					return nil, err
				}
			}
			refs = append(refs, uploaded[u]...)
		}
		gone := false
		for _, f := range p.found {
			if uploads[f.file] {
				continue
			}
			found, err := r.foundReferences(ctx, f)
			if errors.Is(err, objstore.ErrNotFound) {
				gone = true // gc took it since the scan: scan again
				break
			}
			if err != nil {
				return nil, err
			}
			refs = append(refs, found...)
		}
		if gone {
			continue
		}
		crashPoint("after-upload")
		dir, err := os.MkdirTemp(tmp, "attempt-")
		if err != nil {
			return nil, err
		}
		h, generation, err := r.writeGeneration(ctx, st, p, dir, entries, registeredFiles, libs)
		if err != nil {
			return nil, err
		}
		crashPoint("before-commit")
		refs = append(refs, generation...)
		if err := r.freshen(ctx, refs); errors.Is(err, objstore.ErrNotFound) {
			os.RemoveAll(dir)
			continue // an object found in the bucket is gone: scan again
		} else if err != nil {
			return nil, err
		}
		r.stamp(h, st)
		crashPoint("committing")
		_, err = r.bucket.CreateBytes(ctx, r.addr.commitKey(h.Generation), encodeRecord(h))
		if errors.Is(err, objstore.ErrPrecondition) {
			// Another publisher committed this generation since the read:
			// plan again on top of its commit.
			os.RemoveAll(dir)
			if attempt+1 >= r.opts.MaxAttempts {
				return nil, fmt.Errorf("commit to %s: other publishers won %d races in a row; try again", r.addr, attempt+1)
			}
			if err := backoff(ctx, attempt); err != nil {
				return nil, err
			}
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("commit to %s: %w", r.addr, err)
		}
		res.Applied = true
		if slices.ContainsFunc(refs, r.due) {
			if err := r.restore(ctx, refs); err != nil {
				return res, fmt.Errorf("committed, but what the commit references may be missing (the same change again writes it): %w", err)
			}
		}
		os.RemoveAll(dir)
		r.writeHint(ctx, h.Generation)
		crashPoint("after-commit")
		if err := r.completeFixedNames(ctx, h); err != nil {
			return res, fmt.Errorf("committed, but the names pacman reads still show the previous database (the next change or check --repair brings them up to date): %w", err)
		}
		return res, nil
	}
}

// keepsDatabaseSignature refuses a generation written unsigned after a
// signed one, unless the options drop the signature on purpose: the names
// pacman reads would lose their signatures with the next copy.
func (r *Repo) keepsDatabaseSignature(st *state) error {
	if r.opts.Sign != nil || r.opts.UnsignDatabase || st.commit == nil || !st.commit.Signed {
		return nil
	}
	return &repo.UnsignedDatabaseError{Path: r.addr.String()}
}

// reference is an object a commit is about to reference that its
// publisher wrote (or found written with the same content): how put left
// it, and how to write it again.
type reference struct {
	key   string
	wrote wrote
	write func(ctx context.Context) (wrote, error)
}

// written makes the reference of key, written by write.
func written(ctx context.Context, key string, write func(ctx context.Context) (wrote, error)) (*reference, error) {
	w, err := write(ctx)
	if err != nil {
		return nil, err
	}
	return &reference{key: key, wrote: w, write: write}, nil
}

// freshen sees to it, right before a commit, that gc cannot have taken
// any object the commit references and this publisher wrote for an
// orphan (invariant 3). gc deletes only what it finds older than the
// grace period, so an object this publisher wrote less than half the
// grace period ago is safe from a gc that looks at it now; an older one
// (the publisher stalled, lost races, or a loaded machine made every step
// slow) is written again. An object this put did not create (one found
// there, or written anew over an old one) may have been found old by a
// gc whose delete lands after this write, the one gap gc leaves between
// reading an object's time and deleting it: it is looked for, and written
// again when gone. What is written again is looked at once more, until a
// round writes nothing.
func (r *Repo) freshen(ctx context.Context, refs []*reference) error {
	for {
		again := false
		for _, ref := range refs {
			due := r.due(ref)
			if !due && !ref.wrote.created {
				_, err := r.bucket.Head(ctx, ref.key)
				if err != nil && !errors.Is(err, objstore.ErrNotFound) {
					return err
				}
				due = err != nil
			}
			if !due {
				continue
			}
			w, err := ref.write(ctx)
			if err != nil {
				return err
			}
			ref.wrote, again = w, true
		}
		if !again {
			return nil
		}
	}
}

// stamp dates commit h, about to be created on top of st, as late as its
// publisher can: right before the create. The time is when st's
// generation stops being current, from which gc keeps what that
// generation names for the grace period (the names pacman reads still
// show it until the copies after the commit): dated when the databases
// were written, seconds earlier on a loaded machine, gc took what they
// named too soon. A publisher whose clock is behind the previous one's
// does not date its commit earlier: lastupdate, made of it, never goes
// backwards.
func (r *Repo) stamp(h *commit, st *state) {
	h.Committed = r.opts.Now().UTC()
	if st.commit == nil {
		return
	}
	if h.Committed.Before(st.commit.Committed) {
		h.Committed = st.commit.Committed
	}
	// writeGeneration made st's generation the last of Recent.
	h.Recent[len(h.Recent)-1].At = h.Committed
}

// foundReferences are the references of an object a commit registers
// that this publisher found in the bucket (update, reset), and of its
// .sig before it: gc may take them for orphans as it takes an upload.
// objstore.ErrNotFound when one is gone.
func (r *Repo) foundReferences(ctx context.Context, f foundObject) ([]*reference, error) {
	key := r.addr.key(f.file)
	var refs []*reference
	if f.hasSig {
		ref, err := written(ctx, key+".sig", r.renewFound(key+".sig", ""))
		if err != nil {
			return nil, err
		}
		refs = append(refs, ref)
	}
	ref, err := written(ctx, key, r.renewFound(key, f.sha256))
	if err != nil {
		return nil, err
	}
	return append(refs, ref), nil
}

// renewFound is the write of an object found in the bucket, of SHA-256
// sum when given: left as it is while younger than half the grace period,
// written again with the content it has when older. objstore.ErrNotFound
// when it is gone.
func (r *Repo) renewFound(key, sum string) func(ctx context.Context) (wrote, error) {
	return func(ctx context.Context) (wrote, error) {
		obj, err := r.bucket.Head(ctx, key)
		if err != nil {
			return wrote{}, err
		}
		if r.opts.Now().Sub(obj.Modified) < r.opts.Grace/2 {
			return wrote{at: obj.Modified}, nil
		}
		tmp, err := os.MkdirTemp("", "pacrepo-s3-")
		if err != nil {
			return wrote{}, err
		}
		defer os.RemoveAll(tmp)
		path := filepath.Join(tmp, "object")
		if err := r.downloadTo(ctx, key, path); err != nil {
			return wrote{}, err
		}
		return r.putFile(ctx, path, key, sum)
	}
}

// due tells whether ref was written half the grace period ago or longer:
// a gc may find it older than the grace period before a commit that
// references it lands.
func (r *Repo) due(ref *reference) bool {
	return r.opts.Now().Sub(ref.wrote.at) >= r.opts.Grace/2
}

// restore writes again each of refs that is gone, after a commit whose
// record landed when one of them was due (the create took long since
// freshen looked): a gc that found an object old meanwhile, and no commit
// yet referencing it, may have deleted it. It runs before the names
// pacman reads show the commit.
func (r *Repo) restore(ctx context.Context, refs []*reference) error {
	for _, ref := range refs {
		_, err := r.bucket.Head(ctx, ref.key)
		if errors.Is(err, objstore.ErrNotFound) {
			_, err = ref.write(ctx)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// planSigning adds the sign action (repo.PlanSigning) when the databases
// are to be signed and the current generation is unsigned. (Which key
// signed a generation is not told apart here.)
func (r *Repo) planSigning(st *state, p *planned) {
	if r.opts.Sign != nil && st.commit != nil && !st.commit.Signed {
		repo.PlanSigning(p.plan, r.addr.Name+".db"+r.addr.Ext, repo.NotSigned)
	}
}

// changes tells whether acts change the database.
func changes(acts []repo.Action) bool {
	return slices.ContainsFunc(acts, func(a repo.Action) bool { return a.Kind != repo.ActSkip })
}

// uploadPackage writes a package object, and its .sig before it, and
// returns their references.
func (r *Repo) uploadPackage(ctx context.Context, u *upload) ([]*reference, error) {
	var refs []*reference
	if u.sig != nil {
		ref, err := written(ctx, u.key+".sig", func(ctx context.Context) (wrote, error) {
			w, err := r.putBytes(ctx, u.sig, u.key+".sig")
			var ce *CollisionError
			if errors.As(err, &ce) {
				ce.Source = u.src + ".sig"
			}
			return w, err
		})
		if err != nil {
			return nil, err
		}
		refs = append(refs, ref)
	}
	ref, err := written(ctx, u.key, func(ctx context.Context) (wrote, error) {
		return r.putFile(ctx, u.src, u.key, u.entry.SHA256Sum)
	})
	if err != nil {
		return nil, err
	}
	return append(refs, ref), nil
}

// writeGeneration writes the databases of st changed by p in dir and
// under names made of their content, and returns the commit record that
// would make them current and the references of their objects.
func (r *Repo) writeGeneration(ctx context.Context, st *state, p *planned, dir string, entries []repodb.Entry,
	kept map[string]bool, libs map[string]*pkgfile.Libraries) (*commit, []*reference, error) {
	loc := repodb.Location{Dir: dir, Name: r.addr.Name, Ext: r.addr.Ext}
	wo := repodb.WriteOptions{PGPSig: true, Sign: r.opts.Sign}
	if err := repodb.Write(loc, entries, wo); err != nil {
		return nil, nil, fmt.Errorf("write the databases of %s: %w", r.addr, err)
	}
	// Dated again right before the create (stamp).
	h := &commit{Version: recordVersion, Generation: 1, Committed: r.opts.Now().UTC(), Signed: r.opts.Sign != nil}
	var refs []*reference
	if st.commit != nil {
		h.Generation = st.commit.Generation + 1
		// A publisher whose clock is behind the previous one's does not
		// date its commit earlier: lastupdate, made of it, never goes
		// backwards.
		if h.Committed.Before(st.commit.Committed) {
			h.Committed = st.commit.Committed
		}
	}
	linksPath, librariesPath, err := r.writeLinksFiles(dir, entries, libs)
	if err != nil {
		return nil, nil, err
	}
	for _, f := range []struct {
		path    string
		key, sm *string
		signed  bool
	}{
		{linksPath, &h.Links, &h.LinksSHA, false}, {librariesPath, &h.Libraries, &h.LibrariesSHA, false},
		{loc.FilesPath(), &h.Files, &h.FilesSHA, r.opts.Sign != nil}, {loc.DBPath(), &h.DB, &h.DBSHA256, r.opts.Sign != nil},
	} {
		sum, _, err := fsutil.HashFile(f.path)
		if err != nil {
			return nil, nil, err
		}
		*f.key = r.addr.generationPrefix() + sum[:32] + "-" + filepath.Base(f.path)
		*f.sm = sum
		dbRefs, err := r.putGenerationDatabase(ctx, f.path, *f.key, f.signed)
		if err != nil {
			return nil, nil, err
		}
		refs = append(refs, dbRefs...)
	}
	if st.commit != nil {
		var retired []string
		for _, e := range st.entries {
			if !kept[e.Filename] {
				retired = append(retired, e.Filename)
			}
		}
		h.Recent = append(r.recent(st.commit.Recent), superseded{At: h.Committed, DB: st.commit.DB, Files: st.commit.Files,
			Signed: st.commit.Signed, Retired: retired})
	}
	h.Kept = r.pruneKept(ctx, keptAfter(st, p, kept, h.Committed))
	h.Change = r.changeOf(st, p, kept)
	return h, refs, nil
}

// entriesAfter are the entries of the commit of p on top of st, and the
// files they register.
func entriesAfter(st *state, p *planned) ([]repodb.Entry, map[string]bool) {
	dropped := map[string]bool{}
	for _, a := range p.plan.Actions {
		if a.Kind == repo.ActUnregister {
			dropped[a.Name] = true
		}
	}
	var entries []repodb.Entry
	registered := map[string]bool{}
	for _, e := range st.entries {
		if !dropped[e.Name] && p.upserts[e.Name] == nil {
			entries = append(entries, e)
			registered[e.Filename] = true
		}
	}
	for _, e := range sortedEntries(p.upserts) {
		entries = append(entries, *e)
		registered[e.Filename] = true
	}
	return entries, registered
}

// localSources are the local files of ups, by the file name they are
// published under.
func localSources(ups []upload) map[string]string {
	m := make(map[string]string, len(ups))
	for _, u := range ups {
		m[u.entry.Filename] = u.src
	}
	return m
}

// keptAfter is the kept list of the commit of p on top of st, made at
// now: what st's commit kept, what p unregisters or retires, less what
// the new entries (registeredFiles) register and, when p's scan listed
// the bucket, what is gone.
func keptAfter(st *state, p *planned, registeredFiles map[string]bool, now time.Time) []keptObject {
	byFile := st.kept()
	for i := range st.entries {
		if e := &st.entries[i]; !registeredFiles[e.Filename] {
			k := keptOf(e)
			k.At = now
			byFile[e.Filename] = k
		}
	}
	for _, k := range p.retired {
		k.At = now
		byFile[k.Filename] = k
	}
	var out []keptObject
	for f, k := range byFile {
		if registeredFiles[f] || (p.listed != nil && !p.listed[f]) {
			continue
		}
		out = append(out, k)
	}
	slices.SortFunc(out, func(a, b keptObject) int { return strings.Compare(a.Filename, b.Filename) })
	return out
}

// keptChecks is how many objects kept longer than the grace period a
// commit looks for.
const keptChecks = 4

// pruneKept forgets the objects kept longer than the grace period that
// gc has deleted, looking for the keptChecks longest kept: a farm that
// only adds (no listing) keeps a bounded record while gc runs, at the
// price of a few requests per commit. An object still there is looked
// for again a grace period later.
func (r *Repo) pruneKept(ctx context.Context, kept []keptObject) []keptObject {
	cutoff := r.opts.Now().Add(-r.opts.Grace)
	var old []int
	for i, k := range kept {
		if k.At.Before(cutoff) {
			old = append(old, i)
		}
	}
	slices.SortFunc(old, func(a, b int) int { return kept[a].At.Compare(kept[b].At) })
	gone := map[int]bool{}
	for _, i := range old[:min(len(old), keptChecks)] {
		_, err := r.bucket.Head(ctx, r.addr.key(kept[i].Filename))
		switch {
		case errors.Is(err, objstore.ErrNotFound):
			gone[i] = true
		case err == nil:
			kept[i].At = r.opts.Now().UTC()
		}
	}
	out := kept[:0]
	for i, k := range kept {
		if !gone[i] {
			out = append(out, k)
		}
	}
	return out
}

// putGenerationDatabase writes the database at path under key, a name
// made of its content, and its signature (path.sig) before it when signed,
// and returns their references.
//
// A database can come back to a content it had (add a package, remove it
// again): its key exists then, with the signature made of that content the
// first time, and it stays for the grace period. A signature made again
// differs (it carries the time it was made) but vouches for the same bytes,
// so the signature there is kept and reused with its database rather than
// taken for a collision: the database and the signature under one key are
// a pair that belongs together. The same holds when two publishers write
// the same content at once.
func (r *Repo) putGenerationDatabase(ctx context.Context, path, key string, signed bool) ([]*reference, error) {
	var refs []*reference
	if signed {
		sig, err := os.ReadFile(path + ".sig")
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", path+".sig", err)
		}
		ref, err := written(ctx, key+".sig", func(ctx context.Context) (wrote, error) {
			w, err := r.putBytes(ctx, sig, key+".sig")
			if errors.As(err, new(*CollisionError)) {
				return r.reuseSignature(ctx, key+".sig")
			}
			return w, err
		})
		if err != nil {
			return nil, err
		}
		refs = append(refs, ref)
	}
	ref, err := written(ctx, key, func(ctx context.Context) (wrote, error) {
		return r.putFile(ctx, path, key, "")
	})
	if err != nil {
		return nil, err
	}
	return append(refs, ref), nil
}

// maxSignatureSize bounds what is read as a database's signature.
const maxSignatureSize = 64 << 10

// reuseSignature keeps the signature at key, made earlier of the same
// database content, for a commit about to reference it: put renews it when
// it is old, as it renews any object written again.
func (r *Repo) reuseSignature(ctx context.Context, key string) (wrote, error) {
	body, _, err := r.bucket.Get(ctx, key)
	if err != nil {
		return wrote{}, err
	}
	defer body.Close()
	sig, err := io.ReadAll(io.LimitReader(body, maxSignatureSize+1))
	if err != nil {
		return wrote{}, fmt.Errorf("read %s: %w", r.addr.URL(key), err)
	}
	if len(sig) > maxSignatureSize {
		return wrote{}, &DamagedError{URL: r.addr.URL(key), Err: errors.New("larger than a signature can be")}
	}
	return r.putBytes(ctx, sig, key)
}

// recent keeps what was superseded within the grace period.
func (r *Repo) recent(list []superseded) []superseded {
	cutoff := r.opts.Now().Add(-r.opts.Grace)
	var out []superseded
	for _, s := range list {
		if s.At.After(cutoff) {
			out = append(out, s)
		}
	}
	return out
}

// completeFixedNames copies the newest generation to the names pacman
// reads when they show another one: the files database first, then the
// db, then lastupdate. Another publisher may commit meanwhile, and a
// publisher's copy of an older generation may land after a newer one: the
// copies are repeated until no commit happened across them, so whoever
// copies last sees to it that the names show the newest commit.
//
// When commits keep outrunning the copies, it stops: each of those commits
// has a publisher that runs this after it, and the last one meets no newer
// commit. (A publisher killed in between leaves the names behind until the
// next change or check --repair, the window the README describes.)
//
// newest, when set, is the newest commit as just made or read: the first
// round starts from it without reading it again.
func (r *Repo) completeFixedNames(ctx context.Context, newest *commit) error {
	for range maxCopyRounds {
		h, err := newest, error(nil)
		if h == nil {
			h, err = r.readLatest(ctx)
		}
		newest = nil
		if err != nil || h == nil {
			return err
		}
		if err := r.copyGeneration(ctx, h); err != nil {
			return err
		}
		again, err := r.readLatest(ctx)
		if err != nil {
			return err
		}
		if again.Generation == h.Generation {
			return nil
		}
	}
	return nil
}

// maxCopyRounds bounds completeFixedNames when commits keep coming.
const maxCopyRounds = 10

// copyGeneration makes the fixed names show generation h: each database
// and its signature as a pair. A name is left alone only when both the
// database and the signature (or its absence, unsigned) are h's: another
// publisher's copies interleaving with these may have left the database of
// one generation beside the signature of another, which pacman refuses.
func (r *Repo) copyGeneration(ctx context.Context, h *commit) error {
	// The links database first, as a directory writes it before the
	// databases: whoever sees the new db finds one at least as new.
	if h.Links != "" {
		obj, err := r.bucket.Head(ctx, r.addr.linksName())
		if err != nil && !errors.Is(err, objstore.ErrNotFound) {
			return err
		}
		if err != nil || obj.SHA256 != h.LinksSHA {
			if err := r.bucket.Copy(ctx, h.Links, r.addr.linksName()); err != nil {
				return err
			}
		}
	}
	files, db := r.addr.fixedNames()
	for _, step := range []struct {
		src   string
		sum   string
		names []string
	}{{h.Files, h.FilesSHA, files}, {h.DB, h.DBSHA256, db}} {
		sigSum, err := r.generationSignatureSum(ctx, h, step.src)
		if err != nil {
			return err
		}
		for _, name := range step.names {
			shown, err := r.showsPair(ctx, name, step.sum, sigSum)
			if err != nil {
				return err
			}
			if shown {
				continue
			}
			if h.Signed {
				if err := r.bucket.Copy(ctx, step.src+".sig", name+".sig"); err != nil {
					return err
				}
			}
			if err := r.bucket.Copy(ctx, step.src, name); err != nil {
				return err
			}
			if !h.Signed {
				// A signature of an earlier, signed database is stale.
				if err := r.bucket.Delete(ctx, name+".sig"); err != nil {
					return err
				}
			}
		}
	}
	return r.writeLastUpdate(ctx, h)
}

// generationSignatureSum is the SHA-256 of the signature of the database
// key of generation h; "" when h is not signed.
func (r *Repo) generationSignatureSum(ctx context.Context, h *commit, key string) (string, error) {
	if !h.Signed {
		return "", nil
	}
	obj, err := r.bucket.Head(ctx, key+".sig")
	if errors.Is(err, objstore.ErrNotFound) {
		return "", &DamagedError{URL: r.addr.URL(key + ".sig"), Err: fmt.Errorf("the signature of the database of generation %d is missing", h.Generation)}
	}
	return obj.SHA256, err
}

// showsPair tells whether the fixed name holds the database of SHA-256
// sum and, beside it, the signature of SHA-256 sigSum (none when sigSum is
// "").
func (r *Repo) showsPair(ctx context.Context, name, sum, sigSum string) (bool, error) {
	obj, err := r.bucket.Head(ctx, name)
	if errors.Is(err, objstore.ErrNotFound) {
		return false, nil
	}
	if err != nil || obj.SHA256 != sum {
		return false, err
	}
	sig, err := r.bucket.Head(ctx, name+".sig")
	switch {
	case errors.Is(err, objstore.ErrNotFound):
		return sigSum == "", nil
	case err != nil:
		return false, err
	}
	return sigSum != "" && sig.SHA256 == sigSum, nil
}

// writeLastUpdate writes lastupdate, which mirrors poll to see a change:
// the time generation h was committed, in seconds since the epoch. It
// never goes backwards: commit times do not (writeGeneration), and a
// publisher copying an older generation late leaves a newer time alone.
// The read and the write are not one step: a slow publisher's older time
// may still land after a newer one, but it then finds a newer commit than
// the one it copied (completeFixedNames) and copies again, lastupdate too.
func (r *Repo) writeLastUpdate(ctx context.Context, h *commit) error {
	if cur, ok := r.readLastUpdate(ctx); ok && cur >= h.Committed.Unix() {
		return nil
	}
	return r.bucket.Put(ctx, r.addr.lastUpdateKey(), fmt.Appendf(nil, "%d\n", h.Committed.Unix()))
}

// readLastUpdate is the time lastupdate holds; false when there is none
// that can be read.
func (r *Repo) readLastUpdate(ctx context.Context) (int64, bool) {
	return r.readNumber(ctx, r.addr.lastUpdateKey())
}

// readUpload reads and verifies one package file to publish.
func (r *Repo) readUpload(path string, o AddOptions) (upload, *repo.Problem) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return upload{}, &repo.Problem{Path: path, Err: err}
	}
	p, err := pkgfile.Read(abs, pkgfile.ReadOptions{Files: true})
	if err != nil {
		kind := pkgfile.KindOf(err)
		if kind == 0 {
			kind = pkgfile.Unreadable
		}
		return upload{}, &repo.Problem{Path: abs, Kind: kind, Err: err}
	}
	if err := repodb.CheckIdentity(p.Name, p.Version); err != nil {
		return upload{}, &repo.Problem{Path: abs, Kind: pkgfile.Corrupt, Err: fmt.Errorf(".PKGINFO: %w", err)}
	}
	// Under its canonical name whatever the file is called, as in a
	// directory: a name that says another package or version would stand
	// in the way of that one.
	name := p.CanonicalFilename()
	e := repodb.FromPackage(p)
	e.Filename = name
	libs := p.Libraries // a copy: the package read is let go
	u := upload{src: abs, key: r.addr.key(name), entry: e, libs: &libs}
	_, err = os.Lstat(abs + ".sig")
	hasSig := err == nil
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return upload{}, &repo.Problem{Path: abs + ".sig", Signature: signature.Malformed, Err: err}
	}
	policy := r.opts.Signatures
	policy.Require = policy.Require || o.RequireSignature
	sigField, prob := policy.Judge(abs, p.SHA256, hasSig)
	if prob != nil {
		return upload{}, prob
	}
	if hasSig {
		// The signature judged, in binary form, is what is published.
		if u.sig, err = base64.StdEncoding.DecodeString(sigField); err != nil {
			return upload{}, &repo.Problem{Path: abs + ".sig", Signature: signature.Malformed, Err: err}
		}
		if o.EmbedSignatures {
			u.entry.PGPSig = sigField
		}
	}
	if strings.ContainsAny(name, "\n\x00") {
		return upload{}, &repo.Problem{Path: abs, Kind: pkgfile.NotPackage, Err: errors.New("file name has a newline")}
	}
	return u, nil
}
