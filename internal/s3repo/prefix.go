package s3repo

import (
	"context"
	"fmt"
)

// SharedPrefixError says the prefix of a repository holds another
// repository. Two repositories must not share one: each one's gc would
// take the other's packages for its own orphans and delete them.
type SharedPrefixError struct {
	Address Address // the repository being changed
	Other   string  // the other repository's name
	URL     string  // the object that shows it
}

func (e *SharedPrefixError) Error() string {
	return fmt.Sprintf("%s: its prefix %s holds another repository, %s (%s); give each repository a prefix of its own (the gc of one would delete the other's packages)",
		e.Address, e.Address.prefixURL(), e.Other, e.URL)
}

// checkAlone refuses a change when the repository's prefix holds another
// repository's own objects (.pacrepo/OTHER/, one listing request) and,
// when the change creates the repository, another repository's databases
// under the names pacman reads (a listing of the prefix's own level: one
// request per thousand objects, once). gc looks at everything again
// (collectable).
func (r *Repo) checkAlone(ctx context.Context, creating bool) error {
	_, repos, err := r.bucket.ListLevel(ctx, r.addr.key(".pacrepo/"))
	if err != nil {
		return err
	}
	keys := repos
	if creating {
		objects, _, err := r.bucket.ListLevel(ctx, r.addr.key(""))
		if err != nil {
			return err
		}
		for _, o := range objects {
			keys = append(keys, o.Key)
		}
	}
	for _, k := range keys {
		if err := r.sharedBy(k); err != nil {
			return err
		}
	}
	return nil
}

// sharedBy is a *SharedPrefixError when key, in the repository's prefix,
// belongs to another repository.
func (r *Repo) sharedBy(key string) error {
	if other, ok := r.addr.otherRepository(key); ok {
		return &SharedPrefixError{Address: r.addr, Other: other, URL: r.addr.URL(key)}
	}
	return nil
}
