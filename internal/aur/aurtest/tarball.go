package aurtest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"sort"
	"strings"
)

// Entry is one member of a test tarball. Name is the full path inside the
// archive; Type defaults to a regular file (a directory when Name ends
// with "/").
type Entry struct {
	Name     string
	Body     string
	Mode     int64
	Type     byte
	Linkname string
	Size     int64 // header size when not len(Body) (for lying headers)
}

// Tarball builds a gzip'd tar like cgit's snapshots (git archive): a pax
// global header carrying the commit first, then the entries as given.
func Tarball(entries ...Entry) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	must(tw.WriteHeader(&tar.Header{
		Typeflag:   tar.TypeXGlobalHeader,
		Name:       "pax_global_header",
		PAXRecords: map[string]string{"comment": "0123456789abcdef0123456789abcdef01234567"},
		Format:     tar.FormatPAX,
	}))
	for _, e := range entries {
		h := &tar.Header{Name: e.Name, Mode: e.Mode, Typeflag: e.Type, Linkname: e.Linkname, Format: tar.FormatPAX}
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
			if strings.HasSuffix(e.Name, "/") {
				h.Typeflag = tar.TypeDir
			}
		}
		if h.Mode == 0 {
			h.Mode = 0o644
			if h.Typeflag == tar.TypeDir {
				h.Mode = 0o755
			}
		}
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(e.Body))
			if e.Size != 0 {
				h.Size = e.Size
			}
		}
		must(tw.WriteHeader(h))
		if h.Typeflag == tar.TypeReg && len(e.Body) > 0 {
			_, err := tw.Write([]byte(e.Body))
			must(err)
		}
	}
	must(tw.Close())
	must(zw.Close())
	return buf.Bytes()
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}

// SnapshotFor builds the snapshot of pkgbase from the packages the server
// holds for it: PKGBASE/, PKGBASE/.SRCINFO (generated from the records)
// and PKGBASE/PKGBUILD, and serves it.
func (s *Server) SnapshotFor(pkgbase string) []byte {
	s.mu.Lock()
	var pkgs []map[string]any
	for _, p := range s.pkgs {
		if p["PackageBase"] == pkgbase {
			pkgs = append(pkgs, p)
		}
	}
	s.mu.Unlock()
	data := Tarball(
		Entry{Name: pkgbase + "/"},
		Entry{Name: pkgbase + "/.SRCINFO", Body: SRCINFO(pkgbase, pkgs)},
		Entry{Name: pkgbase + "/PKGBUILD", Body: "# test PKGBUILD of " + pkgbase + "\n"},
	)
	s.SetSnapshot(pkgbase, data)
	return data
}

// SnapshotAll serves a generated snapshot for every package base.
func (s *Server) SnapshotAll() {
	s.mu.Lock()
	bases := map[string]bool{}
	for _, p := range s.pkgs {
		bases[p["PackageBase"].(string)] = true
	}
	s.mu.Unlock()
	for b := range bases {
		s.SnapshotFor(b)
	}
}

// SRCINFO writes a .SRCINFO as makepkg --printsrcinfo would for a base
// whose packages are pkgs: shared values in the pkgbase section, each
// package's own depends in its section.
func SRCINFO(pkgbase string, pkgs []map[string]any) string {
	var b strings.Builder
	fmt.Fprintf(&b, "pkgbase = %s\n", pkgbase)
	ver := ""
	if len(pkgs) > 0 {
		ver, _ = pkgs[0]["Version"].(string)
	}
	epoch, rest := "", ver
	if i := strings.IndexByte(rest, ':'); i >= 0 {
		epoch, rest = rest[:i], rest[i+1:]
	}
	pkgver, pkgrel := rest, "1"
	if i := strings.LastIndexByte(rest, '-'); i >= 0 {
		pkgver, pkgrel = rest[:i], rest[i+1:]
	}
	fmt.Fprintf(&b, "\tpkgver = %s\n\tpkgrel = %s\n", pkgver, pkgrel)
	if epoch != "" {
		fmt.Fprintf(&b, "\tepoch = %s\n", epoch)
	}
	b.WriteString("\tarch = any\n")
	// makedepends and checkdepends belong to the base.
	seen := map[string]bool{}
	for _, key := range []string{"MakeDepends", "CheckDepends"} {
		var vals []string
		for _, p := range pkgs {
			for _, v := range stringList(p[key]) {
				if !seen[key+v] {
					seen[key+v] = true
					vals = append(vals, v)
				}
			}
		}
		sort.Strings(vals)
		for _, v := range vals {
			fmt.Fprintf(&b, "\t%s = %s\n", strings.ToLower(key), v)
		}
	}
	for _, p := range pkgs {
		fmt.Fprintf(&b, "\npkgname = %s\n", p["Name"])
		for _, key := range []string{"Depends", "Provides", "Conflicts", "Replaces"} {
			for _, v := range stringList(p[key]) {
				fmt.Fprintf(&b, "\t%s = %s\n", strings.ToLower(key), v)
			}
		}
	}
	return b.String()
}
