package s3repo

import (
	"context"
	"errors"
	"fmt"

	"github.com/pacrepo/pacrepo/internal/objstore"
	"github.com/pacrepo/pacrepo/internal/repo"
)

// Report is what Check found.
type Report struct {
	Checked  int // registered packages checked
	Findings []Finding
}

// Finding is one thing check found wrong.
type Finding struct {
	Kind   string // damaged, missing, size, checksum, mismatch, signature, embedded-signature, stale-names, signature-pair, links-database
	URL    string // the object concerned
	Detail string
	// Repairable says check --repair fixes it.
	Repairable bool
	Repaired   bool
}

// Check reads the committed databases (their checksums and every entry),
// checks that every registered package object exists with the size and
// SHA-256 of its entry, and that the names pacman reads show the commit.
// An object without the SHA-256 it was written with (written by another
// tool), and with a keyring every object with a .sig, is read and hashed
// and its signature judged, as a directory's check reads every file. With
// repair, it completes the names pacman reads (what a publisher killed
// after its commit left undone). A missing package is reported: nothing
// can bring it back.
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
	bs, err := r.scanBucket(ctx, st, scanOptions{reverify: true, registeredOnly: true}, nil)
	if err != nil {
		return nil, err
	}
	rep := &Report{Checked: len(st.entries)}
	add := func(kind, url, format string, args ...any) {
		rep.Findings = append(rep.Findings, Finding{Kind: kind, URL: url, Detail: fmt.Sprintf(format, args...)})
	}
	for _, p := range bs.snap.Problems {
		kind := "damaged"
		if p.Signature != 0 {
			kind = "signature"
		}
		add(kind, p.Path, "%s", problemDetail(p))
	}
	for _, e := range st.entries {
		url := r.addr.URL(r.addr.key(e.Filename))
		f, ok := bs.files[e.Filename]
		switch {
		case !bs.snap.Present[e.Filename]:
			add("missing", url, "registered package %s %s is missing", e.Name, e.Version)
		case !ok:
			// a problem, reported above
		case f.CSize != e.CSize:
			add("size", url, "%d bytes, its entry says %d", f.CSize, e.CSize)
		case f.SHA256 != e.SHA256Sum:
			add("checksum", url, "SHA-256 %s, its entry says %s", f.SHA256, e.SHA256Sum)
		case f.Name != e.Name || f.Version != e.Version:
			add("mismatch", url, "entry says %s %s, the object holds %s %s", e.Name, e.Version, f.Name, f.Version)
		case e.PGPSig != "" && e.PGPSig != f.SigField:
			add("embedded-signature", url, "the entry embeds a signature that is not its package's .sig")
		}
	}
	side, err := r.checkSideObjects(ctx, st.commit)
	if err != nil {
		return nil, err
	}
	rep.Findings = append(rep.Findings, side...)
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

// checkSideObjects reports the links database or libraries object of
// generation h that is missing or holds another content (a generation
// of an earlier version has none, as a directory may have no links
// database yet): derived data, which the next change writes again.
func (r *Repo) checkSideObjects(ctx context.Context, h *commit) ([]Finding, error) {
	var out []Finding
	for _, o := range []struct{ key, sum, what string }{
		{h.Links, h.LinksSHA, "the links database"}, {h.Libraries, h.LibrariesSHA, "the libraries object"},
	} {
		if o.key == "" {
			continue
		}
		obj, err := r.bucket.Head(ctx, o.key)
		var why string
		switch {
		case errors.Is(err, objstore.ErrNotFound):
			why = "is missing"
		case err != nil:
			return nil, err
		case obj.SHA256 != "" && obj.SHA256 != o.sum:
			why = fmt.Sprintf("has SHA-256 %s, the commit record says %s", obj.SHA256, o.sum)
		default:
			continue
		}
		out = append(out, Finding{Kind: "links-database", URL: r.addr.URL(o.key),
			Detail: fmt.Sprintf("%s of generation %d %s (the next change writes it again)", o.what, h.Generation, why)})
	}
	return out, nil
}

// staleFixedNames are the names pacman reads that do not hold the
// generation h commits.
func (r *Repo) staleFixedNames(ctx context.Context, h *commit) ([]string, error) {
	files, db := r.addr.fixedNames()
	var stale []string
	steps := []struct {
		sum   string
		names []string
	}{{h.FilesSHA, files}, {h.DBSHA256, db}}
	if h.Links != "" {
		steps = append(steps, struct {
			sum   string
			names []string
		}{h.LinksSHA, []string{r.addr.linksName()}})
	}
	for _, step := range steps {
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

// problemDetail says what is wrong with an object, without its URL.
func problemDetail(p repo.Problem) string {
	if p.Signature != 0 {
		return repo.SignatureDetail(p)
	}
	return fmt.Sprintf("%s: %v", p.Kind, p.Err)
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
