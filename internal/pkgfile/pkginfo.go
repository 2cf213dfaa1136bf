package pkgfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// MaxPKGINFO bounds the size of .PKGINFO. Real ones are a few KiB; a
// package with a larger one is Corrupt rather than a reason to hold
// megabytes in memory.
const MaxPKGINFO = 1 << 20

// ErrPKGINFOTooLarge is the cause of the Corrupt error for a .PKGINFO (or
// a reader given to ParsePKGINFO) larger than MaxPKGINFO.
var ErrPKGINFOTooLarge = errors.New("PKGINFO too large")

// ParsePKGINFO parses the .PKGINFO of a package exactly as repo-add does:
//
//	while read -r line; do
//		[[ ${line:0:1} = '#' ]] && continue
//		IFS=' =' read -r var val < <(printf '%s\n' "$line")
//		declare "$var=${val//+([[:space:]])/ }"
//		...
//
// So: lines are "key = value"; spaces and tabs around a line are ignored;
// lines starting with '#' are comments; the key ends at the first space or
// '=', and the value is what follows the first " = " (or "=") with its runs
// of whitespace collapsed to one space, so it may itself contain " = " and
// ':' (bash's field splitting also drops one trailing '=' after a value of
// a single word). A last line without a newline is ignored, like bash's read does, and
// NUL bytes are dropped. Repeated list keys append, repeated scalar keys
// keep the last value, and keys Info has no field for are kept in Extra
// when bash would accept them as a variable name.
//
// It fails when pkgname or pkgver is missing or empty, when builddate or
// size is not a number, or when the input exceeds MaxPKGINFO.
func ParsePKGINFO(r io.Reader) (*Info, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxPKGINFO+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxPKGINFO {
		return nil, ErrPKGINFOTooLarge
	}
	return parsePKGINFO(data)
}

func parsePKGINFO(data []byte) (*Info, error) {
	info := new(Info)
	var builddate, size string
	var haveBuilddate, haveSize bool
	for len(data) > 0 {
		nl := bytes.IndexByte(data, '\n')
		if nl < 0 {
			break // bash's read fails on an unterminated last line
		}
		line := data[:nl]
		data = data[nl+1:]
		if bytes.IndexByte(line, 0) >= 0 {
			line = bytes.ReplaceAll(line, []byte{0}, nil)
		}
		key, val, ok := splitPKGINFOLine(line)
		if !ok {
			continue
		}
		switch key {
		case "pkgname":
			info.Name = val
		case "pkgbase":
			info.Base = val
		case "pkgver":
			info.Version = val
		case "pkgdesc":
			info.Desc = val
		case "url":
			info.URL = val
		case "arch":
			info.Arch = val
		case "packager":
			info.Packager = val
		case "builddate":
			builddate, haveBuilddate = val, true
		case "size":
			size, haveSize = val, true
		case "group":
			info.Groups = append(info.Groups, val)
		case "license":
			info.Licenses = append(info.Licenses, val)
		case "replaces":
			info.Replaces = append(info.Replaces, val)
		case "conflict":
			info.Conflicts = append(info.Conflicts, val)
		case "provides":
			info.Provides = append(info.Provides, val)
		case "depend":
			info.Depends = append(info.Depends, val)
		case "optdepend":
			info.OptDepends = append(info.OptDepends, val)
		case "makedepend":
			info.MakeDepends = append(info.MakeDepends, val)
		case "checkdepend":
			info.CheckDepends = append(info.CheckDepends, val)
		case "backup":
			info.Backup = append(info.Backup, val)
		default:
			if isShellName(key) {
				info.Extra = append(info.Extra, KeyValue{Key: key, Value: val})
			}
		}
	}
	if info.Name == "" {
		return nil, errors.New(".PKGINFO has no pkgname")
	}
	if info.Version == "" {
		return nil, errors.New(".PKGINFO has no pkgver")
	}
	var err error
	if info.BuildDate, err = parseNumber("builddate", builddate, haveBuilddate); err != nil {
		return nil, err
	}
	if info.Size, err = parseNumber("size", size, haveSize); err != nil {
		return nil, err
	}
	return info, nil
}

// parseNumber parses builddate and size. repo-add copies them as text;
// pacman needs numbers, so anything else makes the .PKGINFO malformed. An
// absent or empty value is 0, as repo-add writes no field for it.
func parseNumber(key, val string, present bool) (int64, error) {
	if !present || val == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(val, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf(".PKGINFO %s %q is not a number", key, val)
	}
	return n, nil
}

// splitPKGINFOLine applies repo-add's two reads to one line (without its
// newline). ok is false for comments and for lines whose key bash's
// declare would reject as empty.
func splitPKGINFOLine(line []byte) (key, val string, ok bool) {
	// read -r line (default IFS): trim spaces and tabs at both ends.
	line = bytes.Trim(line, " \t")
	if len(line) == 0 || line[0] == '#' {
		return "", "", false
	}
	// IFS=' =' read -r var val: the key ends at the first space or '='.
	// The separator is any spaces, at most one '=', then any spaces; the
	// rest, without trailing spaces, is the value.
	i := bytes.IndexAny(line, " =")
	if i < 0 {
		return string(line), "", true
	}
	if i == 0 {
		return "", "", false // empty key: declare fails
	}
	key = string(line[:i])
	rest := line[i:]
	rest = bytes.TrimLeft(rest, " ")
	if len(rest) > 0 && rest[0] == '=' {
		rest = bytes.TrimLeft(rest[1:], " ")
	}
	rest = bytes.TrimRight(rest, " ")
	// When the rest is a single word followed by one separator, bash
	// assigns the word alone: "v =" gives "v", but "a = b =" stays whole.
	if j := bytes.IndexAny(rest, " ="); j >= 0 {
		sep := bytes.TrimLeft(rest[j:], " ")
		if len(sep) > 0 && sep[0] == '=' {
			sep = bytes.TrimLeft(sep[1:], " ")
		}
		if len(sep) == 0 {
			rest = rest[:j]
		}
	}
	return key, collapseSpace(rest), true
}

// collapseSpace replaces every run of [[:space:]] by one space, like the
// extglob substitution ${val//+([[:space:]])/ }.
func collapseSpace(b []byte) string {
	clean := true
	for i, c := range b {
		if isSpace(c) && (c != ' ' || i+1 < len(b) && isSpace(b[i+1])) {
			clean = false
			break
		}
	}
	if clean {
		return string(b)
	}
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		if !isSpace(b[i]) {
			out = append(out, b[i])
			continue
		}
		out = append(out, ' ')
		for i+1 < len(b) && isSpace(b[i+1]) {
			i++
		}
	}
	return string(out)
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

// isShellName reports whether bash's declare would accept key as a
// variable name.
func isShellName(key string) bool {
	for i := 0; i < len(key); i++ {
		c := key[i]
		if c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || i > 0 && '0' <= c && c <= '9' {
			continue
		}
		return false
	}
	return key != ""
}
