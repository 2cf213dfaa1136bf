// Package compat holds no code, only tests: the compatibility tests of
// pacrepo's database writer against the real tools, on the packages that
// the real makepkg built from testdata/pkgbuilds.
//
// For each database compression repo-add supports and we write (.tar,
// .tar.gz, .tar.bz2, .tar.xz, .tar.zst, .tar.lz4) they check that
//   - the databases we write (pkgfile.Read, repodb.FromPackage, repodb.Write,
//     and repo.Reset) hold exactly what repo-add's hold: the same entry
//     directories, every desc byte-for-byte equal except repo-add's %MD5SUM%
//     section, every files list byte-for-byte equal, the same NAME.db and
//     NAME.files links;
//   - the real pacman reads ours: -Sy, -Sl, -Si (compared with what it shows
//     for repo-add's database), -Sw (which verifies the SHA-256, and fails on
//     a corrupted package), -Fy and -Fl (compared with bsdtar's listing);
//   - repo.Add and repo.Remove change the database as repo-add and
//     repo-remove do;
//   - reading repo-add's database and writing it back changes nothing but
//     %MD5SUM% (dropped) and, when not asked for, %PGPSIG%.
//
// Archives are unpacked with bsdtar, not with our reader, so that a bug in
// repodb.Read cannot hide one in repodb.Write.
package compat
