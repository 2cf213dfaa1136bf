package history

import (
	"context"
	"errors"
	"slices"
	"strings"
)

// Log reads the generations of st, newest first; with names, only those
// whose change touched one of those packages. Pruned generations are left
// out.
func Log(ctx context.Context, st Store, names []string) ([]*Record, error) {
	gens, err := st.Generations(ctx)
	if err != nil {
		return nil, err
	}
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	var out []*Record
	for i := len(gens) - 1; i >= 0; i-- {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		rec, err := st.Record(ctx, gens[i])
		if errors.Is(err, ErrPruned) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if len(want) == 0 || rec.Touches(want) {
			out = append(out, rec)
		}
	}
	return out, nil
}

// Newest is st's newest generation that is not pruned; a *NotFoundError
// (generation -1) when it has none.
func Newest(ctx context.Context, st Store) (*Record, error) {
	gens, err := st.Generations(ctx)
	if err != nil {
		return nil, err
	}
	for i := len(gens) - 1; i >= 0; i-- {
		rec, err := st.Record(ctx, gens[i])
		if !errors.Is(err, ErrPruned) {
			return rec, err
		}
	}
	return nil, &NotFoundError{Generation: -1}
}

// Difference is what differs between the packages of two generations.
type Difference struct {
	From    int64     `json:"from"`
	To      int64     `json:"to"`
	Added   []Package `json:"added"`
	Removed []Package `json:"removed"`
	// Changed are the names in both: From is the version in the first
	// generation, Version in the second (a rebuild of the same version
	// under another file or content counts).
	Changed []Package `json:"changed"`
}

// Empty tells whether the generations hold the same packages.
func (d *Difference) Empty() bool {
	return len(d.Added) == 0 && len(d.Removed) == 0 && len(d.Changed) == 0
}

// Diff is what differs between generations from and to of st.
func Diff(ctx context.Context, st Store, from, to int64) (*Difference, error) {
	var pkgs [2][]Package
	for i, g := range []int64{from, to} {
		rec, err := st.Record(ctx, g)
		if errors.Is(err, ErrPruned) {
			return nil, &NotFoundError{Generation: g}
		}
		if err != nil {
			return nil, err
		}
		if pkgs[i], err = st.Packages(ctx, rec); err != nil {
			return nil, err
		}
	}
	d := Compare(pkgs[0], pkgs[1])
	d.From, d.To = from, to
	return d, nil
}

// Compare is what differs from the packages a to the packages b.
func Compare(a, b []Package) *Difference {
	d := &Difference{Added: []Package{}, Removed: []Package{}, Changed: []Package{}}
	before := make(map[string]*Package, len(a))
	for i := range a {
		before[a[i].Name] = &a[i]
	}
	seen := make(map[string]bool, len(b))
	for _, p := range b {
		seen[p.Name] = true
		old := before[p.Name]
		switch {
		case old == nil:
			d.Added = append(d.Added, p)
		case old.Version != p.Version || old.File != p.File || old.SHA256 != p.SHA256:
			p.From = old.Version
			d.Changed = append(d.Changed, p)
		}
	}
	for _, p := range a {
		if !seen[p.Name] {
			d.Removed = append(d.Removed, p)
		}
	}
	for _, l := range [][]Package{d.Added, d.Removed, d.Changed} {
		slices.SortFunc(l, func(x, y Package) int { return strings.Compare(x.Name, y.Name) })
	}
	return d
}
