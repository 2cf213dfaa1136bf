package repo

import (
	"errors"
	"reflect"
	"testing"

	"github.com/pacrepo/pacrepo/internal/history"
	"github.com/pacrepo/pacrepo/internal/repodb"
)

func target(files ...verifiedFile) []history.Package {
	var out []history.Package
	for _, f := range files {
		out = append(out, history.Package{Name: f.Name, Version: f.Version, File: f.Filename, Size: f.CSize, SHA256: f.SHA256})
	}
	return out
}

func TestPlanRollback(t *testing.T) {
	t.Parallel()
	// Registered: a 2, b 1, c 1; in the directory also a 1 kept in place,
	// and an upload of c 2. The generation held a 1 and b 1, and d 1,
	// which the backup directory holds.
	s := snap([]repodb.Entry{ent("a", "2"), ent("b", "1"), ent("c", "1")},
		[]verifiedFile{file("a", "2"), file("b", "1"), file("c", "1"), file("c", "2")})
	s.kept = []verifiedFile{file("a", "1")}
	d := file("d", "1")
	p, err := planRollback(s, 7, target(file("a", "1"), file("b", "1"), d), []verifiedFile{d},
		[]Action{{Kind: ActPlace, Name: "d", File: "/backup/" + d.Filename}}, planOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"place d /backup/" + d.Filename, "downgrade a " + fn("a", "1"), "retire a " + fn("a", "2"),
		"new d " + fn("d", "1"), "unregister c " + fn("c", "1"), "retire c " + fn("c", "1")}
	if got := short(p); !reflect.DeepEqual(got, want) {
		t.Errorf("plan\n got %v\nwant %v", got, want)
	}

	// A file gone, or another under its name: refused, naming each.
	other := file("b", "1")
	other.SHA256 = "another build"
	_, err = planRollback(snap(nil, []verifiedFile{other}), 3, target(file("a", "1"), file("b", "1")), nil, nil, planOptions{})
	var me *MissingFilesError
	if !errors.As(err, &me) || !reflect.DeepEqual(me.Files, []string{fn("a", "1"), fn("b", "1")}) || me.Generation != 3 {
		t.Fatalf("missing files: %v", err)
	}

	// The safety valve, as for reset.
	var entries []repodb.Entry
	var files []verifiedFile
	for _, n := range []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l"} {
		entries, files = append(entries, ent(n, "1")), append(files, file(n, "1"))
	}
	big := snap(entries, files)
	if _, err := planRollback(big, 1, target(file("a", "1")), nil, nil, planOptions{}); !errors.As(err, new(*RefusedError)) {
		t.Fatalf("a rollback unregistering most of the repository: %v", err)
	}
	if _, err := planRollback(big, 1, target(file("a", "1")), nil, nil, planOptions{Force: true}); err != nil {
		t.Fatalf("forced: %v", err)
	}
}
