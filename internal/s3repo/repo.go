// Package s3repo keeps a pacman repository in S3-compatible object
// storage, safe with any number of publishers on any number of machines
// and no lock server:
//
//   - a package object is written once (If-None-Match: *), with its
//     SHA-256 for the server to check; an existing key with other content
//     is refused;
//   - a commit is one conditional write: the creation of the record of the
//     generation after the one that was read
//     (.pacrepo/NAME/commits/GENERATION.json), only if it does not exist;
//     a publisher that lost the race reads again, plans again and retries;
//   - the databases of each commit are written first under names made of
//     their content, then copied to the names pacman reads (the files
//     database first, then the db);
//   - nothing is deleted until no commit within the grace period
//     references it (gc), so a mirror serving an older database finds
//     every package it names.
package s3repo

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/pacrepo/pacrepo/internal/history"
	"github.com/pacrepo/pacrepo/internal/objstore"
	"github.com/pacrepo/pacrepo/internal/repo"
	"github.com/pacrepo/pacrepo/internal/repodb"
)

// Options configure a repository in a bucket.
type Options struct {
	// Grace is how long an object no commit references any more is kept
	// (at least as long as a mirror or CDN may serve an older database).
	Grace time.Duration
	// Retention is which generations gc keeps restorable, beyond those
	// superseded within Grace (its Grace is Grace's).
	Retention history.Retention
	// Signatures is what the repository asks of its packages'
	// signatures, judged by the rule of every store.
	Signatures repo.SignaturePolicy
	// Sign, when set, signs each database written (WriteOptions.Sign).
	Sign func(path string) ([]byte, error)
	// UnsignDatabase lets a change without Sign write unsigned databases
	// over a signed generation; without it, such a change is refused
	// (repo.UnsignedDatabaseError).
	UnsignDatabase bool
	// Now is the clock (tests); nil means time.Now.
	Now func() time.Time
	// MaxAttempts bounds the commits tried when other publishers keep
	// winning the race; 0 means DefaultMaxAttempts.
	MaxAttempts int
	// Command is the command as typed, its secrets left out, for the
	// history.
	Command string
	// Installable is what a change does that leaves a package
	// unsatisfiable, as in a directory (repo.Options.Installable):
	// "" or "off" nothing, "warn" report it (Result.Unsatisfiable),
	// "refuse" refuse the change (repo.UnsatisfiableError).
	Installable string
	// Upstream are the paths of the sync databases whose packages satisfy
	// dependencies too.
	Upstream []string
}

// DefaultGrace is the grace period when none is configured.
const DefaultGrace = 24 * time.Hour

// DefaultMaxAttempts is how many commits a change tries. Each race lost is
// another publisher's commit, so the farm as a whole moves on; but with
// dozens of publishers on a slow machine one of them lost 40 in a row and
// gave up on a package it could have published. With the backoff capped
// at 2 s, 300 attempts is several minutes of trying.
const DefaultMaxAttempts = 300

// Repo is a repository in a bucket.
type Repo struct {
	addr   Address
	bucket *objstore.Bucket
	opts   Options
}

// New returns the repository at addr in bucket.
func New(addr Address, bucket *objstore.Bucket, opts Options) *Repo {
	if opts.Grace <= 0 {
		opts.Grace = DefaultGrace
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = DefaultMaxAttempts
	}
	return &Repo{addr: addr, bucket: bucket, opts: opts}
}

// Address is where the repository lies.
func (r *Repo) Address() Address { return r.addr }

// Entries are the registered entries (with file lists).
func (r *Repo) Entries(ctx context.Context) ([]repodb.Entry, error) {
	st, err := r.read(ctx)
	if err != nil {
		return nil, err
	}
	if st.commit == nil {
		return nil, &NoRepositoryError{Address: r.addr}
	}
	return st.entries, nil
}

// crashHook, when a test sets it, runs at each named step (crashPoint):
// the kill tests stop the process there. The steps:
//
//	after-upload  the packages are uploaded, nothing committed
//	before-commit the databases are written too, the commit not made
//	committing    what the commit references was found fresh and there
//	              (freshen), the commit record not created yet
//	after-commit  the commit record names the new generation, the names
//	              pacman reads are not updated yet
//	before-delete gc has found an object older than the grace period
//	              (again, just before deleting it) and not deleted it yet
//	mid-gc        gc has deleted its first object
//
// and a promotion from the bucket passes the promotion's own steps
// (repo/crash.go: promote-intent, promote-registered,
// promote-unregistered).
var crashHook func(step string)

func crashPoint(step string) {
	if crashHook != nil {
		crashHook(step)
	}
}

// ensureConditionalWrites probes the server once per repository: a server
// that ignores conditional writes would let two publishers overwrite each
// other's commits. A successful probe is recorded in the bucket.
func (r *Repo) ensureConditionalWrites(ctx context.Context) error {
	if _, err := r.bucket.Head(ctx, r.addr.probeKey()); err == nil {
		return nil
	} else if !errors.Is(err, objstore.ErrNotFound) {
		return err
	}
	probe := r.addr.stateKey(fmt.Sprintf("probe-%016x", rand.Uint64()))
	if err := r.bucket.Probe(ctx, probe); err != nil {
		if errors.Is(err, objstore.ErrNoConditionalWrites) {
			return fmt.Errorf("bucket %s: %w; pacrepo refuses to publish there: two publishers would overwrite each other's commits (AWS S3, Cloudflare R2, Ceph RGW, SeaweedFS and versitygw honour them)", r.bucket.Name(), err)
		}
		return err
	}
	// The record only spares later probes: failing to write it (another
	// publisher's write of it still in flight, recorded already with other
	// words) does not fail the change the probe has just cleared.
	r.putBytes(ctx, []byte("If-None-Match: * is honoured\n"), r.addr.probeKey())
	return nil
}

// backoff waits before attempt n+1 of a commit that lost a race: jittered,
// growing to at most two seconds.
func backoff(ctx context.Context, n int) error {
	d := min(2*time.Second, 20*time.Millisecond<<min(n, 10))
	d = d/2 + rand.N(d)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
