package repo

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/pacrepo/pacrepo/internal/fsutil"
	"github.com/pacrepo/pacrepo/internal/layout"
	"github.com/pacrepo/pacrepo/internal/pkgfile"
	"github.com/pacrepo/pacrepo/internal/repodb"
	"github.com/pacrepo/pacrepo/internal/signature"
	"github.com/pacrepo/pacrepo/internal/version"
)

// State scans database and directory without taking the lock.
func (r *Repo) State(ctx context.Context, req Request) (*State, error) {
	s, db, err := r.scan(ctx, scanFor(req))
	if err != nil {
		return nil, err
	}
	if err := r.requireDatabase(db); err != nil {
		return nil, err
	}
	st := s.state()
	var refused *RefusedError
	if st.Pending, err = planUpdate(s, nil, planOptions{Force: req.Force}); err != nil && !errors.As(err, &refused) {
		return nil, err
	}
	return st, nil
}

// Status is the plan Update(names) would apply now. A plan the safety valve
// refuses is returned together with the *RefusedError.
func (r *Repo) Status(ctx context.Context, names []string, req Request) (*Plan, error) {
	s, db, err := r.scan(ctx, scanFor(req).scopedIf(names))
	if err != nil {
		return nil, err
	}
	if err := r.requireDatabase(db); err != nil {
		return nil, err
	}
	p, err := planUpdate(s, names, planOptions{Force: req.Force})
	r.planDisposals(p)
	if err == nil {
		err = r.planSigning(ctx, &txn{plan: p, snap: s})
	}
	return p, err
}

// Update brings the database in line with the directory (see plan.go for
// the rules). The plan is made again under the lock from a fresh scan.
func (r *Repo) Update(ctx context.Context, names []string, req Request) (*Result, error) {
	return r.transact(ctx, "update", req, scanFor(req).scopedIf(names), func(s *scanResult, db *dbContent) (*txn, error) {
		p, err := planUpdate(s, names, planOptions{Force: req.Force})
		return &txn{command: "update", plan: p, snap: s, db: db, embedSigs: req.EmbedSignatures}, err
	})
}

// Remove unregisters names and retires their files. A name that is not
// registered is an *UnknownPackageError and nothing changes.
func (r *Repo) Remove(ctx context.Context, names []string, req Request) (*Result, error) {
	if len(names) == 0 {
		return nil, errors.New("remove: no package names given")
	}
	return r.transact(ctx, "remove", req, scanFor(req).scoped(names, nil), func(s *scanResult, db *dbContent) (*txn, error) {
		p, err := planRemove(s, names, planOptions{Force: req.Force})
		return &txn{command: "remove", plan: p, snap: s, db: db, embedSigs: req.EmbedSignatures}, err
	})
}

// Reset rebuilds the database from every readable package of the
// directory: the newest file of each name is registered, nothing is
// retired. It is the one command that proceeds over an unreadable database
// (Result.IgnoredDB says so). Every file is read again.
func (r *Repo) Reset(ctx context.Context, req Request) (*Result, error) {
	so := scanOptions{recordCache: true, ignoreBadDB: true, embedSigs: req.EmbedSignatures}
	return r.transact(ctx, "reset", req, so, func(s *scanResult, db *dbContent) (*txn, error) {
		p, err := planReset(s, planOptions{Force: req.Force})
		return &txn{command: "reset", plan: p, snap: s, db: db, rewrite: true, embedSigs: req.EmbedSignatures}, err
	})
}

// Entries returns the registered entries (without file lists); a missing
// database is a *NoDatabaseError, an unreadable one a *DBUnreadableError.
func (r *Repo) Entries(ctx context.Context) ([]repodb.Entry, error) {
	db, err := r.readDB(false)
	if err != nil {
		return nil, err
	}
	if err := r.requireDatabase(db); err != nil {
		return nil, err
	}
	return db.entries, nil
}

// EntriesWithFiles returns the registered entries with their file lists
// (publish copies them elsewhere). The files database must agree with the
// db on every entry; check --repair mends one that does not.
func (r *Repo) EntriesWithFiles(ctx context.Context) ([]repodb.Entry, error) {
	db, err := r.readDB(false)
	if err != nil {
		return nil, err
	}
	if err := r.requireDatabase(db); err != nil {
		return nil, err
	}
	for i := range db.entries {
		e := &db.entries[i]
		l, ok := db.fileLists[e.Name]
		if !ok {
			return nil, fmt.Errorf("%s has no file list of %s that agrees with %s (check --repair mends it)",
				r.opts.DB.FilesPath(), e.Name, r.opts.DB.DBPath())
		}
		e.Files = l
	}
	return db.entries, nil
}

// UnreadableFilesError says add was given files that cannot be added; add
// is all-or-nothing, so nothing was added.
type UnreadableFilesError struct {
	Problems []Problem
}

func (e *UnreadableFilesError) Error() string {
	var b strings.Builder
	b.WriteString("nothing added; cannot add:")
	for _, p := range e.Problems {
		fmt.Fprintf(&b, "\n  %s: ", p.Path)
		if p.Kind != 0 {
			fmt.Fprintf(&b, "%s: ", p.Kind)
		}
		b.WriteString(p.Err.Error())
	}
	return b.String()
}

// CollisionError says a different file of the same name is already in the
// repository directory; add never replaces it.
type CollisionError struct {
	Source, Existing string
	// Holds is the package and version Existing holds when that is not
	// what its name says ("" otherwise): removing the package its name
	// says would not take it away.
	Holds string
}

func (e *CollisionError) Error() string {
	if e.Holds != "" {
		return fmt.Sprintf("cannot add %s: %s is already in the repository and holds %s, not what its name says (move it out, then update; add places it under its own name)",
			e.Source, e.Existing, e.Holds)
	}
	return fmt.Sprintf("cannot add %s: a different file %s is already in the repository (remove it first)", e.Source, e.Existing)
}

// Add verifies files completely, places them and registers them, each as
// the version of its name even when older; the other files of those names
// are retired once the database is written, but for files of the very
// version added (another architecture's build, say), which stay and are
// reported (plan.go, "Same version").
//
// Add is all-or-nothing: every argument is read completely and verified
// before the lock is taken; when any cannot be used (unreadable, not a
// package, no .sig with RequireSignature, two files of one name) nothing is
// added and the error (*UnreadableFilesError) lists all of them.
//
// Arguments are read through symbolic links. A source that is, or resolves
// to, a package file of the repository directory (judged by identity, not
// by path) is registered where it is and never moved, retired or deleted,
// whatever the mode. Other sources are placed under their canonical
// NAME-VERSION-ARCH.pkg.tar.EXT name, whatever their own, so that nothing
// but package file names is ever created in the directory and a file
// named after another package or version never takes that one's place.
// A different file under the destination name is a *CollisionError: add
// never replaces a file.
//
// The files that o leaves out (OnlyNew, PreventDowngrade) are skip actions
// of the plan, not errors, as with repo-add.
func (r *Repo) Add(ctx context.Context, files []string, o AddOptions) (*Result, error) {
	mode := o.Mode
	if len(files) == 0 {
		return nil, errors.New("add: no files given")
	}
	args, argSkips, argProblems, err := r.readArgs(ctx, files, o.Partial, o.Uploads)
	if err != nil {
		return nil, err
	}
	// The change concerns the arguments' package names and the files they
	// are, or become, in the directory.
	var names, scopeFiles []string
	for _, a := range args {
		names = append(names, a.file.Name)
		scopeFiles = append(scopeFiles, a.file.Filename, filepath.Base(a.content))
	}
	return r.transact(ctx, "add", o.Request, scanFor(o.Request).scoped(names, scopeFiles), func(s *scanResult, db *dbContent) (*txn, error) {
		t := &txn{command: "add", snap: s, db: db, added: map[string]*addedFile{}, mode: mode, embedSigs: o.EmbedSignatures}
		// A file kept in place counts: adding its content again registers
		// it where it is, as adding it by its path does.
		byFile := map[string]*verifiedFile{}
		for _, f := range slices.Concat(ptrs(s.files), ptrs(s.kept)) {
			byFile[f.Filename] = f
		}
		var added []verifiedFile
		places := slices.Clone(argSkips)
		problems := slices.Clone(argProblems)
		reg := s.entryByName()
		for _, a := range args {
			if skip := skipArg(a, reg[a.file.Name], o); skip != nil {
				places = append(places, *skip)
				continue
			}
			if f := r.repositoryFileOf(a, s); f != nil {
				// The source is a file of the repository: register it there.
				c := *f
				if c.entry == nil {
					c.entry = a.file.entry
				}
				added = append(added, c)
				continue
			}
			base := a.file.Filename
			if s.present[base] {
				f := byFile[base]
				if f == nil || f.SHA256 != a.file.SHA256 || f.CSize != a.file.CSize {
					err := &CollisionError{Source: a.src, Existing: filepath.Join(r.dir(), base)}
					if f != nil && (f.Name != a.file.Name || f.Version != a.file.Version) {
						err.Holds = f.Name + " " + f.Version
					}
					if !o.Partial {
						return nil, err
					}
					problems = append(problems, Problem{Path: a.src, Err: err})
					continue
				}
				// An identical file is there already: register it.
				c := *f
				if c.entry == nil {
					c.entry = a.file.entry
				}
				added = append(added, c)
				continue
			}
			if a.sig && s.present[base+".sig"] {
				if sha, _, err := fsutil.HashFile(filepath.Join(r.dir(), base+".sig")); err != nil || sha != a.sigSHA {
					err := &CollisionError{Source: a.src + ".sig", Existing: filepath.Join(r.dir(), base+".sig")}
					if !o.Partial {
						return nil, err
					}
					problems = append(problems, Problem{Path: a.src, Signature: signature.Malformed, Err: err})
					continue
				}
				a.sig = false // identical signature already there
			}
			a.place = true
			t.added[base] = a
			t.places = append(t.places, a)
			how := map[AddMode]string{Copy: "copy", Move: "move", Link: "link"}[mode]
			reason := how + " into the repository"
			if filepath.Base(a.src) != base {
				reason += " as " + base
			}
			places = append(places, Action{Kind: ActPlace, Name: a.file.Name, File: a.src, To: a.file.Version, Reason: reason})
			added = append(added, a.file)
		}
		p, err := planAdd(s, added, places, planOptions{Force: o.Force})
		if p != nil {
			p.Problems = append(p.Problems, problems...)
		}
		t.plan = p
		return t, err
	})
}

// skipArg is the skip action for an argument that o leaves out, or nil.
func skipArg(a *addedFile, e *repodb.Key, o AddOptions) *Action {
	if e == nil {
		return nil
	}
	skip := Action{Kind: ActSkip, Name: a.file.Name, File: a.src, From: e.Version, To: a.file.Version}
	switch {
	case o.OnlyNew:
		skip.Reason = "already registered (--new)"
	case o.PreventDowngrade && version.Compare(a.file.Version, e.Version) < 0:
		skip.Reason = fmt.Sprintf("a newer version %s is registered (--prevent-downgrade)", e.Version)
	default:
		return nil
	}
	return &skip
}

// repositoryFileOf returns the verified repository file that the source of
// a is (the same device and inode), or nil. Such a source is registered
// where it is: placing a copy would retire the very file it came from.
func (r *Repo) repositoryFileOf(a *addedFile, s *scanResult) *verifiedFile {
	for _, f := range slices.Concat(ptrs(s.files), ptrs(s.kept)) {
		if f.Name != a.file.Name {
			continue
		}
		id, err := fsutil.StatID(filepath.Join(r.dir(), f.Filename))
		if err == nil && id.Dev == a.srcID.Dev && id.Inode == a.srcID.Inode {
			return f
		}
	}
	return nil
}

func ptrs(files []verifiedFile) []*verifiedFile {
	out := make([]*verifiedFile, len(files))
	for i := range files {
		out[i] = &files[i]
	}
	return out
}

// readArgs reads every argument of add completely, before the lock. All
// or nothing: a file that cannot be used is an *UnreadableFilesError. With
// partial, such files are returned as problems instead, and of two files of
// one name the older is a skip action.
func (r *Repo) readArgs(ctx context.Context, files []string, partial, uploads bool) (args []*addedFile, skips []Action, probs []Problem, err error) {
	seenBase := map[string]string{}
	byName := map[string]int{} // index in args
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return nil, nil, nil, err
		}
		a, prob := r.readArg(f, uploads)
		if prob != nil {
			probs = append(probs, *prob)
			continue
		}
		if prev, dup := seenBase[a.file.Filename]; dup {
			probs = append(probs, Problem{Path: a.src, Err: fmt.Errorf("same file name %s as %s", a.file.Filename, prev)})
			continue
		}
		if i, dup := byName[a.file.Name]; dup {
			prev := args[i]
			if !partial {
				probs = append(probs, Problem{Path: a.src, Err: fmt.Errorf("package %s is also given as %s", a.file.Name, prev.src)})
				continue
			}
			older, newer := a, prev
			if version.Compare(a.file.Version, prev.file.Version) > 0 {
				older, newer = prev, a
				args[i] = a
			}
			skips = append(skips, Action{Kind: ActSkip, Name: a.file.Name, File: older.src, To: older.file.Version,
				Reason: fmt.Sprintf("the newer %s %s is added at the same time", newer.file.Name, newer.file.Version)})
			seenBase[a.file.Filename] = a.src
			continue
		}
		seenBase[a.file.Filename] = a.src
		byName[a.file.Name] = len(args)
		args = append(args, a)
	}
	if len(probs) > 0 && !partial {
		return nil, nil, nil, &UnreadableFilesError{Problems: probs}
	}
	return args, skips, probs, nil
}

// readArg reads one argument of add through any symbolic links (an
// upload: never through one, see AddOptions.Uploads) and decides the name
// it would have in the repository.
func (r *Repo) readArg(name string, upload bool) (*addedFile, *Problem) {
	abs, err := filepath.Abs(name)
	if err != nil {
		return nil, &Problem{Path: name, Err: err}
	}
	if upload {
		// The file and its .sig as they are before anything is read; the
		// very same afterwards, or what was read may have come through a
		// link put in place meanwhile.
		before, prob := uploadID(abs, "an upload")
		if prob != nil {
			return nil, prob
		}
		sigBefore, sigProb := uploadID(abs+".sig", "a signature")
		if sigProb != nil && !errors.Is(sigProb.Err, os.ErrNotExist) {
			return nil, sigProb
		}
		a, prob := r.readArg(abs, false)
		if prob != nil {
			return nil, prob
		}
		after, prob := uploadID(abs, "an upload")
		sigAfter, sigProb := uploadID(abs+".sig", "a signature")
		if sigProb != nil && !errors.Is(sigProb.Err, os.ErrNotExist) {
			return nil, sigProb
		}
		if prob != nil || after != before || sigAfter != sigBefore || a.srcIsLink {
			return nil, &Problem{Path: abs, Kind: pkgfile.Incomplete, Err: errors.New("file changed while being read")}
		}
		return a, nil
	}
	content, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return nil, &Problem{Path: abs, Err: fmt.Errorf("cannot follow: %w", err)}
	}
	lfi, err := os.Lstat(abs)
	if err != nil {
		return nil, &Problem{Path: abs, Err: err}
	}
	pf, prob := readPackage(content)
	if prob != nil {
		prob.Path = abs
		return nil, prob
	}
	id, err := fsutil.StatID(content)
	if err != nil || id.Size != pf.CSize || id.MTimeNS != pf.ModTime {
		return nil, &Problem{Path: abs, Kind: pkgfile.Incomplete, Err: fmt.Errorf("file %w", pkgfile.ErrChanged)}
	}
	a := &addedFile{src: abs, content: content, srcIsLink: lfi.Mode()&os.ModeSymlink != 0, srcID: id, file: pf}
	// The file goes in under the name makepkg gives it, whatever its own:
	// a name that says another package or version would stand in the way
	// of the real file of that name, which add would then refuse.
	a.file.Filename = pf.canonical
	if r.classify(a.file.Filename) != layout.Package {
		return nil, &Problem{Path: abs, Kind: pkgfile.Corrupt,
			Err: fmt.Errorf("its name %s is not a package file name of this repository", a.file.Filename)}
	}
	if prob := r.readArgSignature(a); prob != nil {
		return nil, prob
	}
	return a, nil
}

// uploadID is the identity of the upload at path, never following a link:
// one that is not a regular file (a symbolic link, a FIFO) is a problem
// that says what it is and nothing of where a link leads. what is "an
// upload" or "a signature".
func uploadID(path, what string) (fsutil.FileID, *Problem) {
	fi, err := os.Lstat(path)
	if err != nil {
		return fsutil.FileID{}, &Problem{Path: path, Kind: pkgfile.OpenErrorKind(path, err), Err: err}
	}
	if !fi.Mode().IsRegular() {
		return fsutil.FileID{}, &Problem{Path: path, Kind: pkgfile.NotPackage, Err: &NotRegularError{Mode: fi.Mode(), What: what}}
	}
	return fsutil.IDOf(fi), nil
}

// readArgSignature reads, and with a keyring verifies, the signature that
// travels with an argument of add (SRC.sig), or makes one with the
// package signer. A signature that is not good refuses the argument: it
// is never placed beside the package nor embedded.
func (r *Repo) readArgSignature(a *addedFile) *Problem {
	sigPath := a.src + ".sig"
	sig, err := signature.ReadFile(sigPath)
	switch {
	case errors.Is(err, os.ErrNotExist) && r.opts.PackageSigner != nil:
		if sig, err = r.opts.PackageSigner.Sign(context.Background(), a.content); err != nil {
			return &Problem{Path: a.src, Err: err}
		}
		a.signedHere = true
	case errors.Is(err, os.ErrNotExist) && r.opts.RequireSignature:
		return &Problem{Path: a.src, Kind: pkgfile.Incomplete, Signature: signature.Missing, Err: ErrUnsigned}
	case errors.Is(err, os.ErrNotExist):
		return nil
	case err != nil:
		return &Problem{Path: sigPath, Signature: signature.Malformed, Err: err}
	}
	if r.opts.Keyring != nil {
		if prob := r.verifySignature(a.content, a.file.SHA256, sig); prob != nil {
			prob.Path = strings.Replace(prob.Path, a.content, a.src, 1)
			return prob
		}
	}
	sum := sha256.Sum256(sig)
	a.sig, a.sigBytes, a.sigSHA = true, sig, hex.EncodeToString(sum[:])
	return nil
}
