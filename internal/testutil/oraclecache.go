package testutil

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/gofrs/flock"
)

// The outputs of reference tools that are pure functions of their inputs
// (repo-add's databases of given packages, makepkg --printsrcinfo of a
// PKGBUILD, bash running a script over a document) are kept in the tools
// cache, as scripts/build-fixtures.sh keeps the fixture sets: under a hash
// of every input, the tool's own bytes and the versions of the packages
// that provide it and what it runs. A changed tool or input is a new key,
// so it runs for real; only a run already made on this machine with the
// very same inputs is replayed. On this suite's machines a process start
// costs ~10 ms of CPU, and repo-add forks dozens per package.
//
// PACREPO_TOOLS_CACHE=off keeps nothing and runs every tool every time, as
// it does for the fixtures.

// ToolsCacheDir returns the tools cache: $PACREPO_TOOLS_CACHE, else
// ${XDG_CACHE_HOME:-$HOME/.cache}/pacrepo-tools; "" when
// PACREPO_TOOLS_CACHE=off or no cache directory can be had.
func ToolsCacheDir() string {
	cache := os.Getenv("PACREPO_TOOLS_CACHE")
	switch cache {
	case "off":
		return ""
	case "":
		base, err := os.UserCacheDir()
		if err != nil {
			return ""
		}
		cache = filepath.Join(base, "pacrepo-tools")
	}
	return cache
}

// OracleKey hashes the inputs of one run of a reference tool. The zero
// value is not usable: see NewOracleKey.
type OracleKey struct {
	tool string
	h    hash.Hash
	// unknown is set when a tool's version could not be told: such a run
	// is never cached.
	unknown bool
}

// NewOracleKey starts the key of a run of tool (a name for the cache
// directory, e.g. "repo-add").
func NewOracleKey(tool string) *OracleKey {
	k := &OracleKey{tool: tool, h: sha256.New()}
	k.String("tool", tool)
	return k
}

// String adds a labelled string (an argument, an environment variable).
func (k *OracleKey) String(label, s string) {
	fmt.Fprintf(k.h, "%s %d\n%s\n", label, len(s), s)
}

// Bytes adds labelled bytes (a document fed on standard input).
func (k *OracleKey) Bytes(label string, b []byte) {
	fmt.Fprintf(k.h, "%s %d\n", label, len(b))
	k.h.Write(b)
}

// File adds the base name and bytes of a file; a file that does not exist
// is added as absent (an input the tool may create, such as a database).
func (k *OracleKey) File(t testing.TB, path string) {
	t.Helper()
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		k.String("absent", filepath.Base(path))
		return
	}
	if err != nil {
		t.Fatalf("oracle key: %v", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		t.Fatalf("oracle key: stat %s: %v", path, err)
	}
	fmt.Fprintf(k.h, "file %s %d\n", filepath.Base(path), st.Size())
	if _, err := io.Copy(k.h, f); err != nil {
		t.Fatalf("oracle key: read %s: %v", path, err)
	}
}

// Tree adds every regular file under dir, by path relative to dir, with
// its bytes (a tool's libraries, such as /usr/share/makepkg).
func (k *OracleKey) Tree(t testing.TB, dir string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		k.String("tree file", rel)
		k.Bytes("content", data)
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatalf("oracle key: %s: %v", dir, err)
	}
}

// Tool adds the bytes of the executable name found in PATH (a script's
// whole text, a binary's code).
func (k *OracleKey) Tool(t testing.TB, name string) {
	t.Helper()
	path := RequireTool(t, name)
	k.String("tool path", path)
	k.File(t, path)
}

// Packages adds the installed versions of the system packages that
// provide the tool and what it runs (its shared libraries, the programs
// its script forks). A name ending in "*" stands for every installed
// package it prefixes (libarchive*: the library whatever its soname
// suffix). The versions are read from dpkg's status file, without a
// process; on a system without one the run is not cached at all.
func (k *OracleKey) Packages(t testing.TB, names ...string) {
	t.Helper()
	versions, err := installedPackages()
	if err != nil {
		k.unknown = true
		return
	}
	for _, name := range names {
		prefix, all := strings.CutSuffix(name, "*")
		found := false
		for _, p := range versions.names {
			if p == name || all && strings.HasPrefix(p, prefix) {
				k.String("package "+p, versions.version[p])
				found = true
			}
		}
		if !found {
			k.String("package missing", name)
		}
	}
}

var dpkgStatus struct {
	once sync.Once
	pkgs installed
	err  error
}

type installed struct {
	names   []string // sorted
	version map[string]string
}

// installedPackages reads the installed packages and their versions from
// dpkg's status file, once per process.
func installedPackages() (installed, error) {
	dpkgStatus.once.Do(func() {
		const path = "/var/lib/dpkg/status"
		f, err := os.Open(path)
		if err != nil {
			dpkgStatus.err = err
			return
		}
		defer f.Close()
		pkgs := installed{version: map[string]string{}}
		var name, version string
		ok := false
		flush := func() {
			if name != "" && ok {
				pkgs.names = append(pkgs.names, name)
				pkgs.version[name] = version
			}
			name, version, ok = "", "", false
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				flush()
			case strings.HasPrefix(line, "Package: "):
				name = strings.TrimPrefix(line, "Package: ")
			case strings.HasPrefix(line, "Version: "):
				version = strings.TrimPrefix(line, "Version: ")
			case strings.HasPrefix(line, "Status: "):
				ok = strings.HasSuffix(line, " installed")
			}
		}
		flush()
		if err := sc.Err(); err != nil {
			dpkgStatus.err = fmt.Errorf("read %s: %w", path, err)
			return
		}
		slices.Sort(pkgs.names)
		dpkgStatus.pkgs = pkgs
	})
	return dpkgStatus.pkgs, dpkgStatus.err
}

// Sum is the key's hash, in hex.
func (k *OracleKey) Sum() string {
	return hex.EncodeToString(k.h.Sum(nil))
}

// CachedOracle returns a directory holding the files that produce writes
// into the (empty) directory it is given, from the tools cache when a run
// with the same key was kept there. The directory is shared: treat it as
// read-only, copy what you change. When the cache is off (or the key's
// tool versions are unknown), produce runs into a new temporary directory
// every time. A failing produce fails the test and keeps nothing.
func CachedOracle(t testing.TB, key *OracleKey, produce func(dir string) error) string {
	t.Helper()
	cache := ToolsCacheDir()
	if cache == "" || key.unknown {
		dir := t.TempDir()
		if err := produce(dir); err != nil {
			t.Fatalf("%s: %v", key.tool, err)
		}
		return dir
	}
	parent := filepath.Join(cache, "oracles")
	dir := filepath.Join(parent, key.tool+"-"+key.Sum())
	if _, err := os.Stat(filepath.Join(dir, ".complete")); err == nil {
		return dir
	}
	if err := os.MkdirAll(parent, 0o755); err != nil {
		t.Fatalf("%s: tools cache: %v", key.tool, err)
	}
	// One run per key even when test binaries run side by side.
	lock := flock.New(dir + ".lock")
	if err := lock.Lock(); err != nil {
		t.Fatalf("lock %s: %v", dir+".lock", err)
	}
	defer lock.Unlock()
	if _, err := os.Stat(filepath.Join(dir, ".complete")); err == nil {
		return dir // made by another test process while this one waited
	}
	tmp, err := os.MkdirTemp(parent, "."+key.tool+"-")
	if err != nil {
		t.Fatalf("%s: tools cache: %v", key.tool, err)
	}
	defer os.RemoveAll(tmp)
	// Readable by everyone: a tool may run as another user (makepkg as
	// nobody) and write into it.
	if err := os.Chmod(tmp, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := produce(tmp); err != nil {
		t.Fatalf("%s: %v", key.tool, err)
	}
	if err := os.WriteFile(filepath.Join(tmp, ".complete"), nil, 0o644); err != nil {
		t.Fatalf("%s: tools cache: %v", key.tool, err)
	}
	os.RemoveAll(dir) // an incomplete run of a process that died
	if err := os.Rename(tmp, dir); err != nil {
		t.Fatalf("%s: tools cache: %v", key.tool, err)
	}
	return dir
}

// CachedOutput returns what run writes to standard output (its one file,
// "stdout", in CachedOracle's directory), from the tools cache when the
// same key was run before.
func CachedOutput(t testing.TB, key *OracleKey, run func() ([]byte, error)) []byte {
	t.Helper()
	dir := CachedOracle(t, key, func(dir string) error {
		out, err := run()
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, "stdout"), out, 0o644)
	})
	out, err := os.ReadFile(filepath.Join(dir, "stdout"))
	if err != nil {
		t.Fatalf("%s: %v", key.tool, err)
	}
	return out
}

// repoScriptKey starts the key of a run of repo-add or repo-remove (one
// script): the script, the makepkg libraries it sources, and the packages
// of what it forks (bsdtar and libarchive, coreutils' hashes, gettext,
// sed, grep, the compressors, gpg, bash itself).
func repoScriptKey(t testing.TB, tool string) *OracleKey {
	t.Helper()
	k := NewOracleKey(tool)
	k.Tool(t, tool)
	k.Tree(t, "/usr/share/makepkg")
	k.Packages(t, "pacman-package-manager", "makepkg", "libarchive*", "bash", "coreutils",
		"gettext-base", "sed", "grep", "findutils", "gzip", "bzip2", "xz-utils", "liblzma*",
		"zstd", "libzstd*", "lz4", "liblz4*", "gpg", "openssl")
	return k
}

// RepoAdd is the real `repo-add ARGS DB PKGS...` (LC_ALL=C.UTF-8, as on
// users' machines), replayed from the tools cache when the same packages
// (names, bytes and .sig files), arguments and database already in place
// were run before: it leaves in DB's directory the NAME.db* and
// NAME.files* files repo-add leaves there, and returns its combined
// output (that of the run kept: the paths it names may be another
// test's). A failure of repo-add fails the test. Runs that sign or verify
// (-s, -k, -v) depend on a keyring and always run for real.
func RepoAdd(t testing.TB, args []string, db string, pkgs ...string) string {
	t.Helper()
	return repoScript(t, "repo-add", args, db, pkgs, nil)
}

// RepoRemove is the real `repo-remove ARGS DB NAMES...`, replayed from
// the tools cache as RepoAdd is.
func RepoRemove(t testing.TB, args []string, db string, names ...string) string {
	t.Helper()
	return repoScript(t, "repo-remove", args, db, nil, names)
}

// repoScript runs tool (repo-add or repo-remove) on db with the package
// files pkgs or the package names, or replays a kept run.
func repoScript(t testing.TB, tool string, args []string, db string, pkgs, names []string) string {
	t.Helper()
	RequireTool(t, "bsdtar")
	dbDir, dbBase := filepath.Split(db)
	name, _, ok := strings.Cut(dbBase, ".db")
	if !ok {
		t.Fatalf("%s: %s is not a NAME.db... path", tool, db)
	}
	key := repoScriptKey(t, tool)
	for _, a := range args {
		switch a {
		case "-s", "--sign", "-k", "--key", "-v", "--verify":
			// A keyring is an input this key does not hold.
			key.unknown = true
		}
		key.String("arg", a)
	}
	key.String("db", dbBase)
	// The database already there, which repo-add adds to.
	outputs := func(dir string) []string {
		var names []string
		for _, pattern := range []string{name + ".db*", name + ".files*"} {
			m, _ := filepath.Glob(filepath.Join(dir, pattern))
			names = append(names, m...)
		}
		slices.Sort(names)
		return names
	}
	for _, p := range outputs(dbDir) {
		key.File(t, p)
	}
	for _, p := range pkgs {
		key.File(t, p)
		key.File(t, p+".sig")
	}
	for _, n := range names {
		key.String("name", n)
	}
	cached := CachedOracle(t, key, func(dir string) error {
		cmd := exec.Command(tool, slices.Concat(args, []string{db}, pkgs, names)...)
		cmd.Env = append(os.Environ(), "LC_ALL=C.UTF-8", "LANG=C.UTF-8")
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("%s %s: %v\n%s", tool, db, err, out)
		}
		if err := os.WriteFile(filepath.Join(dir, "output"), out, 0o644); err != nil {
			return err
		}
		for _, p := range outputs(dbDir) {
			if err := copyEntry(p, filepath.Join(dir, filepath.Base(p))); err != nil {
				return err
			}
		}
		return nil
	})
	for _, p := range outputs(cached) {
		target := filepath.Join(dbDir, filepath.Base(p))
		os.Remove(target)
		if err := copyEntry(p, target); err != nil {
			t.Fatalf("%s: %v", tool, err)
		}
	}
	out, err := os.ReadFile(filepath.Join(cached, "output"))
	if err != nil {
		t.Fatalf("%s: %v", tool, err)
	}
	return string(out)
}

// copyEntry copies a regular file (its bytes and permissions) or a
// symbolic link (its target) from src to dst.
func copyEntry(src, dst string) error {
	st, err := os.Lstat(src)
	if err != nil {
		return err
	}
	if st.Mode()&os.ModeSymlink != 0 {
		target, err := os.Readlink(src)
		if err != nil {
			return err
		}
		return os.Symlink(target, dst)
	}
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	if err := os.WriteFile(dst, data, st.Mode().Perm()); err != nil {
		return fmt.Errorf("write %s: %w", dst, err)
	}
	return nil
}
