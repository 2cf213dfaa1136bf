package aur

import (
	"context"
	"fmt"
	"sort"
	"strings"
)

// SearchWords searches for packages matching every word. Like yay, it asks
// the AUR only for the longest word (the most selective, and the AUR
// matches one argument) and filters by the others locally when the field
// is name or name-desc, whose text every search result carries. For the
// other fields the results do not carry the matched field, so every word
// is asked separately and the results intersected.
func (c *Client) SearchWords(ctx context.Context, by SearchBy, words []string) ([]Package, error) {
	if by == "" {
		by = ByName
	}
	if len(words) == 0 {
		if by == ByMaintainer {
			return c.Search(ctx, by, "") // the AUR lists orphans
		}
		return nil, fmt.Errorf("search: %w", ErrQueryTooShort)
	}
	if by == ByName || by == ByNameDesc {
		longest := words[0]
		for _, w := range words[1:] {
			if len(w) > len(longest) {
				longest = w
			}
		}
		pkgs, err := c.Search(ctx, by, longest)
		if err != nil {
			return nil, err
		}
		out := pkgs[:0]
		for _, p := range pkgs {
			if matchesAll(&p, by, words) {
				out = append(out, p)
			}
		}
		return out, nil
	}
	var result []Package
	for i, w := range words {
		pkgs, err := c.Search(ctx, by, w)
		if err != nil {
			return nil, err
		}
		if i == 0 {
			result = pkgs
			continue
		}
		keep := make(map[string]bool, len(pkgs))
		for _, p := range pkgs {
			keep[p.Name] = true
		}
		out := result[:0]
		for _, p := range result {
			if keep[p.Name] {
				out = append(out, p)
			}
		}
		result = out
	}
	return result, nil
}

// matchesAll reports whether every word occurs (case-insensitively, as the
// AUR's LIKE does) in p's name, or name or description for name-desc.
func matchesAll(p *Package, by SearchBy, words []string) bool {
	name := strings.ToLower(p.Name)
	desc := strings.ToLower(p.Description)
	for _, w := range words {
		w = strings.ToLower(w)
		if strings.Contains(name, w) || by == ByNameDesc && strings.Contains(desc, w) {
			continue
		}
		return false
	}
	return true
}

// SortKey orders search results.
type SortKey string

// The orders of search results.
const (
	SortName       SortKey = "name"
	SortVotes      SortKey = "votes"
	SortPopularity SortKey = "popularity"
)

// ParseSortKey validates a --sort value.
func ParseSortKey(s string) (SortKey, error) {
	switch SortKey(s) {
	case SortName, SortVotes, SortPopularity:
		return SortKey(s), nil
	}
	return "", fmt.Errorf("unknown sort key %q (want name, votes or popularity)", s)
}

// Sort orders pkgs by key: names ascending, votes and popularity
// descending (most relevant first), ties by name.
func Sort(pkgs []Package, key SortKey) {
	sort.SliceStable(pkgs, func(i, j int) bool {
		a, b := &pkgs[i], &pkgs[j]
		switch key {
		case SortVotes:
			if a.NumVotes != b.NumVotes {
				return a.NumVotes > b.NumVotes
			}
		case SortPopularity:
			if a.Popularity != b.Popularity {
				return a.Popularity > b.Popularity
			}
		}
		return a.Name < b.Name
	})
}
