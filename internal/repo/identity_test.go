package repo

import (
	"archive/tar"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/pacrepo/pacrepo/internal/compress"
	"github.com/pacrepo/pacrepo/internal/pkgfile"
	"github.com/pacrepo/pacrepo/internal/repodb"
	"github.com/pacrepo/pacrepo/internal/testutil"
	"github.com/pacrepo/pacrepo/internal/testutil/pkggen"
)

// notUTF8 are packages whose name or version is not UTF-8: pacman cannot
// read a database holding one ("Pathname can't be converted from UTF-8"),
// so each is corrupt, like a version pacman cannot split.
var notUTF8 = []pkggen.Spec{{Name: "n\xffx", Version: "1-1"}, {Name: "v", Version: "1.\xff-1"}}

// TestNotUTF8Refused: add, update and reset refuse such a package, naming
// its file and why, register the rest, and real pacman reads the result.
func TestNotUTF8Refused(t *testing.T) {
	r := newRepo(t)
	src := t.TempDir()
	var bad []string
	for _, s := range notUTF8 {
		s.NumFiles = 1
		p, err := pkggen.MakePackage(src, s)
		if err != nil {
			t.Fatal(err)
		}
		bad = append(bad, p)
	}
	refused := func(step string, problems []Problem, paths []string) {
		t.Helper()
		for _, want := range paths {
			i := slices.IndexFunc(problems, func(p Problem) bool { return filepath.Base(p.Path) == filepath.Base(want) })
			if i < 0 {
				t.Errorf("%s: %s not refused (problems %v)", step, want, problems)
				continue
			}
			if p := problems[i]; p.Kind != pkgfile.Corrupt || !strings.Contains(p.Err.Error(), "not UTF-8") {
				t.Errorf("%s: %s refused as %v: %v, want corrupt: not UTF-8", step, want, p.Kind, p.Err)
			}
		}
	}

	_, err := r.Add(ctx, append([]string{mkpkg(t, src, "good", "1-1")}, bad...), AddOptions{Mode: Copy})
	var unreadable *UnreadableFilesError
	if !errors.As(err, &unreadable) {
		t.Fatalf("add: %v, want the files refused", err)
	}
	refused("add", unreadable.Problems, bad)

	mustAdd(t, r, filepath.Join(src, fn("good", "1-1")))
	var inRepo []string
	for _, p := range bad {
		inRepo = append(inRepo, filepath.Join(r.dir(), filepath.Base(p)))
		if err := os.WriteFile(inRepo[len(inRepo)-1], must(os.ReadFile(p)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	res, err := r.Update(ctx, nil, Request{})
	if err != nil {
		t.Fatal(err)
	}
	refused("update", res.Plan.Problems, inRepo)
	res, err = r.Reset(ctx, Request{})
	if err != nil {
		t.Fatal(err)
	}
	refused("reset", res.Plan.Problems, inRepo)
	if got := registered(t, r); !reflect.DeepEqual(got, map[string]string{"good": "1-1"}) {
		t.Errorf("registered %v", got)
	}
	for _, p := range inRepo {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("refused file %s: %v", p, err)
		}
	}

	pm := testutil.NewPacman(t, map[string]string{"test": r.dir()})
	pm.MustRun("-Syy")
	if got := pm.Sync("test"); !slices.Equal(got, []string{"good 1-1"}) {
		t.Errorf("pacman -Sl test = %q", got)
	}
}

// TestCheckReportsNotUTF8Entry: an entry whose name or version is not
// UTF-8, written before the rule, is reported by check, and remove drops
// it.
func TestCheckReportsNotUTF8Entry(t *testing.T) {
	for _, s := range notUTF8 {
		t.Run(s.Version, func(t *testing.T) {
			r := newRepo(t)
			mkpkg(t, r.dir(), "good", "1-1")
			if _, err := r.Reset(ctx, Request{}); err != nil {
				t.Fatal(err)
			}
			s.NumFiles = 1
			path, err := pkggen.MakePackage(r.dir(), s)
			if err != nil {
				t.Fatal(err)
			}
			writeUncheckedDB(t, r, filepath.Join(r.dir(), fn("good", "1-1")), path)

			rep, err := r.Check(ctx, false)
			if err != nil {
				t.Fatal(err)
			}
			i := slices.IndexFunc(rep.Findings, func(f Finding) bool { return f.Kind == FindEntry })
			if i < 0 || rep.Findings[i].Path != path || !strings.Contains(rep.Findings[i].Detail, "not UTF-8") {
				t.Fatalf("check found %+v, want the entry of %s not UTF-8", rep.Findings, path)
			}

			if _, err := r.Remove(ctx, []string{s.Name}, Request{}); err != nil {
				t.Fatal(err)
			}
			if got := registered(t, r); !reflect.DeepEqual(got, map[string]string{"good": "1-1"}) {
				t.Errorf("registered after remove %v", got)
			}
		})
	}
}

// writeUncheckedDB replaces r's package database with one registering the
// packages at paths, written without the writer's checks, as an older
// pacrepo or another tool could have written it.
func writeUncheckedDB(t *testing.T, r *Repo, paths ...string) {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, path := range paths {
		p, err := pkgfile.Read(path, pkgfile.ReadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		e := repodb.FromPackage(p)
		e.Filename = filepath.Base(path)
		var desc bytes.Buffer
		if err := repodb.WriteDesc(&desc, &e, false); err != nil {
			t.Fatal(err)
		}
		dir := e.Name + "-" + e.Version + "/"
		hdrs := []*tar.Header{{Name: dir, Typeflag: tar.TypeDir, Mode: 0o755, Format: tar.FormatGNU},
			{Name: dir + "desc", Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(desc.Len()), Format: tar.FormatGNU}}
		for _, h := range hdrs {
			if err := tw.WriteHeader(h); err != nil {
				t.Fatal(err)
			}
		}
		tw.Write(desc.Bytes())
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	var zst bytes.Buffer
	zw, err := compress.NewWriter(&zst, compress.Zstd)
	if err != nil {
		t.Fatal(err)
	}
	zw.Write(buf.Bytes())
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(r.opts.DB.DBPath(), zst.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := repodb.RemoveIndex(r.opts.DB); err != nil {
		t.Fatal(err)
	}
}
