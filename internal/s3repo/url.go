package s3repo

import (
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/pacrepo/pacrepo/internal/layout"
)

// Scheme starts the address of a repository in object storage.
const Scheme = "s3://"

// Address is where a repository lies in a bucket:
// s3://BUCKET/PREFIX/NAME.db.tar.EXT.
type Address struct {
	Bucket string
	Prefix string // "" or a key prefix without a trailing slash
	Name   string // the repository name
	Ext    string // ".tar.zst", ".tar.gz", ...
}

// ErrBadURL says a repository address cannot be used.
var ErrBadURL = errors.New("invalid repository address")

// ParseURL parses s3://BUCKET/[PREFIX/]NAME.db.tar.EXT (or the files
// database's name).
func ParseURL(s string) (Address, error) {
	rest, ok := strings.CutPrefix(s, Scheme)
	if !ok {
		return Address{}, fmt.Errorf("%s: %w: it does not start with %s", s, ErrBadURL, Scheme)
	}
	bucket, key, _ := strings.Cut(rest, "/")
	if bucket == "" || key == "" {
		return Address{}, fmt.Errorf("%s: %w: expected s3://BUCKET/PREFIX/NAME.db.tar.EXT", s, ErrBadURL)
	}
	if slices.ContainsFunc(strings.Split(key, "/"), func(part string) bool { return part == "" || part == "." || part == ".." }) {
		return Address{}, fmt.Errorf("%s: %w: the key %q is not clean (empty, . or .. parts)", s, ErrBadURL, key)
	}
	prefix, base := path.Split(key)
	name, _, ext, ok := layout.SplitDatabase(base)
	if !ok || !layout.ValidRepoName(name) {
		return Address{}, fmt.Errorf("%s: %w: expected NAME.db.tar.EXT or NAME.files.tar.EXT at the end", s, ErrBadURL)
	}
	return Address{Bucket: bucket, Prefix: strings.TrimSuffix(prefix, "/"), Name: name, Ext: ext}, nil
}

// String is the address of the database, s3://BUCKET/PREFIX/NAME.db.tar.EXT.
func (a Address) String() string { return Scheme + a.Bucket + "/" + a.key(a.Name+".db"+a.Ext) }

// key is the key of name in the repository's prefix.
func (a Address) key(name string) string {
	if a.Prefix == "" {
		return name
	}
	return a.Prefix + "/" + name
}

// URL is the s3:// address of the object with key.
func (a Address) URL(key string) string { return Scheme + a.Bucket + "/" + key }

// stateKey is the key of name among pacrepo's own objects of the
// repository; pacman never reads them.
func (a Address) stateKey(name string) string { return a.key(".pacrepo/" + a.Name + "/" + name) }

// commitPrefix holds the commit records, one per generation, named by the
// generation's number (zero-padded, so that names sort as numbers).
func (a Address) commitPrefix() string { return a.stateKey("commits/") }

func (a Address) commitKey(generation int64) string {
	return fmt.Sprintf("%s%016d.json", a.commitPrefix(), generation)
}

// hintKey names the newest generation as of the last commit that wrote
// it: where readers start looking.
func (a Address) hintKey() string { return a.stateKey("latest") }

// generationPrefix holds the databases of every commit, named by their
// content; the fixed names are copies of the current ones.
func (a Address) generationPrefix() string { return a.stateKey("gen/") }

// probeKey records that the server honours conditional writes.
func (a Address) probeKey() string { return a.stateKey("conditional-writes-ok") }

// fixedNames are the keys pacman reads, in the order a commit copies them:
// the files database first, then the db (the name pacman -Sy reads), each
// under both of repo-add's names.
func (a Address) fixedNames() (files, db []string) {
	return []string{a.key(a.Name + ".files" + a.Ext), a.key(a.Name + ".files")},
		[]string{a.key(a.Name + ".db" + a.Ext), a.key(a.Name + ".db")}
}

// linksName is the key of the links database under the name sogrep
// reads, NAME.links.tar.EXT.
func (a Address) linksName() string { return a.key(a.Name + ".links" + a.Ext) }

// lastUpdateKey is the file mirrors poll to see that something changed.
func (a Address) lastUpdateKey() string { return a.key("lastupdate") }

// otherRepository tells whether key, in the repository's prefix, is an
// object of another repository there, and names it: one of its own
// objects (.pacrepo/OTHER/...) or its database under the names pacman
// reads (OTHER.db.tar.EXT, OTHER.files.tar.EXT).
func (a Address) otherRepository(key string) (string, bool) {
	rest, ok := strings.CutPrefix(key, a.key(""))
	if !ok {
		return "", false
	}
	if state, ok := strings.CutPrefix(rest, ".pacrepo/"); ok {
		name, _, _ := strings.Cut(state, "/")
		return name, name != "" && name != a.Name
	}
	if strings.Contains(rest, "/") {
		return "", false
	}
	name, _, _, ok := layout.SplitDatabase(rest)
	return name, ok && name != a.Name
}

// prefixURL is the address of the repository's prefix, s3://BUCKET/PREFIX/.
func (a Address) prefixURL() string { return a.URL(a.key("")) }
