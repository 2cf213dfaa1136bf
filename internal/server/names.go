package server

import "strings"

// Kind says what a public file of a repository is. Everything that is not
// one of these kinds is never served.
type Kind int

const (
	// NotPublic: anything pacman never asks for (backups, locks, journals,
	// temporary and partial files, .old databases, other repositories'
	// databases, unknown files).
	NotPublic Kind = iota
	// Database: NAME.db.tar[.EXT] or NAME.files.tar[.EXT].
	Database
	// DatabaseLink: NAME.db or NAME.files, the names pacman downloads.
	DatabaseLink
	// Package: *.pkg.tar or *.pkg.tar.EXT.
	Package
	// Signature: the .sig of a package, a database or a database link.
	Signature
)

func (k Kind) String() string {
	switch k {
	case Database:
		return "database"
	case DatabaseLink:
		return "database link"
	case Package:
		return "package"
	case Signature:
		return "signature"
	}
	return "not public"
}

// Classify tells what the flat file name is in the repository repoName.
// It is deliberately an allow-list: a name is public only when it has the
// exact shape of something pacman downloads.
func Classify(repoName, name string) Kind {
	if repoName == "" || !flatName(name) {
		return NotPublic
	}
	if base, ok := strings.CutSuffix(name, ".sig"); ok {
		if classifyUnsigned(repoName, base) != NotPublic {
			return Signature
		}
		return NotPublic
	}
	return classifyUnsigned(repoName, name)
}

func classifyUnsigned(repoName, name string) Kind {
	if !flatName(name) {
		return NotPublic
	}
	for _, db := range []string{repoName + ".db", repoName + ".files"} {
		if name == db {
			return DatabaseLink
		}
		if rest, ok := strings.CutPrefix(name, db+".tar"); ok && archiveSuffix(rest) {
			return Database
		}
	}
	if i := strings.LastIndex(name, ".pkg.tar"); i > 0 && archiveSuffix(name[i+len(".pkg.tar"):]) {
		return Package
	}
	return NotPublic
}

// archiveSuffix accepts "" (plain .tar) or one compression extension such
// as ".zst" or ".gz": a dot followed by letters and digits only. This
// excludes .old, .tmp, .part, .lck and the like, which always follow a
// real extension.
func archiveSuffix(s string) bool {
	if s == "" {
		return true
	}
	ext, ok := strings.CutPrefix(s, ".")
	if !ok || ext == "" || len(ext) > 8 {
		return false
	}
	switch ext {
	case "old", "tmp", "part", "lck", "sig", "bak", "new", "swp":
		return false
	}
	for _, c := range ext {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// flatName rejects names pacman never asks for and names that could reach
// outside the directory: empty, dot-files (which include "." and ".."),
// anything with a separator or NUL, editor backups and partial downloads.
func flatName(name string) bool {
	if name == "" || name[0] == '.' || strings.ContainsAny(name, "/\\\x00") {
		return false
	}
	for _, suffix := range []string{"~", ".part", ".tmp", ".old", ".lck"} {
		if strings.HasSuffix(name, suffix) {
			return false
		}
	}
	return true
}

// ValidRepoName reports whether name can be a repository name in a URL
// path: pacman's repository names are made of letters, digits and a few
// punctuation characters, never a separator or a leading dot.
func ValidRepoName(name string) bool {
	if name == "" || name[0] == '.' || name[0] == '-' || len(name) > 255 {
		return false
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '-' || c == '_' || c == '.' || c == '+' || c == '@') {
			return false
		}
	}
	return true
}
