// Package history is a repository's history: every change is a
// generation, a small record of what it changed and the databases it
// produced. A repository directory keeps its history beside it (Dir); a
// bucket keeps it in its commit records (s3repo). Both are read through
// Store, and log, diff and rollback work on either alike.
package history

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"
	"strconv"
	"time"
)

// RecordVersion is the version of the records this pacrepo writes.
const RecordVersion = 1

// Record is one generation: what its change did and the databases it
// produced. Its size follows the change, not the repository: the packages
// of a generation are in its databases, not in its record.
type Record struct {
	Version    int       `json:"version"`
	Generation int64     `json:"generation"`
	Time       time.Time `json:"time"`
	Change
	// Databases are the databases this generation is, where the store
	// keeps their copies (Database.Path).
	Databases []Database `json:"databases,omitempty"`
}

// Change is who changed the repository and what the change did. A
// bucket's commit record embeds it.
type Change struct {
	Host string `json:"host,omitempty"`
	User string `json:"user,omitempty"`
	PID  int    `json:"pid,omitempty"`
	// Command is the command as typed, its secrets left out.
	Command string `json:"command,omitempty"`
	// Registered are the entries the change registered (new, upgraded,
	// downgraded, refreshed).
	Registered []Package `json:"registered,omitempty"`
	// Unregistered are the entries it dropped without another of the
	// name in their place.
	Unregistered []Package `json:"unregistered,omitempty"`
	// Retired are the package files it retired, and where they went.
	Retired []Retired `json:"retired,omitempty"`
}

// Package is one package file: an entry, or a file retired.
type Package struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	File    string `json:"file"`
	Size    int64  `json:"size,omitempty"`
	SHA256  string `json:"sha256,omitempty"`
	// From is the version a registration replaced ("" for a new name).
	From string `json:"from,omitempty"`
}

// What retiring a file did with it.
const (
	Deleted = "delete" // deleted
	Moved   = "move"   // moved to the backup directory (To)
	Kept    = "keep"   // kept in place, unregistered (in a bucket: left for gc)
	Left    = "left"   // could not be retired: left where it was
)

// Retired is a package file a change retired.
type Retired struct {
	Package
	Disposal string `json:"disposal"`
	To       string `json:"to,omitempty"` // the backup directory a moved file went to
}

// Database is one database file of a generation.
type Database struct {
	// Name is the file's name in the repository: NAME.db.tar.EXT or
	// NAME.files.tar.EXT.
	Name string `json:"name"`
	// Path is where the store keeps this generation's copy: relative to
	// the history directory (Dir), or the object key (bucket).
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
	// Signed says Path+".sig" is its signature; SigSHA256 is that
	// signature's SHA-256, where the store records it.
	Signed    bool   `json:"signed,omitempty"`
	SigSHA256 string `json:"sig_sha256,omitempty"`
}

// Files tells whether d is a files database.
func (d Database) Files() bool { return filesDatabase(d.Name) }

// Touches tells whether the change registered, unregistered or retired
// a package of one of names.
func (c *Change) Touches(names map[string]bool) bool {
	for _, p := range c.Registered {
		if names[p.Name] {
			return true
		}
	}
	for _, p := range c.Unregistered {
		if names[p.Name] {
			return true
		}
	}
	for _, p := range c.Retired {
		if names[p.Name] {
			return true
		}
	}
	return false
}

// DB is the package database of r (not the files database); false when
// the record names none.
func (r *Record) DB() (Database, bool) {
	for _, d := range r.Databases {
		if !d.Files() {
			return d, true
		}
	}
	return Database{}, false
}

// Store is a repository's history, in a directory or a bucket.
type Store interface {
	// Generations are the numbers of the generations whose records
	// exist, oldest first.
	Generations(ctx context.Context) ([]int64, error)
	// Record reads the record of generation g: *NotFoundError when there
	// is none, ErrPruned when it was pruned.
	Record(ctx context.Context, g int64) (*Record, error)
	// Packages are the entries of r's package database, sorted by name.
	Packages(ctx context.Context, r *Record) ([]Package, error)
}

// ErrPruned says a generation's record was pruned (its number stays
// taken).
var ErrPruned = errors.New("pruned generation")

// NotFoundError says a generation has no record.
type NotFoundError struct{ Generation int64 }

func (e *NotFoundError) Error() string {
	return fmt.Sprintf("no generation %d in the repository's history (pacrepo log lists them)", e.Generation)
}

// Who is this process's part of a Change: host, user, pid and command.
func Who(command string) Change {
	c := Change{PID: os.Getpid(), Command: command}
	c.Host, _ = os.Hostname()
	if u, err := user.Current(); err == nil {
		c.User = u.Username
	} else {
		c.User = strconv.Itoa(os.Getuid())
	}
	return c
}
