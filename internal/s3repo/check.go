package s3repo

import (
	"context"
	"errors"
	"fmt"

	"github.com/pacrepo/pacrepo/internal/objstore"
)

// Report is what Check found.
type Report struct {
	Checked  int // registered packages checked
	Findings []Finding
}

// Finding is one thing check found wrong.
type Finding struct {
	Kind   string // damaged, missing, size, checksum, stale-names, signature-pair
	URL    string // the object concerned
	Detail string
	// Repairable says check --repair fixes it.
	Repairable bool
	Repaired   bool
}

// Check reads the committed databases (their checksums and every entry),
// checks that every registered package object exists with the size and
// SHA-256 of its entry, and that the names pacman reads show the commit.
// With repair, it completes the names pacman reads (what a publisher
// killed after its commit left undone). A missing package is reported:
// nothing can bring it back.
func (r *Repo) Check(ctx context.Context, repair bool) (*Report, error) {
	st, err := r.read(ctx)
	if err != nil {
		var de *DamagedError
		if errors.As(err, &de) {
			return &Report{Findings: []Finding{{Kind: "damaged", URL: de.URL, Detail: de.Err.Error()}}}, nil
		}
		return nil, err
	}
	if st.commit == nil {
		return nil, &NoRepositoryError{Address: r.addr}
	}
	rep := &Report{Checked: len(st.entries)}
	add := func(kind, key, format string, args ...any) {
		rep.Findings = append(rep.Findings, Finding{Kind: kind, URL: r.addr.URL(key), Detail: fmt.Sprintf(format, args...)})
	}
	for _, e := range st.entries {
		key := r.addr.key(e.Filename)
		obj, err := r.bucket.Head(ctx, key)
		switch {
		case errors.Is(err, objstore.ErrNotFound):
			add("missing", key, "registered package %s %s is missing", e.Name, e.Version)
		case err != nil:
			return nil, err
		case obj.Size != e.CSize:
			add("size", key, "%d bytes, its entry says %d", obj.Size, e.CSize)
		case obj.SHA256 != "" && obj.SHA256 != e.SHA256Sum:
			add("checksum", key, "SHA-256 %s, its entry says %s", obj.SHA256, e.SHA256Sum)
		}
	}
	stale, err := r.staleFixedNames(ctx, st.commit)
	if err != nil {
		return nil, err
	}
	for _, key := range stale {
		f := Finding{Kind: "stale-names", URL: r.addr.URL(key), Repairable: true,
			Detail: fmt.Sprintf("does not hold the committed database (generation %d): a publisher was interrupted after its commit", st.commit.Generation)}
		rep.Findings = append(rep.Findings, f)
	}
	pairs, err := r.unpairedSignatures(ctx, st.commit)
	if err != nil {
		return nil, err
	}
	rep.Findings = append(rep.Findings, pairs...)
	if len(stale)+len(pairs) > 0 && repair {
		if err := r.completeFixedNames(ctx, nil); err != nil {
			return nil, err
		}
		for i := range rep.Findings {
			if rep.Findings[i].Repairable {
				rep.Findings[i].Repaired = true
			}
		}
	}
	return rep, nil
}

// staleFixedNames are the names pacman reads that do not hold the
// generation h commits.
func (r *Repo) staleFixedNames(ctx context.Context, h *commit) ([]string, error) {
	files, db := r.addr.fixedNames()
	var stale []string
	for _, step := range []struct {
		sum   string
		names []string
	}{{h.FilesSHA, files}, {h.DBSHA256, db}} {
		for _, name := range step.names {
			obj, err := r.bucket.Head(ctx, name)
			if err != nil && !errors.Is(err, objstore.ErrNotFound) {
				return nil, err
			}
			if err != nil || obj.SHA256 != step.sum {
				stale = append(stale, name)
			}
		}
	}
	return stale, nil
}

// unpairedSignatures are the names pacman reads that hold the committed
// database beside a signature that is not its own: another generation's
// (two publishers' copies interleaved), one of an unsigned generation, or
// none for a signed one. pacman with DatabaseRequired refuses such a
// repository; completeFixedNames copies the pair again.
func (r *Repo) unpairedSignatures(ctx context.Context, h *commit) ([]Finding, error) {
	files, db := r.addr.fixedNames()
	var out []Finding
	for _, step := range []struct {
		src, sum string
		names    []string
	}{{h.Files, h.FilesSHA, files}, {h.DB, h.DBSHA256, db}} {
		sigSum, err := r.generationSignatureSum(ctx, h, step.src)
		if err != nil {
			return nil, err
		}
		for _, name := range step.names {
			obj, err := r.bucket.Head(ctx, name)
			if errors.Is(err, objstore.ErrNotFound) || err == nil && obj.SHA256 != step.sum {
				continue // stale-names
			}
			if err != nil {
				return nil, err
			}
			paired, err := r.showsPair(ctx, name, step.sum, sigSum)
			if err != nil {
				return nil, err
			}
			if paired {
				continue
			}
			detail := fmt.Sprintf("is not the signature of the database beside it (generation %d): clients requiring a signed database refuse the repository", h.Generation)
			if !h.Signed {
				detail = fmt.Sprintf("signs no database: generation %d is not signed", h.Generation)
			}
			out = append(out, Finding{Kind: "signature-pair", URL: r.addr.URL(name + ".sig"), Detail: detail, Repairable: true})
		}
	}
	return out, nil
}
