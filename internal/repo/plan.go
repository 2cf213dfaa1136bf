package repo

// Planning is a pure function of a scan result (database + directory) and a
// request. Nothing here touches the disk, so what Status prints is exactly
// what Update applies, and every rule below is table-tested.
//
// Rules (the safety invariants of docs/ARCHITECTURE.md, made concrete):
//
//   - Evidence. Only files read completely and verified (size, SHA-256,
//     .PKGINFO) take part in decisions. Their package name and version
//     come from .PKGINFO, never from the file name. A Problem file (empty,
//     truncated, still growing, corrupt, not a package) is reported and
//     left where it is; it never causes a registration, a retirement or an
//     unregistration (invariant 3).
//
//   - Held names. A Problem file's name cannot be trusted, but a file
//     named like "foo-2.0-1-x86_64.pkg.tar.zst" that is still being written
//     most likely is a foo. As extra caution, no file of a package name that
//     a Problem file's name suggests is retired while that Problem file is
//     there. Registration still happens (it loses nothing), and so does
//     unregistering an entry whose file no longer exists at all (keeping it
//     would break invariant 1; no file is lost by it).
//
//   - Registered file present but unreadable. An entry whose file name is
//     present in the directory as a Problem is left alone unless a verified
//     newer file of the name exists (then that one is registered). It is
//     never unregistered because of it: the file is not "missing".
//
//   - Choice. For each name the candidate is the newest verified file
//     (version.Compare); among files of equal version the registered file
//     wins, then the smallest file name.
//
//   - Same version. A different file of the version registered (another
//     architecture's build, another compression) is not obsolete: nothing
//     newer replaced it. It is left in place, never retired, and reported
//     as a Problem (*DuplicateVersionError) for a person to settle. add
//     registers the file it is given even so (the user's choice, as with
//     repo-add), and the file it replaces in the entry stays.
//
//   - Retirement (invariant 2). A verified file is retired only when the
//     user removes its name, or when another verified file of the same name
//     and another version is registered in its place. Files that are not
//     packages, Problem files and files of other names are never retired.
//     Apply retires only after the database write has reached the disk.
//
//   - One repository per directory. A directory that holds another
//     database besides this one is refused for every change
//     (*SharedDirectoryError): the files the other database registers
//     look like this repository's, and they must never be registered,
//     retired or unregistered because of it.
//
//   - Safety valve (invariant 7). A plan that unregisters (or retires the
//     registered file without registering another) more than half of the
//     registered names of a repository of more than 10 names is refused
//     without Force. Upgrades do not count: they replace a file by a
//     verified newer one.

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/pacrepo/pacrepo/internal/fsutil"
	"github.com/pacrepo/pacrepo/internal/pkgfile"
	"github.com/pacrepo/pacrepo/internal/repodb"
	"github.com/pacrepo/pacrepo/internal/version"
)

// verifiedFile is one verified package file of the directory (or, for add, one
// that will be placed there).
type verifiedFile struct {
	Filename string
	Name     string
	Version  string
	CSize    int64
	SHA256   string
	ModTime  int64         // Unix nanoseconds at the verified read
	id       fsutil.FileID // the whole identity at the verified read (zero when trusted from the cache)
	HasSig   bool
	// SigField is the %PGPSIG% value of the file's .sig ("" when there is
	// none or it cannot be embedded); set only when the repository embeds
	// signatures.
	SigField string
	// sigSHA256 is the SHA-256 of the binary signature verified now (for
	// the verification cache); "" when none was.
	sigSHA256 string
	// entry is the database entry of the complete read, its file list
	// packed (a reset holds every package's at once); nil when the file is
	// the registered one and was trusted from the verification cache (its
	// entry is carried over).
	entry *repodb.Entry
	// libs are the sonames its ELF files provide and need: from the read,
	// or from the verification cache; nil when not known.
	libs *pkgfile.Libraries
	// canonical is the name makepkg gives the package read.
	canonical string
}

// scanResult is what scan found: the database and the directory.
type scanResult struct {
	// entries are the registered entries scanned, sorted by name: all of
	// them, or those of the scan's scope.
	entries    []repodb.Key
	registered int            // entries of the whole database
	dbMissing  bool           // no database yet: a new repository
	files      []verifiedFile // verified package files
	problems   []Problem
	present    map[string]bool // every base name in the directory
	sigs       map[string]bool // base names of .sig files
	others     []string
	leftovers  []string       // our own temporary files (from an interrupted run)
	kept       []verifiedFile // files retired in place (kept.go): candidates for nothing
	// embedSigs says the command writes %PGPSIG%: an entry whose embedded
	// signature differs from its .sig is refreshed.
	embedSigs bool
	// dir is where the files lie: the Problems a plan reports name them
	// in it ("" names them alone); database is this repository's
	// database file there.
	dir, database string
	// otherDatabases are the base names of other repositories' databases
	// found in the directory (this repository's own are not in it).
	otherDatabases []string
}

// planOptions are the request parts that matter to planning.
type planOptions struct {
	Force bool
}

func (s *scanResult) entryByName() map[string]*repodb.Key {
	m := make(map[string]*repodb.Key, len(s.entries))
	for i := range s.entries {
		m[s.entries[i].Name] = &s.entries[i]
	}
	return m
}

func (s *scanResult) problemNames() map[string]bool {
	m := make(map[string]bool, len(s.problems))
	for _, p := range s.problems {
		m[baseName(p.Path)] = true
	}
	return m
}

// heldNames are the package names suggested by Problem files' names.
func (s *scanResult) heldNames() map[string]bool {
	m := map[string]bool{}
	for _, p := range s.problems {
		if n := guessName(baseName(p.Path)); n != "" {
			m[n] = true
		}
	}
	return m
}

// filesByName groups verified files by package name, newest first; among
// equal versions the registered file comes first, then by file name.
func (s *scanResult) filesByName() map[string][]verifiedFile {
	reg := s.entryByName()
	m := map[string][]verifiedFile{}
	for _, f := range s.files {
		m[f.Name] = append(m[f.Name], f)
	}
	for name, fs := range m {
		regFile := ""
		if e := reg[name]; e != nil {
			regFile = e.Filename
		}
		slices.SortStableFunc(fs, func(a, b verifiedFile) int {
			if c := version.Compare(b.Version, a.Version); c != 0 {
				return c
			}
			if (a.Filename == regFile) != (b.Filename == regFile) {
				if a.Filename == regFile {
					return -1
				}
				return 1
			}
			return strings.Compare(a.Filename, b.Filename)
		})
	}
	return m
}

// allNames is every package name of database and verified files, sorted.
func (s *scanResult) allNames() []string {
	seen := map[string]bool{}
	var names []string
	for _, e := range s.entries {
		if !seen[e.Name] {
			seen[e.Name] = true
			names = append(names, e.Name)
		}
	}
	for _, f := range s.files {
		if !seen[f.Name] {
			seen[f.Name] = true
			names = append(names, f.Name)
		}
	}
	slices.Sort(names)
	return names
}

// planUpdate brings the database in line with the directory for names (all
// when names is empty).
func planUpdate(s *scanResult, names []string, o planOptions) (*Plan, error) {
	p := &Plan{Problems: slices.Clone(s.problems)}
	if err := sharedDirectory(s); err != nil {
		return p, err
	}
	reg := s.entryByName()
	byName := s.filesByName()
	held := s.heldNames()
	probs := s.problemNames()
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	all := s.allNames()
	if unknown := unknownNames(names, all, held); len(unknown) > 0 {
		return p, &UnknownPackageError{Names: unknown, Where: "neither registered nor a package file in the directory"}
	}
	for _, name := range all {
		if len(want) > 0 && !want[name] {
			continue
		}
		acts := decide(name, reg[name], byName[name], probs, held[name], s.present, s.embedSigs)
		p.Actions = append(p.Actions, acts...)
		file, ver := registeredAfter(reg[name], acts)
		p.Problems = append(p.Problems, sameVersionProblems(s.dir, byName[name], file, ver)...)
	}
	return p, valve(s, p, o)
}

// registeredAfter is the file and version registered for a name once its
// actions acts are applied to its entry e ("" when none is).
func registeredAfter(e *repodb.Key, acts []Action) (file, ver string) {
	for _, a := range acts {
		switch {
		case isRegister(a.Kind):
			return a.File, a.To
		case a.Kind == ActUnregister:
			return "", ""
		}
	}
	if e == nil {
		return "", ""
	}
	return e.Filename, e.Version
}

// sameVersionProblems reports the verified files of one name that hold
// the version ver registered as file without being that file: nothing
// newer made them obsolete, so they stay where they are, and a person
// chooses between the two.
func sameVersionProblems(dir string, files []verifiedFile, file, ver string) []Problem {
	if file == "" {
		return nil
	}
	var probs []Problem
	for _, f := range files {
		if f.Filename != file && version.Compare(f.Version, ver) == 0 {
			path := f.Filename
			if dir != "" {
				path = filepath.Join(dir, f.Filename)
			}
			probs = append(probs, Problem{Path: path,
				Err: &DuplicateVersionError{Name: f.Name, Version: f.Version, Registered: file}})
		}
	}
	return probs
}

// DuplicateVersionError says a package file holds the very version of its
// name that another file registers (another architecture's build, another
// compression). It is not obsolete, so it is never retired: it stays where
// it is until a person deletes the one not wanted.
type DuplicateVersionError struct {
	Name, Version string
	Registered    string // the file registered for Name
}

func (e *DuplicateVersionError) Error() string {
	return fmt.Sprintf("%s %s is registered as %s: a second file of the same version is left in place (delete the one not wanted)",
		e.Name, e.Version, e.Registered)
}

// SharedDirectoryError says a repository's directory holds another
// repository's database: no change is made there. The other database's
// files would look like this repository's (one repository per directory).
type SharedDirectoryError struct {
	Dir      string
	Database string   // this repository's database file
	Others   []string // the other databases' files
}

func (e *SharedDirectoryError) Error() string {
	what := "the database "
	if len(e.Others) > 1 {
		what = "the databases "
	}
	return fmt.Sprintf("%s holds %s%s besides %s: a directory holds one repository, and the other's packages would count as this one's; nothing changed (move one of them to a directory of its own)",
		e.Dir, what, strings.Join(e.Others, ", "), e.Database)
}

// sharedDirectory refuses a change of a repository whose directory holds
// another database.
func sharedDirectory(s *scanResult) error {
	if len(s.otherDatabases) == 0 {
		return nil
	}
	return &SharedDirectoryError{Dir: s.dir, Database: s.database, Others: slices.Clone(s.otherDatabases)}
}

// decide is the update rule for one name.
func decide(name string, e *repodb.Key, files []verifiedFile, probs map[string]bool, held bool, present map[string]bool, embedSigs bool) []Action {
	var acts []Action
	var target *verifiedFile
	if len(files) > 0 {
		target = &files[0]
	}
	if e == nil {
		if target == nil {
			return nil
		}
		acts = append(acts, Action{Kind: ActNew, Name: name, File: target.Filename, To: target.Version,
			Reason: "not registered"})
		return append(acts, retireOthers(name, files, target, held)...)
	}
	var regFile *verifiedFile
	for i := range files {
		if files[i].Filename == e.Filename {
			regFile = &files[i]
		}
	}
	switch {
	case regFile != nil:
		if target.Filename != regFile.Filename && version.Compare(target.Version, regFile.Version) > 0 {
			acts = append(acts, Action{Kind: ActUpgrade, Name: name, File: target.Filename,
				From: e.Version, To: target.Version, Reason: fmt.Sprintf("newer file %s", target.Filename)})
		} else {
			target = regFile
			switch {
			case regFile.CSize != e.CSize || regFile.SHA256 != e.SHA256Sum || regFile.Version != e.Version:
				acts = append(acts, Action{Kind: ActRefresh, Name: name, File: regFile.Filename,
					From: e.Version, To: regFile.Version,
					Reason: "file no longer matches its entry (size or sha256)"})
			case embedSigs && regFile.SigField != e.PGPSig:
				acts = append(acts, Action{Kind: ActRefresh, Name: name, File: regFile.Filename,
					From: e.Version, To: regFile.Version, Reason: "signature changed"})
			}
		}
	case probs[e.Filename]:
		// The registered file is there but unreadable right now: it is not
		// missing. Only a verified newer file replaces it, and the
		// unreadable file itself is never retired (it is not in files).
		if target == nil || version.Compare(target.Version, e.Version) <= 0 {
			return nil
		}
		acts = append(acts, Action{Kind: ActUpgrade, Name: name, File: target.Filename,
			From: e.Version, To: target.Version,
			Reason: fmt.Sprintf("newer file %s (registered file %s is unreadable)", target.Filename, e.Filename)})
	default:
		why := fmt.Sprintf("registered file %s is gone", e.Filename)
		if present[e.Filename] {
			why = fmt.Sprintf("registered file %s is not a package %s", e.Filename, name)
		}
		if target == nil {
			return []Action{{Kind: ActUnregister, Name: name, File: e.Filename, From: e.Version, Reason: why}}
		}
		kind := ActRefresh
		switch c := version.Compare(target.Version, e.Version); {
		case c > 0:
			kind = ActUpgrade
		case c < 0:
			kind = ActDowngrade
		}
		acts = append(acts, Action{Kind: kind, Name: name, File: target.Filename,
			From: e.Version, To: target.Version, Reason: why})
	}
	return append(acts, retireOthers(name, files, target, held)...)
}

// retireOthers retires every verified file of name except target and the
// files of target's version (see sameVersionProblems).
func retireOthers(name string, files []verifiedFile, target *verifiedFile, held bool) []Action {
	if held {
		return nil
	}
	var acts []Action
	for _, f := range files {
		if f.Filename == target.Filename || version.Compare(f.Version, target.Version) == 0 {
			continue
		}
		acts = append(acts, Action{Kind: ActRetire, Name: name, File: f.Filename, From: f.Version,
			Reason: "obsolete: replaced by " + target.Filename})
	}
	return acts
}

// planAdd registers added files (already verified; they are in s.files or
// will be placed under their Filename) as the versions of their names, even
// when older, and retires every other verified file of those names but the
// files of the very version added, which stay.
func planAdd(s *scanResult, added []verifiedFile, places []Action, o planOptions) (*Plan, error) {
	p := &Plan{Problems: slices.Clone(s.problems)}
	if err := sharedDirectory(s); err != nil {
		return nil, err
	}
	reg := s.entryByName()
	byName := s.filesByName()
	held := s.heldNames()
	p.Actions = append(p.Actions, places...)
	seen := map[string]bool{}
	for i := range added {
		a := &added[i]
		if seen[a.Name] {
			return nil, fmt.Errorf("add: two files of package %s given (%s)", a.Name, a.Filename)
		}
		seen[a.Name] = true
		e := reg[a.Name]
		act := Action{Name: a.Name, File: a.Filename, To: a.Version}
		switch {
		case e == nil:
			act.Kind, act.Reason = ActNew, "added"
		default:
			act.From = e.Version
			switch c := version.Compare(a.Version, e.Version); {
			case c > 0:
				act.Kind, act.Reason = ActUpgrade, "added"
			case c < 0:
				act.Kind, act.Reason = ActDowngrade, "added (older than the registered version)"
			default:
				act.Kind, act.Reason = ActRefresh, "added"
				if e.Filename == a.Filename && e.SHA256Sum == a.SHA256 && e.CSize == a.CSize {
					act.Kind = "" // already registered exactly so
				}
			}
		}
		if act.Kind != "" {
			p.Actions = append(p.Actions, act)
		}
		p.Actions = append(p.Actions, retireOthers(a.Name, byName[a.Name], a, held[a.Name])...)
		p.Problems = append(p.Problems, sameVersionProblems(s.dir, byName[a.Name], a.Filename, a.Version)...)
	}
	return p, valve(s, p, o)
}

// planRemove unregisters names and retires all their verified files. An
// unknown name is an error and nothing changes.
func planRemove(s *scanResult, names []string, o planOptions) (*Plan, error) {
	p := &Plan{Problems: slices.Clone(s.problems)}
	if err := sharedDirectory(s); err != nil {
		return nil, err
	}
	reg := s.entryByName()
	byName := s.filesByName()
	var unknown []string
	done := map[string]bool{}
	for _, name := range names {
		if done[name] {
			continue
		}
		done[name] = true
		e := reg[name]
		if e == nil {
			unknown = append(unknown, name)
			continue
		}
		p.Actions = append(p.Actions, Action{Kind: ActUnregister, Name: name, File: e.Filename,
			From: e.Version, Reason: "removed"})
		for _, f := range byName[name] {
			p.Actions = append(p.Actions, Action{Kind: ActRetire, Name: name, File: f.Filename,
				From: f.Version, Reason: "removed"})
		}
	}
	if len(unknown) > 0 {
		return nil, &UnknownPackageError{Names: unknown, Where: "not registered"}
	}
	return p, valve(s, p, o)
}

// planReset rebuilds the database from the directory: the newest verified
// file of every name is registered; nothing is retired. An entry whose file
// is present but cannot be read now (permissions, I/O error, a dead network
// mount) is kept: the file is not missing. The safety valve applies.
func planReset(s *scanResult, o planOptions) (*Plan, error) {
	p := &Plan{Problems: slices.Clone(s.problems)}
	if err := sharedDirectory(s); err != nil {
		return nil, err
	}
	reg := s.entryByName()
	byName := s.filesByName()
	probs := s.problemNames()
	for _, name := range s.allNames() {
		files := byName[name]
		e := reg[name]
		if len(files) == 0 {
			if e != nil && !probs[e.Filename] {
				why := "no readable file"
				if !s.present[e.Filename] {
					why = fmt.Sprintf("registered file %s is gone", e.Filename)
				}
				p.Actions = append(p.Actions, Action{Kind: ActUnregister, Name: name, File: e.Filename,
					From: e.Version, Reason: why})
			}
			continue
		}
		if e != nil && probs[e.Filename] && version.Compare(files[0].Version, e.Version) <= 0 {
			// The registered file is unreadable right now: only a newer
			// file replaces it.
			p.Problems = append(p.Problems, sameVersionProblems(s.dir, files, e.Filename, e.Version)...)
			continue
		}
		t := files[0]
		p.Problems = append(p.Problems, sameVersionProblems(s.dir, files, t.Filename, t.Version)...)
		act := Action{Kind: ActNew, Name: name, File: t.Filename, To: t.Version, Reason: "rebuild"}
		if e != nil && e.Filename == t.Filename && e.SHA256Sum == t.SHA256 && e.CSize == t.CSize && e.Version == t.Version {
			// Registered exactly so already, unless the rebuilt entry
			// embeds another signature: a rebuild embeds signatures only
			// when asked, like repo-add writing a new database.
			switch {
			case s.embedSigs && t.SigField != e.PGPSig:
				act.Reason = "signature changed"
			case !s.embedSigs && e.PGPSig != "":
				act.Reason = "rebuilt without its embedded signature"
			default:
				continue
			}
		}
		if e != nil {
			act.From = e.Version
			switch c := version.Compare(t.Version, e.Version); {
			case c > 0:
				act.Kind = ActUpgrade
			case c < 0:
				act.Kind = ActDowngrade
			default:
				act.Kind = ActRefresh
			}
		}
		p.Actions = append(p.Actions, act)
	}
	return p, valve(s, p, o)
}

// valve refuses plans that would remove most of the repository.
func valve(s *scanResult, p *Plan, o planOptions) error {
	total := s.registered
	if o.Force || total <= 10 {
		return nil
	}
	reg := s.entryByName()
	registers := map[string]bool{}
	for _, a := range p.Actions {
		if isRegister(a.Kind) {
			registers[a.Name] = true
		}
	}
	losing := map[string]bool{}
	for _, a := range p.Actions {
		switch a.Kind {
		case ActUnregister:
			losing[a.Name] = true
		case ActRetire:
			if e := reg[a.Name]; e != nil && e.Filename == a.File && !registers[a.Name] {
				losing[a.Name] = true
			}
		}
	}
	return CheckRemoval(len(losing), total, o.Force)
}

func isRegister(k ActionKind) bool {
	switch k {
	case ActNew, ActUpgrade, ActDowngrade, ActRefresh:
		return true
	}
	return false
}

// UnknownPackageError says remove was asked for names that are not
// registered; nothing was changed.
type UnknownPackageError struct {
	Names []string
	Where string // what was looked at, e.g. "not registered"
}

func (e *UnknownPackageError) Error() string {
	return fmt.Sprintf("unknown package %s: %s", strings.Join(e.Names, ", "), e.Where)
}

// unknownNames are the requested names that no entry, verified file or
// incomplete file (held) is about: most likely typing mistakes, which
// must not look like "nothing to do".
func unknownNames(names, known []string, held map[string]bool) []string {
	var unknown []string
	for _, n := range names {
		if !slices.Contains(known, n) && !held[n] && !slices.Contains(unknown, n) {
			unknown = append(unknown, n)
		}
	}
	return unknown
}

// guessName guesses a package name from a file name NAME-VER-REL-ARCH.pkg.tar*;
// used only to hold back retirements, never as evidence.
func guessName(filename string) string {
	i := strings.Index(filename, ".pkg.tar")
	if i < 0 {
		return ""
	}
	// NAME is what comes before the third hyphen from the end (VER, REL
	// and ARCH hold none); scans call this for every file of the
	// directory, so it does not split.
	stem := filename[:i]
	for range 3 {
		j := strings.LastIndexByte(stem, '-')
		if j < 0 {
			return ""
		}
		stem = stem[:j]
	}
	return stem
}

func baseName(path string) string {
	if i := strings.LastIndexByte(path, '/'); i >= 0 {
		return path[i+1:]
	}
	return path
}

// NotSigned is the reason of a sign action for a database without a
// signature.
const NotSigned = "the database is not signed"

// PlanSigning adds the sign action to a plan asked to sign a database
// whose signature is missing or another key's (why says which): a plan
// that changes no entry writes the databases signed all the same, as
// repo-add -s does, rather than find nothing to do. A plan that changes
// entries signs them anyway and needs none. It tells whether it added one.
func PlanSigning(p *Plan, dbFile, why string) bool {
	if p == nil || changes(p) {
		return false
	}
	p.Actions = append(p.Actions, Action{Kind: ActSign, File: dbFile, Reason: why})
	return true
}
