package pkgfile

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pacrepo/pacrepo/internal/compress"
	"github.com/pacrepo/pacrepo/internal/testutil"
	"github.com/pacrepo/pacrepo/internal/testutil/pkggen"
)

// bsdtarFiles is repo-add's file list of a package:
// bsdtar --exclude='^.*' -tf pkg | LC_ALL=C sort -u.
func bsdtarFiles(t *testing.T, path string) []string {
	t.Helper()
	// Like repo-add, keep what bsdtar prints even when it complains (it
	// exits 1 for names it cannot convert to the locale, yet lists them).
	cmd := exec.Command(testutil.RequireTool(t, "bsdtar"), "--exclude=^.*", "-tf", path)
	cmd.Env = append(os.Environ(), "LC_ALL=C.UTF-8")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	outb, err := cmd.Output()
	if err != nil && stderr.Len() == 0 {
		t.Fatalf("bsdtar -tf %s: %v", path, err)
	}
	out := string(outb)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if out == "" {
		lines = nil
	}
	slices.Sort(lines) // Go compares bytes, as LC_ALL=C sort does
	return slices.Compact(lines)
}

// oraclePKGINFO runs repo-add's own .PKGINFO loop (copied from
// /usr/bin/repo-add) in bash over data and prints the variables it sets, in
// the order of db_write_entry's desc file.
const oracleScript = `shopt -s extglob
while read -r line; do
	[[ ${line:0:1} = '#' ]] && continue
	IFS=' =' read -r var val < <(printf '%s\n' "$line")
	declare "$var=${val//+([[:space:]])/ }" 2>/dev/null
	case $var in
		group) _groups+=("$group") ;;
		license) _licenses+=("$license") ;;
		replaces) _replaces+=("$replaces") ;;
		depend) _depends+=("$depend") ;;
		conflict) _conflicts+=("$conflict") ;;
		provides) _provides+=("$provides") ;;
		optdepend) _optdepends+=("$optdepend") ;;
		makedepend) _makedepends+=("$makedepend") ;;
		checkdepend) _checkdepends+=("$checkdepend") ;;
		backup) _backups+=("$backup") ;;
	esac
done
p() { printf '%s\n' "$1"; shift; printf '[%s]\n' "$@"; }
p NAME "$pkgname"; p BASE "$pkgbase"; p VERSION "$pkgver"; p DESC "$pkgdesc"
p URL "$url"; p ARCH "$arch"; p PACKAGER "$packager"; p BUILDDATE "$builddate"; p SIZE "$size"
p GROUPS "${_groups[@]}"; p LICENSE "${_licenses[@]}"; p REPLACES "${_replaces[@]}"
p CONFLICTS "${_conflicts[@]}"; p PROVIDES "${_provides[@]}"; p DEPENDS "${_depends[@]}"
p OPTDEPENDS "${_optdepends[@]}"; p MAKEDEPENDS "${_makedepends[@]}"
p CHECKDEPENDS "${_checkdepends[@]}"; p BACKUP "${_backups[@]}"
`

func oraclePKGINFO(t *testing.T, data []byte) string {
	t.Helper()
	bash := testutil.RequireTool(t, "bash")
	cmd := exec.Command(bash, "-c", oracleScript)
	cmd.Stdin = bytes.NewReader(data)
	cmd.Env = append(os.Environ(), "LC_ALL=C.UTF-8")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("bash oracle: %v", err)
	}
	return string(out)
}

// oraclePKGINFOs is oraclePKGINFO of each of docs, one bash per document
// as before, replayed from the tools cache when the same documents were
// run by the same bash (its bytes and package version) and script: bash
// forks a subshell for every line, hundreds of process starts a run.
func oraclePKGINFOs(t *testing.T, docs [][]byte) []string {
	t.Helper()
	key := testutil.NewOracleKey("bash-pkginfo")
	key.Tool(t, "bash")
	key.Packages(t, "bash")
	key.String("script", oracleScript)
	for _, doc := range docs {
		key.Bytes("doc", doc)
	}
	out := testutil.CachedOutput(t, key, func() ([]byte, error) {
		outs := make([]string, len(docs))
		for i, doc := range docs {
			outs[i] = oraclePKGINFO(t, doc)
		}
		return json.Marshal(outs)
	})
	var outs []string
	if err := json.Unmarshal(out, &outs); err != nil || len(outs) != len(docs) {
		t.Fatalf("bash oracle's kept outputs: %d for %d documents, %v", len(outs), len(docs), err)
	}
	return outs
}

// describe prints info in oraclePKGINFO's format.
func describe(info *Info) string {
	var b strings.Builder
	p := func(name string, vals ...string) {
		b.WriteString(name + "\n")
		if len(vals) == 0 {
			vals = []string{""} // bash's printf prints the format once
		}
		for _, v := range vals {
			b.WriteString("[" + v + "]\n")
		}
	}
	num := func(n int64, s string) string {
		if n == 0 && s == "" {
			return ""
		}
		return strconv.FormatInt(n, 10)
	}
	p("NAME", info.Name)
	p("BASE", info.Base)
	p("VERSION", info.Version)
	p("DESC", info.Desc)
	p("URL", info.URL)
	p("ARCH", info.Arch)
	p("PACKAGER", info.Packager)
	p("BUILDDATE", num(info.BuildDate, ""))
	p("SIZE", num(info.Size, ""))
	p("GROUPS", info.Groups...)
	p("LICENSE", info.Licenses...)
	p("REPLACES", info.Replaces...)
	p("CONFLICTS", info.Conflicts...)
	p("PROVIDES", info.Provides...)
	p("DEPENDS", info.Depends...)
	p("OPTDEPENDS", info.OptDepends...)
	p("MAKEDEPENDS", info.MakeDepends...)
	p("CHECKDEPENDS", info.CheckDepends...)
	p("BACKUP", info.Backup...)
	return b.String()
}

func hashTool(t *testing.T, tool, path string) string {
	t.Helper()
	out := testutil.Run(t, tool, path)
	return strings.Fields(out)[0]
}

// checkAgainstOracles compares everything Read returns for path with the
// reference tools: bsdtar (file list, .PKGINFO), repo-add's parsing loop in
// bash, sha256sum, md5sum and stat.
func checkAgainstOracles(t *testing.T, path string) *Package {
	t.Helper()
	pkg, err := Read(path, ReadOptions{Files: true, MD5: true})
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	if want := bsdtarFiles(t, path); !slices.Equal(pkg.Files, want) {
		t.Errorf("Files differ from bsdtar:\n got %q\nwant %q", pkg.Files, want)
	}
	if want := hashTool(t, "sha256sum", path); pkg.SHA256 != want {
		t.Errorf("SHA256 = %s, sha256sum says %s", pkg.SHA256, want)
	}
	if want := hashTool(t, "md5sum", path); pkg.MD5 != want {
		t.Errorf("MD5 = %s, md5sum says %s", pkg.MD5, want)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if pkg.CSize != st.Size() || pkg.ModTime != st.ModTime().UnixNano() {
		t.Errorf("CSize, ModTime = %d, %d; stat says %d, %d", pkg.CSize, pkg.ModTime, st.Size(), st.ModTime().UnixNano())
	}
	if pkg.Filename != filepath.Base(path) || pkg.Path != path {
		t.Errorf("Filename, Path = %q, %q", pkg.Filename, pkg.Path)
	}
	pkginfo := testutil.Run(t, "bsdtar", "-xOqf", path, ".PKGINFO")
	if got, want := describe(&pkg.Info), oraclePKGINFO(t, []byte(pkginfo)); got != want {
		t.Errorf(".PKGINFO parsed differently from repo-add:\n got %s\nwant %s", got, want)
	}
	return pkg
}

// TestReadFixtures reads every makepkg-built fixture package (every
// compression format, split packages, epochs, Unicode names, 1,000 files)
// and compares the result with the reference tools.
func TestReadFixtures(t *testing.T) {
	for _, path := range testutil.AllFixtures(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			pkg := checkAgainstOracles(t, path)
			if !strings.HasPrefix(pkg.Filename, pkg.Name+"-"+pkg.Version+"-"+pkg.Arch+".pkg.tar") {
				t.Errorf("name %s, version %s, arch %s do not match the file name", pkg.Name, pkg.Version, pkg.Arch)
			}
		})
	}
}

// TestReadWithoutFiles checks that skipping the file list changes nothing
// else.
func TestReadWithoutFiles(t *testing.T) {
	for _, path := range testutil.Fixture(t, "fixture-compress-*") {
		with, err := Read(path, ReadOptions{Files: true})
		if err != nil {
			t.Fatal(err)
		}
		without, err := Read(path, ReadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if without.Files != nil || without.MD5 != "" {
			t.Errorf("%s: Files or MD5 set without being asked for", path)
		}
		without.Files = with.Files
		if !equalPackages(with, without) {
			t.Errorf("%s: reading without files gives other results", path)
		}
	}
}

func equalPackages(a, b *Package) bool {
	return describe(&a.Info) == describe(&b.Info) && slices.Equal(a.Extra, b.Extra) &&
		a.CSize == b.CSize && a.SHA256 == b.SHA256 && a.MD5 == b.MD5 && slices.Equal(a.Files, b.Files)
}

// TestFileListOddNames compares the file list with bsdtar's for names
// that need escaping, directories stored without a slash, duplicates,
// dot-files at every level and names bsdtar prints as stored.
func TestFileListOddNames(t *testing.T) {
	names := []entry{
		{name: "pax_global_header", typ: tar.TypeXGlobalHeader, data: "git archive writes one"},
		{name: ".BUILDINFO", data: "x"},
		{name: ".PKGINFO", data: minimalPKGINFO},
		{name: ".hidden/"},
		{name: ".hidden/below"},
		{name: "usr/"},
		{name: "usr/.dotfile"},
		{name: "usr/bin/"},
		{name: "usr/bin/a\nb"},
		{name: "usr/bin/tab\there"},
		{name: "usr/bin/back\\slash"},
		{name: "usr/bin/bad\xffutf8"},
		{name: "usr/bin/c1\u0085control"},
		{name: "usr/bin/bell\a esc\x1b del\x7f"},
		{name: "usr/bin/ünïcödé 日本語"},
		{name: "usr/bin/zero\u200bwidth nbsp\u00a0"},
		{name: "usr/bin/dup"},
		{name: "usr/bin/dup"},
		{name: "usr/share", typ: tar.TypeDir},
		{name: "usr/share/link", typ: tar.TypeSymlink},
		{name: "/abs/path"},
		{name: "./dot-slash"},
		{name: "././/./twice"},
		{name: "./.hidden-after-dot-slash"},
		{name: "./"},
		{name: "."},
		{name: "./."},
		{name: "..dots"},
		{name: "usr/" + strings.Repeat("long/", 40) + "name"},
	}
	dir := t.TempDir()
	for _, f := range []compress.Format{compress.None, compress.Zstd} {
		path := filepath.Join(dir, "odd.pkg.tar"+f.Ext())
		if err := os.WriteFile(path, compressBytes(t, f, makeTar(t, names, true)), 0o644); err != nil {
			t.Fatal(err)
		}
		checkAgainstOracles(t, path)
	}
}

// TestSparseEntries reads a package whose files bsdtar stored as sparse
// (PAX and GNU formats), as makepkg did before it passed --no-read-sparse.
// The sparse file comes last: the end-of-archive check must use the size
// stored, not the logical size.
func TestSparseEntries(t *testing.T) {
	testutil.RequireTool(t, "bsdtar")
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	if err := os.MkdirAll(filepath.Join(root, "usr/lib"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, root, ".PKGINFO", []byte(minimalPKGINFO))
	f, err := os.Create(filepath.Join(root, "usr/lib/sparse.img"))
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte("data in the middle"), 3<<20)
	f.Truncate(8 << 20)
	f.Close()
	writeFile(t, root, "usr/lib/after", []byte("after the sparse file"))
	for _, format := range []string{"pax", "gnutar"} {
		path := filepath.Join(dir, "sparse-"+format+".pkg.tar")
		testutil.Run(t, "bsdtar", "-C", root, "--format="+format, "--read-sparse", "-cf", path, ".PKGINFO", "usr/", "usr/lib/", "usr/lib/after", "usr/lib/sparse.img")
		checkAgainstOracles(t, path)
	}
}

// TestReadReusesBuffersSafely: packages read one after another (the
// buffers that skip their data recycled between them) read the same as
// the first time.
func TestReadReusesBuffersSafely(t *testing.T) {
	dir := t.TempDir()
	var paths []string
	for i := range 5 {
		p, err := pkggen.MakePackage(dir, pkggen.Spec{Name: fmt.Sprintf("p%d", i), Version: "1-1", NumFiles: 40, FileSize: 70000})
		if err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	for round := range 3 {
		for _, p := range paths {
			done := make(chan error, 1)
			go func() { _, err := Read(p, ReadOptions{}); done <- err }()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("round %d: %v", round, err)
				}
			case <-time.After(30 * time.Second):
				t.Fatalf("round %d: reading %s does not end", round, p)
			}
		}
	}
}
