package repo

import (
	"testing"

	"github.com/pacrepo/pacrepo/internal/repodb"
)

// TestSnapshotPlans: a store's snapshot is planned by the very rules of a
// directory's scan: a kept file is a candidate for nothing, a verified
// one is registered, add's options leave files out as skip actions.
func TestSnapshotPlans(t *testing.T) {
	old := SnapshotFile{Filename: "p-1-1-any.pkg.tar.zst", Name: "p", Version: "1-1", CSize: 10, SHA256: "aa"}
	newer := SnapshotFile{Filename: "p-2-1-any.pkg.tar.zst", Name: "p", Version: "2-1", CSize: 20, SHA256: "bb"}
	s := &Snapshot{Present: map[string]bool{old.Filename: true}, Kept: []SnapshotFile{old}}
	if p, err := PlanUpdate(s, nil, false); err != nil || len(p.Actions) != 0 {
		t.Fatalf("update with a kept file: %+v %v", p, err)
	}
	if p, err := PlanReset(s, false); err != nil || len(p.Actions) != 0 {
		t.Fatalf("reset with a kept file: %+v %v", p, err)
	}
	s = &Snapshot{Files: []SnapshotFile{old}}
	if p, err := PlanUpdate(s, nil, false); err != nil || len(p.Actions) != 1 || p.Actions[0].Kind != ActNew {
		t.Fatalf("update with a verified file: %+v %v", p, err)
	}
	s = &Snapshot{Entries: []repodb.Key{{Name: "p", Version: "2-1", Filename: newer.Filename, CSize: 20, SHA256Sum: "bb"}},
		Files: []SnapshotFile{newer}}
	p, err := PlanAdd(s, []AddedFile{{SnapshotFile: old, Source: "/src/" + old.Filename}}, AddOptions{PreventDowngrade: true})
	if err != nil || len(p.Actions) != 1 || p.Actions[0].Kind != ActSkip {
		t.Fatalf("add --prevent-downgrade of an older file: %+v %v", p, err)
	}
	p, err = PlanAdd(s, []AddedFile{{SnapshotFile: old, Source: "/src/" + old.Filename}}, AddOptions{})
	if err != nil || len(p.Actions) != 2 || p.Actions[0].Kind != ActDowngrade || p.Actions[1].Kind != ActRetire {
		t.Fatalf("add of an older file: %+v %v", p, err)
	}
}
