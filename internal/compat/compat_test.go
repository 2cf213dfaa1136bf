package compat_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/pacrepo/pacrepo/internal/pkgfile"
	"github.com/pacrepo/pacrepo/internal/repo"
	"github.com/pacrepo/pacrepo/internal/repodb"
	"github.com/pacrepo/pacrepo/internal/testutil"
)

// dbExts are the database compressions both repo-add and we write.
var dbExts = []string{".tar", ".tar.gz", ".tar.bz2", ".tar.xz", ".tar.zst", ".tar.lz4"}

// signed is the fixture that gets a detached signature, so that %PGPSIG% is
// compared too. repo-add does not verify it (without -v): any bytes do.
const signed = "fixture-deps-*.pkg.tar.zst"

// md5Section is the one section of repo-add's desc that we never write.
var md5Section = regexp.MustCompile(`(?m)^%MD5SUM%\n[0-9a-f]{32}\n\n`)

// pgpSection is %PGPSIG%, written only when asked for.
var pgpSection = regexp.MustCompile(`(?m)^%PGPSIG%\n[A-Za-z0-9+/=]+\n\n`)

// repoFixtures copies every fixture into a new directory, adds a signature
// to one of them, and returns the directory and the package paths.
func repoFixtures(t *testing.T) (string, []string) {
	t.Helper()
	dir := t.TempDir()
	return dir, copyFixtures(t, dir)
}

func copyFixtures(t *testing.T, dir string) []string {
	t.Helper()
	pkgs := testutil.CopyFixtures(t, dir, "*.pkg.tar*")
	for _, p := range pkgs {
		if ok, _ := filepath.Match(signed, filepath.Base(p)); ok {
			if err := os.WriteFile(p+".sig", fixtureSignature(t, p), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return pkgs
}

// fixtureSignatures are made once, so that every copy of a fixture (for
// repo-add and for us) carries the same signature.
var fixtureSignatures struct {
	sync.Mutex
	sigs map[string][]byte
}

func fixtureSignature(t *testing.T, pkg string) []byte {
	fixtureSignatures.Lock()
	defer fixtureSignatures.Unlock()
	if sig, ok := fixtureSignatures.sigs[filepath.Base(pkg)]; ok {
		return sig
	}
	if fixtureSignatures.sigs == nil {
		fixtureSignatures.sigs = map[string][]byte{}
	}
	// A real signature by a new key, kept in the tools cache by the
	// fixture's bytes: the same signature every run, so that repo-add's
	// databases of the fixtures, a function of the .sig files too, replay
	// from the cache (see testutil.RepoAdd).
	key := testutil.NewOracleKey("compat-fixture-signature")
	key.File(t, pkg)
	sig := testutil.CachedOutput(t, key, func() ([]byte, error) {
		return testutil.NewPGPKey(t, "packager").SignBytes(pkg)
	})
	fixtureSignatures.sigs[filepath.Base(pkg)] = sig
	return sig
}

// repoAdd runs the real repo-add on pkgs into dir/NAME.db<ext>, replayed
// from the tools cache when these very packages (and database already
// there) were added by this very repo-add before (see testutil.RepoAdd).
func repoAdd(t *testing.T, dir, name, ext string, pkgs []string) repodb.Location {
	t.Helper()
	db := filepath.Join(dir, name+".db"+ext)
	out := testutil.RepoAdd(t, []string{"-q"}, db, pkgs...)
	if strings.Contains(out, "ERROR") || strings.Contains(out, "WARNING") {
		t.Fatalf("repo-add complained:\n%s", out)
	}
	return repodb.Location{Dir: dir, Name: name, Ext: ext}
}

// reference is repo-add's database of the fixtures in one compression,
// made once per test binary: repo-add needs seconds for these packages.
type reference struct {
	loc   repodb.Location
	pkgs  []string
	db    tree // unpacked db archive
	files tree // unpacked files archive
	err   string
}

var (
	baseDir    string // removed by TestMain
	referenceM sync.Mutex
	references = map[string]*reference{}
	refOnce    = map[string]*sync.Once{}
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "pacrepo-compat-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	baseDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// referenceFor returns repo-add's databases of the fixtures in ext. Treat
// them as read-only.
func referenceFor(t *testing.T, ext string) *reference {
	t.Helper()
	referenceM.Lock()
	once, ok := refOnce[ext]
	if !ok {
		once = new(sync.Once)
		refOnce[ext] = once
	}
	referenceM.Unlock()
	once.Do(func() {
		r := &reference{}
		defer func() {
			referenceM.Lock()
			references[ext] = r
			referenceM.Unlock()
		}()
		dir, err := os.MkdirTemp(baseDir, "ref")
		if err != nil {
			r.err = err.Error()
			return
		}
		r.pkgs = copyFixtures(t, dir)
		r.loc = repoAdd(t, dir, "fx", ext, r.pkgs)
		r.db = unpack(t, r.loc.DBPath())
		r.files = unpack(t, r.loc.FilesPath())
	})
	referenceM.Lock()
	r := references[ext]
	referenceM.Unlock()
	if r == nil || r.err != "" || r.db == nil {
		t.Fatalf("reference database %s could not be made (see the first failure)", ext)
	}
	return r
}

// ourWrite writes the databases of pkgs with pkgfile and repodb, filling
// %PGPSIG% from .sig files as the repository layer does.
func ourWrite(t *testing.T, loc repodb.Location, pkgs []string) {
	t.Helper()
	var entries []repodb.Entry
	for _, p := range pkgs {
		pkg, err := pkgfile.Read(p, pkgfile.ReadOptions{Files: true})
		if err != nil {
			t.Fatalf("pkgfile.Read: %v", err)
		}
		e := repodb.FromPackage(pkg)
		if sig, err := os.ReadFile(p + ".sig"); err == nil {
			e.PGPSig = base64.StdEncoding.EncodeToString(sig)
		}
		entries = append(entries, e)
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name < entries[j].Name })
	if err := repodb.Write(loc, entries, repodb.WriteOptions{PGPSig: true}); err != nil {
		t.Fatalf("repodb.Write: %v", err)
	}
}

// tree is an unpacked archive: member path -> content ("" for directories,
// whose paths end in "/").
type tree map[string]string

// unpack lists and extracts an archive with bsdtar.
func unpack(t *testing.T, archive string) tree {
	t.Helper()
	dir := t.TempDir()
	testutil.Run(t, "bsdtar", "-xf", archive, "-C", dir)
	out := tree{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if d.IsDir() {
			out[rel+"/"] = ""
			return nil
		}
		if !d.Type().IsRegular() {
			return fmt.Errorf("%s: member %s is not a regular file or directory", archive, rel)
		}
		b, err := os.ReadFile(p)
		out[rel] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// compareTrees reports every difference between repo-add's archive (after
// fix is applied to each member) and ours, precisely: member, then the
// differing lines.
func compareTrees(t *testing.T, what string, want, got tree, fix func(path, content string) string) {
	t.Helper()
	for _, p := range sortedKeys(want) {
		g, ok := got[p]
		if !ok {
			t.Errorf("%s: member %s is missing from ours", what, p)
			continue
		}
		w := want[p]
		if fix != nil {
			w = fix(p, w)
		}
		if g != w {
			t.Errorf("%s: member %s differs:\n%s", what, p, lineDiff(w, g))
		}
	}
	for _, p := range sortedKeys(got) {
		if _, ok := want[p]; !ok {
			t.Errorf("%s: member %s is in ours only:\n%s", what, p, got[p])
		}
	}
}

func sortedKeys(m tree) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// lineDiff shows the lines of want and got that differ, numbered, with
// their bytes quoted so that whitespace and encodings are visible.
func lineDiff(want, got string) string {
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i := 0; i < max(len(wl), len(gl)); i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g || (i >= len(wl)) != (i >= len(gl)) {
			fmt.Fprintf(&b, "  line %d: repo-add %q\n  line %d: ours     %q\n", i+1, w, i+1, g)
		}
	}
	if b.Len() > 4000 {
		return b.String()[:4000] + "\n  ..."
	}
	return b.String()
}

func stripMD5(_, content string) string { return md5Section.ReplaceAllString(content, "") }

func stripMD5AndPGP(p, content string) string {
	return pgpSection.ReplaceAllString(stripMD5(p, content), "")
}

// compareDatabases compares both archives and both links of two locations.
func compareDatabases(t *testing.T, ref *reference, ours repodb.Location, fix func(path, content string) string) {
	t.Helper()
	compareTrees(t, ours.DBFile(), ref.db, unpack(t, ours.DBPath()), fix)
	compareTrees(t, ours.FilesFile(), ref.files, unpack(t, ours.FilesPath()), fix)
	for _, pair := range [][2]string{{ref.loc.DBLink(), ours.DBLink()}, {ref.loc.FilesLink(), ours.FilesLink()}} {
		w, err := os.Readlink(pair[0])
		if err != nil {
			t.Fatalf("repo-add's link: %v", err)
		}
		g, err := os.Readlink(pair[1])
		if err != nil {
			t.Errorf("our link: %v", err)
			continue
		}
		if w != g {
			t.Errorf("link %s -> %s, repo-add's -> %s", filepath.Base(pair[1]), g, w)
		}
	}
}

func requireTools(t *testing.T) {
	for _, tool := range []string{"repo-add", "bsdtar", "pacman"} {
		testutil.RequireTool(t, tool)
	}
}

// TestSameDatabaseAsRepoAdd: for every compression, our databases equal
// repo-add's on the makepkg fixtures, apart from %MD5SUM%.
func TestSameDatabaseAsRepoAdd(t *testing.T) {
	requireTools(t)
	for _, ext := range dbExts {
		t.Run(ext, func(t *testing.T) {
			t.Parallel()
			ref := referenceFor(t, ext)
			ourDir, ourPkgs := repoFixtures(t)
			ours := repodb.Location{Dir: ourDir, Name: "fx", Ext: ext}
			ourWrite(t, ours, ourPkgs)
			compareDatabases(t, ref, ours, stripMD5)
		})
	}
}

// TestResetSameAsRepoAdd: repo.Reset on a directory of fixtures writes what
// repo-add writes, apart from %MD5SUM%.
func TestResetSameAsRepoAdd(t *testing.T) {
	requireTools(t)
	for _, ext := range []string{".tar.zst", ".tar.gz"} {
		t.Run(ext, func(t *testing.T) {
			ref := referenceFor(t, ext)
			ourDir, _ := repoFixtures(t)
			ours := repodb.Location{Dir: ourDir, Name: "fx", Ext: ext}
			r := repo.New(repo.Options{DB: ours})
			res, err := r.Reset(context.Background(), repo.Request{EmbedSignatures: true, Force: true})
			if err != nil {
				t.Fatalf("repo.Reset: %v", err)
			}
			if len(res.Plan.Problems) != 0 {
				t.Fatalf("repo.Reset found problems: %+v", res.Plan.Problems)
			}
			compareDatabases(t, ref, ours, stripMD5)
		})
	}
}

// TestRoundTripRepoAddDatabase: reading repo-add's databases and writing
// them back changes nothing but %MD5SUM% (and %PGPSIG% when not asked for).
func TestRoundTripRepoAddDatabase(t *testing.T) {
	requireTools(t)
	for _, ext := range dbExts {
		t.Run(ext, func(t *testing.T) {
			t.Parallel()
			ref := referenceFor(t, ext)
			entries, err := repodb.ReadLocation(ref.loc, repodb.ReadOptions{Files: true})
			if err != nil {
				t.Fatalf("repodb.Read: %v", err)
			}
			if len(entries) != len(ref.pkgs) {
				t.Fatalf("repodb.Read: %d entries, want %d", len(entries), len(ref.pkgs))
			}
			for _, withSig := range []bool{true, false} {
				ours := repodb.Location{Dir: t.TempDir(), Name: "fx", Ext: ext}
				if err := repodb.Write(ours, entries, repodb.WriteOptions{PGPSig: withSig}); err != nil {
					t.Fatalf("repodb.Write: %v", err)
				}
				fix := stripMD5
				if !withSig {
					fix = stripMD5AndPGP
				}
				compareDatabases(t, ref, ours, fix)
			}
		})
	}
}

// pkginfoFields reads key = value lines of a package's .PKGINFO with bsdtar.
func pkginfoFields(t *testing.T, pkg string) map[string][]string {
	t.Helper()
	out := testutil.Run(t, "bsdtar", "-xOf", pkg, ".PKGINFO")
	fields := map[string][]string{}
	for _, l := range strings.Split(out, "\n") {
		k, v, ok := strings.Cut(l, " = ")
		if ok && !strings.HasPrefix(k, "#") {
			fields[k] = append(fields[k], v)
		}
	}
	return fields
}

var (
	md5Line     = regexp.MustCompile(`(?m)^MD5 Sum *:.*\n`)
	md5Validate = regexp.MustCompile(`(?m)^(Validated By *: )MD5 Sum  `)
)

// withoutMD5 drops what pacman -Sii says of MD5 sums: repo-add's databases
// have them, ours do not.
func withoutMD5(info string) string {
	return md5Validate.ReplaceAllString(md5Line.ReplaceAllString(info, ""), "$1")
}

func sha256File(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", sha256.Sum256(b))
}

// TestPacmanReadsOurDatabase: the real pacman syncs our database, lists and
// shows every package as it does for repo-add's, downloads them verifying
// their SHA-256 (and refuses a corrupted one), and lists their files as
// bsdtar does.
func TestPacmanReadsOurDatabase(t *testing.T) {
	requireTools(t)
	for _, ext := range dbExts {
		t.Run(ext, func(t *testing.T) {
			t.Parallel()
			ref := referenceFor(t, ext)
			ourDir, ourPkgs := repoFixtures(t)
			ourWrite(t, repodb.Location{Dir: ourDir, Name: "fx", Ext: ext}, ourPkgs)

			refPM := testutil.NewPacman(t, map[string]string{"fx": ref.loc.Dir})
			pm := testutil.NewPacman(t, map[string]string{"fx": ourDir})
			refPM.MustRun("-Sy")
			pm.MustRun("-Sy")

			// -Sl: every package with the version of its .PKGINFO.
			var want, names, pkgNames []string
			for _, p := range ourPkgs {
				f := pkginfoFields(t, p)
				want = append(want, f["pkgname"][0]+" "+f["pkgver"][0])
				names = append(names, f["pkgname"][0])
				pkgNames = append(pkgNames, f["pkgname"][0])
			}
			sort.Strings(want)
			sort.Strings(names)
			if got := pm.Sync("fx"); !reflect.DeepEqual(got, want) {
				t.Errorf("pacman -Sl fx:\n got %q\nwant %q", got, want)
			}

			// -Sii of every package: as for repo-add's database, except
			// that ours has no MD5 sum.
			for _, n := range names {
				w := withoutMD5(refPM.MustRun("-Sii", "fx/"+n))
				g := withoutMD5(pm.MustRun("-Sii", "fx/"+n))
				if w != g {
					t.Errorf("pacman -Sii fx/%s differs from repo-add's database:\n%s", n, lineDiff(w, g))
				}
			}
			// ... and shows what the PKGBUILDs say. (pacman 6.0 shows
			// neither make/check depends nor the base: the byte comparison
			// with repo-add's desc covers those.)
			deps := pm.Info("fx", "fixture-deps")
			checkInfo(t, deps, map[string]string{
				"Version":        "1.2.3-4",
				"Description":    "Package with every kind of dependency",
				"URL":            "https://example.org/deps",
				"Depends On":     "glibc>=2.31  zlib<2  bash=5.1.016-1  coreutils  libfoo.so=1-64  sed<=4.9  grep>3",
				"Optional Deps":  "python: for the foo: bar script\nfixture-plugin>=2: plugins: extra ones\nperl",
				"Provides":       "fixture-virtual  fixture-api=1.2  libdeps.so=3-64",
				"Conflicts With": "fixture-deps-git  fixture-old<1.0",
				"Replaces":       "fixture-legacy  fixture-ancient<=0.5",
				"Groups":         "fixture-group  fixture-other-group",
				"Licenses":       "GPL3  LGPL2.1  MIT",
				"Architecture":   "x86_64",
				"Packager":       "Pacrepo Fixtures <fixtures@pacrepo.invalid>",
				"Validated By":   "SHA-256 Sum  Signature",
			})
			checkInfo(t, pm.Info("fx", "fixture-unicode"), map[string]string{
				"Description": `Ünïcödé – 中文 ✓ "quoted" & <special>`,
				"URL":         "https://example.org/ünïcödé",
			})
			checkInfo(t, pm.Info("fx", "fixture-epoch"), map[string]string{"Version": "2:1.0.1-3"})
			checkInfo(t, pm.Info("fx", "fixture-any"), map[string]string{"Version": "0.9_beta2-1.1", "Architecture": "any"})
			checkInfo(t, pm.Info("fx", "fixture-split-extra"), map[string]string{
				"Depends On":    "fixture-split-core=3.4.5-2  zlib",
				"Optional Deps": "fixture-split-doc: documentation",
			})
			sii := testutil.ParsePacmanInfo(pm.MustRun("-Sii", "fx/fixture-deps"))
			checkInfo(t, sii, map[string]string{
				"SHA-256 Sum": sha256File(t, testutil.Fixture(t, "fixture-deps-*")[0]),
				"MD5 Sum":     "None",
			})

			// -Sw downloads every package and verifies its SHA-256.
			cache := t.TempDir()
			pm.MustRun(append([]string{"-Sw", "--nodeps", "--nodeps", "--cachedir", cache}, names...)...)
			for _, p := range ourPkgs {
				a, _ := os.ReadFile(p)
				b, err := os.ReadFile(filepath.Join(cache, filepath.Base(p)))
				if err != nil || !bytes.Equal(a, b) {
					t.Errorf("pacman -Sw: %s not downloaded intact (%v)", filepath.Base(p), err)
				}
			}
			// A corrupted package (same size, one byte changed) is refused.
			victim := testutil.Fixture(t, "fixture-epoch-*")[0]
			corruptCopy(t, filepath.Join(ourDir, filepath.Base(victim)))
			out, err := pm.Run("-Sw", "--nodeps", "--nodeps", "--cachedir", t.TempDir(), "fixture-epoch")
			if err == nil {
				t.Errorf("pacman -Sw accepted a corrupted package:\n%s", out)
			} else if !strings.Contains(out, "invalid or corrupted package") && !strings.Contains(out, "checksum") {
				t.Errorf("pacman -Sw failed, but not on the checksum:\n%s", out)
			}

			// -Fy, -Fl: every file list as bsdtar sees the package.
			pm.MustRun("-Fy")
			got := map[string][]string{}
			for _, l := range strings.Split(strings.TrimSpace(pm.MustRun("-Fl")), "\n") {
				n, f, _ := strings.Cut(l, " ")
				got[n] = append(got[n], f)
			}
			for i, p := range ourPkgs {
				n := pkgNames[i]
				var w []string
				pristine := filepath.Join(testutil.FixturesDir(t), filepath.Base(p))
				for _, f := range strings.Split(strings.TrimSpace(testutil.Run(t, "bsdtar", "-tf", pristine)), "\n") {
					if !strings.HasPrefix(f, ".") {
						w = append(w, f)
					}
				}
				sort.Strings(w)
				if !reflect.DeepEqual(got[n], w) {
					t.Errorf("pacman -Fl %s: %d files, bsdtar lists %d; first differences:\n%s", n, len(got[n]), len(w),
						lineDiff(strings.Join(w, "\n"), strings.Join(got[n], "\n")))
				}
			}
		})
	}
}

// checkInfo compares the pacman -Si fields that want gives a non-empty value.
func checkInfo(t *testing.T, got, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if v == "" {
			continue
		}
		if got[k] != v {
			t.Errorf("pacman -Si %s: %s = %q, want %q", got["Name"], k, got[k], v)
		}
	}
}

// corruptCopy flips one byte in the middle of the file, keeping its size.
func corruptCopy(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
