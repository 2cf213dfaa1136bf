package s3repo

import (
	"testing"

	"github.com/pacrepo/pacrepo/internal/repo"
	"github.com/pacrepo/pacrepo/internal/testutil"
)

// TestUpdateSignsAnUnsignedDatabase: asked to sign, update and reset sign
// an unsigned repository though no package changes (a sign action, shown
// by a dry run first), as repo-add -s does; signed, there is nothing to do.
func TestUpdateSignsAnUnsignedDatabase(t *testing.T) {
	key := testutil.NewPGPKey(t, "repo")
	tr := newTestRepo(t, "s3://farm/farm.db.tar.zst", Options{})
	src := t.TempDir()
	if _, err := tr.Add(ctx, []string{mkpkg(t, src, "a", "1-1")}, AddOptions{}); err != nil {
		t.Fatal(err)
	}
	signing := tr.reopen(Options{Sign: key.SignBytes})
	signs := func(res *repo.Result) bool {
		for _, a := range res.Plan.Actions {
			if a.Kind == repo.ActSign {
				return true
			}
		}
		return false
	}
	res, err := signing.Update(ctx, nil, repo.Request{DryRun: true})
	if err != nil || !signs(res) {
		t.Fatalf("dry run: %v, %+v", err, res)
	}
	if h, _ := tr.readLatest(ctx); h.Signed {
		t.Fatal("the dry run signed")
	}
	if res, err = signing.Update(ctx, nil, repo.Request{}); err != nil || !signs(res) {
		t.Fatalf("update: %v, %+v", err, res)
	}
	if h, _ := tr.readLatest(ctx); !h.Signed {
		t.Fatal("update asked to sign left the database unsigned")
	}
	keyring := keyringOf(t, key)
	_, db := tr.addr.fixedNames()
	for _, name := range db {
		verifyObject(t, tr, keyring, name)
	}
	if res, err = signing.Reset(ctx, repo.Request{}); err != nil || signs(res) {
		t.Fatalf("reset of a signed database: %v, %+v", err, res)
	}
	if len(registered(t, tr.Repo)) != 1 {
		t.Fatal("signing changed the entries")
	}
}
