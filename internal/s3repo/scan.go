package s3repo

// The bucket is a store of the one planner (repo's engine.go): a scan
// lists the package objects, reads and verifies those it cannot trust,
// and hands a repo.Snapshot to the planner; the plan becomes a commit.
// No rule of what a command does is decided here.

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

	"github.com/pacrepo/pacrepo/internal/layout"
	"github.com/pacrepo/pacrepo/internal/objstore"
	"github.com/pacrepo/pacrepo/internal/pkgfile"
	"github.com/pacrepo/pacrepo/internal/repo"
	"github.com/pacrepo/pacrepo/internal/repodb"
	"github.com/pacrepo/pacrepo/internal/signature"
)

// bucketScan is a snapshot of the repository and what registering each of
// its files would write.
type bucketScan struct {
	snap *repo.Snapshot
	// entries are the entries the files would be registered with, by file
	// name (with their file lists).
	entries map[string]*repodb.Entry
	files   map[string]repo.SnapshotFile
	// libs are the libraries of the files read, by file name.
	libs map[string]*pkgfile.Libraries
	// listed says the bucket was listed (snap.Present is every object).
	listed bool
	// legacyKept are the file names an earlier pacrepo's commit retired;
	// retired are those found, for the next commit to record as kept.
	legacyKept []string
	retired    []keptObject
}

// snapshotFile is the verified file of entry e.
func snapshotFile(e *repodb.Entry, hasSig bool, sigField string) repo.SnapshotFile {
	return repo.SnapshotFile{Filename: e.Filename, Name: e.Name, Version: e.Version, CSize: e.CSize,
		SHA256: e.SHA256Sum, HasSig: hasSig, SigField: sigField}
}

// newBucketScan is an empty scan of st's entries.
func newBucketScan(st *state, embedSigs bool) *bucketScan {
	bs := &bucketScan{snap: &repo.Snapshot{Present: map[string]bool{}, Signatures: map[string]bool{}, EmbedSignatures: embedSigs},
		entries: map[string]*repodb.Entry{}, files: map[string]repo.SnapshotFile{}, libs: map[string]*pkgfile.Libraries{}}
	for i := range st.entries {
		bs.snap.Entries = append(bs.snap.Entries, repodb.KeyOf(&st.entries[i]))
	}
	return bs
}

// addFile adds a verified file and the entry registering it would write.
func (bs *bucketScan) addFile(f repo.SnapshotFile, e *repodb.Entry) {
	bs.snap.Files = append(bs.snap.Files, f)
	bs.files[f.Filename] = f
	bs.entries[f.Filename] = e
}

// registeredSnapshot is the scan of add, which does not list the bucket
// (publishing one package must not cost a listing): the registered
// objects, trusted as they were verified when registered.
func registeredSnapshot(st *state, embedSigs bool) *bucketScan {
	bs := newBucketScan(st, embedSigs)
	for i := range st.entries {
		e := &st.entries[i]
		bs.snap.Present[e.Filename] = true
		bs.addFile(snapshotFile(e, false, e.PGPSig), e)
	}
	return bs
}

// planned turns the planner's plan into what a commit does: a
// registration upserts the entry of its file, an unregistration drops the
// name, a retirement of an object no entry names records it as kept (the
// object stays until gc). nil for no plan.
func (bs *bucketScan) planned(p *repo.Plan) *planned {
	if p == nil {
		return nil
	}
	out := &planned{plan: p, upserts: map[string]*repodb.Entry{}, retired: slices.Clone(bs.retired), libs: bs.libs}
	if bs.listed {
		out.listed = bs.snap.Present
	}
	registered := map[string]bool{}
	for _, k := range bs.snap.Entries {
		registered[k.Filename] = true
	}
	for _, a := range p.Actions {
		switch a.Kind {
		case repo.ActNew, repo.ActUpgrade, repo.ActDowngrade, repo.ActRefresh:
			e := *bs.entries[a.File]
			e.PGPSig = ""
			if bs.snap.EmbedSignatures {
				e.PGPSig = bs.files[a.File].SigField
			}
			out.upserts[a.Name] = &e
			if f := bs.files[a.File]; !registered[a.File] {
				out.found = append(out.found, foundObject{file: a.File, sha256: f.SHA256, hasSig: f.HasSig})
			}
		case repo.ActRetire:
			if f, ok := bs.files[a.File]; ok && !registered[a.File] {
				out.retired = append(out.retired, keptObject{Filename: f.Filename, Name: f.Name, Version: f.Version,
					Size: f.CSize, SHA256: f.SHA256})
			}
		}
	}
	return out
}

// scanOptions choose how much a scan of the bucket trusts.
type scanOptions struct {
	embedSigs bool // the command writes %PGPSIG%: read each registered package's .sig
	// reverify reads and verifies again a registered object with a .sig
	// when there is a keyring (reset and check), as a directory's reset
	// and check read every file again.
	reverify bool
	// registeredOnly leaves the objects no entry names out (check).
	registeredOnly bool
	// names, when set, limits the scan to the objects named after these
	// packages (NAME-*), as a directory's scoped scan: remove retires
	// every object of a name, not the registered one alone.
	names []string
}

// readCache keeps what reading an object found, across the attempts of
// one change: an object is written once, so the same key, ETag and size
// (and the same of its .sig) are the same content.
type readCache map[string]objectRead

type objectRead struct {
	entry repodb.Entry
	file  repo.SnapshotFile
	prob  *repo.Problem
	libs  *pkgfile.Libraries
}

// scanBucket lists the repository's objects and builds the snapshot of
// st: a registered object that is unchanged since it was registered is
// trusted; every other package object is read completely and its
// signature judged by the repository's policy, as a directory's scan
// does. An object recorded as kept that still holds that content is a
// candidate for nothing.
func (r *Repo) scanBucket(ctx context.Context, st *state, so scanOptions, cache readCache) (*bucketScan, error) {
	prefix := r.addr.key("")
	var all []objstore.Object
	listings := []string{prefix}
	if len(so.names) > 0 {
		listings = nil
		for _, n := range so.names {
			listings = append(listings, prefix+n+"-")
		}
	}
	for _, l := range listings {
		objs, err := r.bucket.List(ctx, l)
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", r.addr.URL(l), err)
		}
		all = append(all, objs...)
	}
	bs := newBucketScan(st, so.embedSigs)
	bs.listed = len(so.names) == 0
	names := layout.Names{Repo: r.addr.Name}
	objects := map[string]objstore.Object{}
	var packages []string
	for _, o := range all {
		name := strings.TrimPrefix(o.Key, prefix)
		if strings.Contains(name, "/") {
			continue
		}
		bs.snap.Present[name] = true
		objects[name] = o
		switch names.Classify(name) {
		case layout.Package:
			packages = append(packages, name)
		case layout.Signature:
			bs.snap.Signatures[name] = true
		}
	}
	slices.Sort(packages)
	registered := map[string]*repodb.Entry{}
	for i := range st.entries {
		registered[st.entries[i].Filename] = &st.entries[i]
	}
	kept := st.kept()
	if st.commit != nil {
		// A commit of an earlier pacrepo records no kept objects, only
		// what each superseded generation within the grace period
		// retired: those are kept too, as they read (objects are written
		// once), and the next commit records them.
		for _, sup := range st.commit.Recent {
			for _, f := range sup.Retired {
				if _, ok := kept[f]; !ok {
					bs.legacyKept = append(bs.legacyKept, f)
				}
			}
		}
	}
	holds := func(name string, size int64, sha string) bool {
		k, ok := kept[name]
		return ok && registered[name] == nil && k.Size == size && k.SHA256 == sha
	}
	// unchanged tells whether object o still holds size bytes of SHA-256
	// sha. Update and status trust a listed object of the size it was
	// verified with, as a directory's scan trusts its verification cache
	// (an object is written once); reset and check want the SHA-256 it
	// was written with (the server checked it then), and read an object
	// without one.
	unchanged := func(o objstore.Object, size int64, sha string) bool {
		return o.Size == size && (!so.reverify || o.SHA256 == sha)
	}
	var tmp string
	defer func() {
		if tmp != "" {
			os.RemoveAll(tmp)
		}
	}()
	for _, name := range packages {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		o := objects[name]
		sigObj, hasSig := objects[name+".sig"]
		hasSig = hasSig && bs.snap.Signatures[name+".sig"]
		_, isKept := kept[name]
		if so.reverify && (registered[name] != nil || isKept) {
			// A listing has no metadata.
			head, err := r.bucket.Head(ctx, o.Key)
			if err != nil && !errors.Is(err, objstore.ErrNotFound) {
				return nil, fmt.Errorf("head %s: %w", r.addr.URL(o.Key), err)
			}
			o.SHA256 = head.SHA256
		}
		if e := registered[name]; e != nil && unchanged(o, e.CSize, e.SHA256Sum) &&
			!(so.reverify && hasSig && r.opts.Signatures.Keyring != nil) {
			f, prob := r.trustRegistered(ctx, e, hasSig, so.embedSigs || (so.registeredOnly && e.PGPSig != ""))
			if prob != nil {
				bs.snap.Problems = append(bs.snap.Problems, *prob)
			}
			bs.addFile(f, e)
			continue
		}
		if so.registeredOnly && registered[name] == nil {
			continue
		}
		if k, ok := kept[name]; ok && registered[name] == nil && unchanged(o, k.Size, k.SHA256) {
			bs.snap.Kept = append(bs.snap.Kept, repo.SnapshotFile{Filename: name, Name: k.Name,
				Version: k.Version, CSize: k.Size, SHA256: k.SHA256})
			continue
		}
		id := name + "\x00" + o.ETag + "\x00" + fmt.Sprint(o.Size)
		if hasSig {
			id += "\x00" + sigObj.ETag + "\x00" + fmt.Sprint(sigObj.Size)
		}
		rd, ok := cache[id]
		if !ok {
			if tmp == "" {
				var err error
				if tmp, err = os.MkdirTemp("", "pacrepo-s3-"); err != nil {
					return nil, err
				}
			}
			rd = r.readObject(ctx, tmp, name, o, hasSig)
			if cache != nil {
				cache[id] = rd
			}
		}
		if rd.file.Filename != "" && registered[name] == nil && slices.Contains(bs.legacyKept, name) {
			bs.snap.Kept = append(bs.snap.Kept, rd.file)
			bs.retired = append(bs.retired, keptObject{Filename: name, Name: rd.file.Name, Version: rd.file.Version,
				Size: rd.file.CSize, SHA256: rd.file.SHA256})
			continue
		}
		if rd.file.Filename != "" && holds(name, rd.file.CSize, rd.file.SHA256) {
			// Kept, whatever its signature: it takes part in nothing.
			bs.snap.Kept = append(bs.snap.Kept, rd.file)
			continue
		}
		if rd.prob != nil {
			bs.snap.Problems = append(bs.snap.Problems, *rd.prob)
			// A package whose signature does not vouch for it is no
			// candidate; a registered one keeps its entry.
			if rd.file.Filename == "" || registered[name] == nil {
				continue
			}
		}
		e := rd.entry
		bs.addFile(rd.file, &e)
		bs.libs[name] = rd.libs
	}
	slices.SortFunc(bs.snap.Problems, func(a, b repo.Problem) int { return strings.Compare(a.Path, b.Path) })
	return bs, nil
}

// trustRegistered is the verified file of the registered entry e, whose
// object is unchanged since it was registered: its signature is not
// verified again (it was when registered), but one that is required and
// missing is a problem (the entry stays), and with readSig its .sig is
// read (for the %PGPSIG% an entry embeds).
func (r *Repo) trustRegistered(ctx context.Context, e *repodb.Entry, hasSig, readSig bool) (repo.SnapshotFile, *repo.Problem) {
	f := snapshotFile(e, hasSig, "")
	url := r.addr.URL(r.addr.key(e.Filename))
	switch {
	case !hasSig && r.opts.Signatures.Require:
		return f, &repo.Problem{Path: url, Kind: pkgfile.Incomplete, Signature: signature.Missing, Err: repo.ErrUnsigned}
	case !hasSig || !readSig:
		return f, nil
	}
	sig, err := r.readSignature(ctx, r.addr.key(e.Filename)+".sig")
	if err != nil {
		return f, &repo.Problem{Path: url + ".sig", Signature: signature.Malformed, Err: err}
	}
	f.SigField = sig
	return f, nil
}

// readSignature is the %PGPSIG% value of the signature object key.
func (r *Repo) readSignature(ctx context.Context, key string) (string, error) {
	body, _, err := r.bucket.Get(ctx, key)
	if err != nil {
		return "", err
	}
	defer body.Close()
	b, err := io.ReadAll(io.LimitReader(body, 4*signature.MaxSize+1))
	if err != nil {
		return "", fmt.Errorf("read %s: %w", r.addr.URL(key), err)
	}
	sig, err := signature.Decode(b)
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(sig), nil
}

// readObject reads the package object name completely, as add reads a
// file (archive, .PKGINFO, file list, size and SHA-256), and judges its
// signature (its .sig object, when hasSig) by the repository's policy, in
// the directory tmp. A package that cannot be read has a problem and no
// file; one whose signature does not vouch for it has both.
func (r *Repo) readObject(ctx context.Context, tmp, name string, o objstore.Object, hasSig bool) objectRead {
	url := r.addr.URL(o.Key)
	path := filepath.Join(tmp, name)
	defer os.Remove(path)
	defer os.Remove(path + ".sig")
	unreadable := func(err error) objectRead {
		return objectRead{prob: &repo.Problem{Path: url, Kind: pkgfile.Unreadable, Err: err}}
	}
	if err := r.downloadTo(ctx, o.Key, path); err != nil {
		return unreadable(err)
	}
	p, err := pkgfile.Read(path, pkgfile.ReadOptions{Files: true})
	if err != nil {
		kind := pkgfile.KindOf(err)
		// An object is whole once it is visible: what cannot be read is
		// damaged, not still being written.
		if kind == 0 || kind == pkgfile.Incomplete {
			kind = pkgfile.Corrupt
		}
		// The reason, without the temporary file's name.
		var pe *pkgfile.Error
		if errors.As(err, &pe) && pe.Err != nil {
			err = pe.Err
		}
		return objectRead{prob: &repo.Problem{Path: url, Kind: kind, Err: err}}
	}
	if err := repodb.CheckIdentity(p.Name, p.Version); err != nil {
		return objectRead{prob: &repo.Problem{Path: url, Kind: pkgfile.Corrupt, Err: fmt.Errorf(".PKGINFO: %w", err)}}
	}
	e := repodb.FromPackage(p)
	e.Filename = name
	if hasSig {
		if err := r.downloadTo(ctx, o.Key+".sig", path+".sig"); err != nil {
			return unreadable(err)
		}
	}
	sigField, prob := r.opts.Signatures.Judge(path, p.SHA256, hasSig)
	if prob != nil {
		prob.Path = strings.Replace(prob.Path, path, url, 1)
		var se *signature.Error
		if errors.As(prob.Err, &se) {
			se.Path = strings.Replace(se.Path, path, url, 1)
		}
	}
	libs := p.Libraries // a copy: the package read is let go
	return objectRead{entry: e, file: snapshotFile(&e, hasSig, sigField), prob: prob, libs: &libs}
}

// downloadTo copies the object key to the new file path.
func (r *Repo) downloadTo(ctx context.Context, key, path string) error {
	body, _, err := r.bucket.Get(ctx, key)
	if err != nil {
		return err
	}
	defer body.Close()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, body)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", r.addr.URL(key), err)
	}
	return nil
}

// changeScanned is a change planned by plan against a scan of the bucket
// made for each attempt (objects read once for all of them).
func (r *Repo) changeScanned(ctx context.Context, req repo.Request, so scanOptions, plan func(*repo.Snapshot) (*repo.Plan, error)) (*repo.Result, error) {
	cache := readCache{}
	return r.change(ctx, req.DryRun, nil, func(st *state) (*planned, error) {
		bs, err := r.scanBucket(ctx, st, so, cache)
		if err != nil {
			return nil, err
		}
		p, err := plan(bs.snap)
		return bs.planned(p), err
	})
}

// Update brings the registered entries in line with the package objects
// in the bucket for the named packages (every name when none is given),
// by the planner's rules, as update does in a directory: packages
// uploaded by other means, or by a publisher killed before its commit,
// are registered; entries whose object is gone are unregistered. Objects
// that cannot be used are problems, reported and left alone.
func (r *Repo) Update(ctx context.Context, names []string, req repo.Request) (*repo.Result, error) {
	return r.changeScanned(ctx, req, scanOptions{embedSigs: req.EmbedSignatures}, func(s *repo.Snapshot) (*repo.Plan, error) {
		return repo.PlanUpdate(s, names, req.Force)
	})
}

// Reset rebuilds the database from the package objects in the bucket, by
// the planner's rules of reset.
func (r *Repo) Reset(ctx context.Context, req repo.Request) (*repo.Result, error) {
	return r.changeScanned(ctx, req, scanOptions{embedSigs: req.EmbedSignatures, reverify: true}, func(s *repo.Snapshot) (*repo.Plan, error) {
		return repo.PlanReset(s, req.Force)
	})
}
