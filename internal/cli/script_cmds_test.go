package cli_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/pacrepo/pacrepo/internal/testutil"
	"github.com/pacrepo/pacrepo/internal/testutil/pkggen"
)

// scriptCommands are the extra commands of the CLI scripts: they make the
// package files a repository is built from.
var scriptCommands = map[string]func(ts *testscript.TestScript, neg bool, args []string){
	"mkpkg":    cmdMkpkg,
	"truncate": cmdTruncate,
	"pgpkey":   cmdPGPKey,
	"pgpsign":  cmdPGPSign,
	"elfpkg":   cmdELFPkg,
}

// elfpkg DIR FILE... copies the C packages built by makepkg
// (testutil.ELFFixture: libfoo-1-1-x86_64.pkg.tar.zst, libfoo-2-1-...,
// bar-1-1-..., baz-1-1-any...) into DIR. Without them the script fails.
func cmdELFPkg(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: elfpkg DIR FILE...")
	}
	src, err := testutil.ELFFixturesDir()
	if err != nil {
		ts.Fatalf("ELF fixtures: %v", err)
	}
	dir := ts.MkAbs(args[0])
	ts.Check(os.MkdirAll(dir, 0o755))
	for _, base := range args[1:] {
		data, err := os.ReadFile(filepath.Join(src, base))
		ts.Check(err)
		ts.Check(os.WriteFile(filepath.Join(dir, base), data, 0o644))
	}
}

// scriptKeys are the signing keys of the scripts, by $WORK and name.
var scriptKeys sync.Map

// pgpkey NAME makes a signing key and writes its public key to
// $WORK/NAME.asc (a keyring file) and its secret key to $WORK/NAME.sec.asc.
func cmdPGPKey(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: pgpkey NAME")
	}
	k, err := testutil.MakePGPKey(ts.Getenv("WORK"), args[0])
	ts.Check(err)
	ts.Check(k.WriteSecret(filepath.Join(ts.Getenv("WORK"), args[0]+".sec.asc")))
	scriptKeys.Store(ts.Getenv("WORK")+"/"+args[0], k)
}

// pgpsign NAME FILE writes FILE.sig, a detached signature by key NAME.
func cmdPGPSign(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: pgpsign NAME FILE")
	}
	k, ok := scriptKeys.Load(ts.Getenv("WORK") + "/" + args[0])
	if !ok {
		ts.Fatalf("pgpsign: no key %s (pgpkey %s first)", args[0], args[0])
	}
	file := ts.MkAbs(args[1])
	sig, err := k.(*testutil.PGPKey).SignBytes(file)
	ts.Check(err)
	ts.Check(os.WriteFile(file+".sig", sig, 0o644))
}

// mkpkg DIR NAME VERSION [key=value...] writes a valid package in DIR.
// Keys: arch, ext, depends and provides (comma-separated), files (a
// count), desc. A NAME or VERSION in double quotes is a Go string literal ("n\xffx").
func cmdMkpkg(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 3 {
		ts.Fatalf("usage: mkpkg DIR NAME VERSION [key=value...]")
	}
	for _, i := range []int{1, 2} {
		if strings.HasPrefix(args[i], `"`) {
			s, err := strconv.Unquote(args[i])
			ts.Check(err)
			args[i] = s
		}
	}
	spec := pkggen.Spec{Name: args[1], Version: args[2], NumFiles: 2}
	for _, kv := range args[3:] {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			ts.Fatalf("mkpkg: %q is not key=value", kv)
		}
		switch k {
		case "arch":
			spec.Arch = v
		case "ext":
			spec.Ext = v
		case "desc":
			spec.Desc = v
		case "depends":
			spec.Depends = strings.Split(v, ",")
		case "base":
			spec.Base = v
		case "provides":
			spec.Provides = strings.Split(v, ",")
		case "files":
			n, err := strconv.Atoi(v)
			ts.Check(err)
			spec.NumFiles = n
		default:
			ts.Fatalf("mkpkg: unknown key %q", k)
		}
	}
	dir := ts.MkAbs(args[0])
	ts.Check(os.MkdirAll(dir, 0o755))
	_, err := pkggen.MakePackage(dir, spec)
	ts.Check(err)
}

// truncate FILE SIZE cuts FILE to SIZE bytes (a negative SIZE removes that
// many bytes from the end): a package still being uploaded.
func cmdTruncate(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: truncate FILE SIZE")
	}
	path := ts.MkAbs(args[0])
	n, err := strconv.ParseInt(args[1], 10, 64)
	ts.Check(err)
	if n < 0 {
		fi, err := os.Stat(path)
		ts.Check(err)
		n += fi.Size()
	}
	ts.Check(os.Truncate(path, n))
}
