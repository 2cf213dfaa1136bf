package repo

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/pacrepo/pacrepo/internal/pkgfile"
	"github.com/pacrepo/pacrepo/internal/repodb"
)

// Hand-made snapshots for the pure planner.

func ent(name, ver string) repodb.Entry {
	return repodb.Entry{Name: name, Version: ver, Filename: fn(name, ver), CSize: 100, SHA256Sum: sha(name, ver)}
}

func fn(name, ver string) string  { return fmt.Sprintf("%s-%s-x86_64.pkg.tar.zst", name, ver) }
func sha(name, ver string) string { return fmt.Sprintf("sha-%s-%s", name, ver) }
func file(name, ver string) verifiedFile {
	return verifiedFile{Filename: fn(name, ver), Name: name, Version: ver, CSize: 100, SHA256: sha(name, ver)}
}

func snap(entries []repodb.Entry, files []verifiedFile, problems ...string) *scanResult {
	keys := make([]repodb.Key, len(entries))
	for i := range entries {
		keys[i] = repodb.KeyOf(&entries[i])
	}
	s := &scanResult{entries: keys, registered: len(keys), files: files, present: map[string]bool{}, sigs: map[string]bool{}}
	for _, f := range files {
		s.present[f.Filename] = true
	}
	for _, p := range problems {
		s.present[p] = true
		s.problems = append(s.problems, Problem{Path: "/repo/" + p, Kind: pkgfile.Incomplete, Err: errors.New("truncated")})
	}
	return s
}

// short renders actions as "kind name file" for comparison.
func short(p *Plan) []string {
	var out []string
	for _, a := range p.Actions {
		out = append(out, fmt.Sprintf("%s %s %s", a.Kind, a.Name, a.File))
	}
	return out
}

// build is a file of name and version for another architecture or
// compression: a different file of the same version as file(name, ver).
func build(name, ver, arch, ext string) verifiedFile {
	return verifiedFile{Filename: fmt.Sprintf("%s-%s-%s.pkg.tar%s", name, ver, arch, ext), Name: name, Version: ver,
		CSize: 90, SHA256: sha(name, ver) + arch + ext}
}

func TestPlanUpdate(t *testing.T) {
	tests := []struct {
		name  string
		s     *scanResult
		names []string
		want  []string
	}{
		{"nothing to do", snap([]repodb.Entry{ent("a", "1-1")}, []verifiedFile{file("a", "1-1")}), nil, nil},
		{"new", snap(nil, []verifiedFile{file("a", "1-1")}), nil, []string{"new a " + fn("a", "1-1")}},
		{"upgrade retires the old file",
			snap([]repodb.Entry{ent("a", "1-1")}, []verifiedFile{file("a", "1-1"), file("a", "2-1")}), nil,
			[]string{"upgrade a " + fn("a", "2-1"), "retire a " + fn("a", "1-1")}},
		{"newest of three, pacman's version order",
			snap([]repodb.Entry{ent("a", "1.0-1")}, []verifiedFile{file("a", "1.0-1"), file("a", "1.0.a-1"), file("a", "1:0.1-1"), file("a", "1.0rc1-1")}), nil,
			[]string{"upgrade a " + fn("a", "1:0.1-1"), "retire a " + fn("a", "1.0.a-1"), "retire a " + fn("a", "1.0-1"), "retire a " + fn("a", "1.0rc1-1")}},
		{"registered newest: older files are obsolete",
			snap([]repodb.Entry{ent("a", "2-1")}, []verifiedFile{file("a", "1-1"), file("a", "2-1")}), nil,
			[]string{"retire a " + fn("a", "1-1")}},
		{"registered file gone, nothing else: unregister",
			snap([]repodb.Entry{ent("a", "2-1")}, nil), nil,
			[]string{"unregister a " + fn("a", "2-1")}},
		{"registered file gone, older file: downgrade",
			snap([]repodb.Entry{ent("a", "2-1")}, []verifiedFile{file("a", "1-1")}), nil,
			[]string{"downgrade a " + fn("a", "1-1")}},
		{"registered file present but unreadable: left alone",
			snap([]repodb.Entry{ent("a", "2-1")}, []verifiedFile{file("a", "1-1")}, fn("a", "2-1")), nil, nil},
		{"registered file unreadable, verified newer: upgrade, no retire (held)",
			snap([]repodb.Entry{ent("a", "2-1")}, []verifiedFile{file("a", "1-1"), file("a", "3-1")}, fn("a", "2-1")), nil,
			[]string{"upgrade a " + fn("a", "3-1")}},
		{"incomplete newer file blocks retirement of its name only",
			snap([]repodb.Entry{ent("a", "1-1"), ent("b", "1-1")}, []verifiedFile{file("a", "1-1"), file("a", "2-1"), file("b", "1-1"), file("b", "2-1")}, fn("a", "3-1")), nil,
			[]string{"upgrade a " + fn("a", "2-1"), "upgrade b " + fn("b", "2-1"), "retire b " + fn("b", "1-1")}},
		{"incomplete file never unregisters or retires anything else",
			snap([]repodb.Entry{ent("a", "1-1"), ent("b", "1-1")}, []verifiedFile{file("a", "1-1"), file("b", "1-1")}, fn("zzz", "9-1"), "garbage.pkg.tar.zst"), nil, nil},
		{"file changed: refresh",
			snap([]repodb.Entry{ent("a", "1-1")}, []verifiedFile{{Filename: fn("a", "1-1"), Name: "a", Version: "1-1", CSize: 100, SHA256: "other"}}), nil,
			[]string{"refresh a " + fn("a", "1-1")}},
		{"registered name holds another package: treated as gone",
			snap([]repodb.Entry{ent("a", "1-1")}, []verifiedFile{{Filename: fn("a", "1-1"), Name: "b", Version: "1-1", CSize: 100, SHA256: "x"}}), nil,
			[]string{"unregister a " + fn("a", "1-1"), "new b " + fn("a", "1-1")}},
		{"names restrict",
			snap([]repodb.Entry{ent("a", "1-1"), ent("b", "1-1")}, []verifiedFile{file("a", "2-1"), file("b", "2-1")}), []string{"b"},
			[]string{"upgrade b " + fn("b", "2-1")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := planUpdate(tt.s, tt.names, planOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if got := short(p); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
			if len(p.Problems) != len(tt.s.problems) {
				t.Errorf("problems %d, want %d", len(p.Problems), len(tt.s.problems))
			}
		})
	}
}

func TestPlanAdd(t *testing.T) {
	s := snap([]repodb.Entry{ent("a", "2-1")}, []verifiedFile{file("a", "2-1"), file("a", "3-1")})
	p, err := planAdd(s, []verifiedFile{file("a", "1-1")}, []Action{{Kind: ActPlace, Name: "a", File: "/src/" + fn("a", "1-1")}}, planOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"place a /src/" + fn("a", "1-1"), "downgrade a " + fn("a", "1-1"),
		"retire a " + fn("a", "3-1"), "retire a " + fn("a", "2-1")}
	if got := short(p); !reflect.DeepEqual(got, want) {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	// Re-adding the registered file is a no-op.
	p, err = planAdd(s, []verifiedFile{file("a", "2-1")}, nil, planOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := short(p); !reflect.DeepEqual(got, []string{"retire a " + fn("a", "3-1")}) {
		t.Errorf("re-add: %q", got)
	}
}

// TestPlanUpdateSameVersion: a different file of the registered version
// (another architecture's build, another compression) is not obsolete:
// nothing newer replaced it. It is never retired, and it is reported. It
// used to be retired (deleted) as "obsolete".
func TestPlanUpdateSameVersion(t *testing.T) {
	tests := []struct {
		name string
		s    *scanResult
		want []string
		dups []string // files reported as a second file of the registered version
	}{
		{"same version, different compression: both stay, the other reported",
			snap([]repodb.Entry{ent("a", "1-1")}, []verifiedFile{file("a", "1-1"), build("a", "1-1", "x86_64", ".xz")}),
			nil, []string{"a-1-1-x86_64.pkg.tar.xz"}},
		{"same version, none registered: smallest file name, the other stays",
			snap(nil, []verifiedFile{file("a", "1-1"), build("a", "1-1", "x86_64", ".xz")}),
			[]string{"new a a-1-1-x86_64.pkg.tar.xz"}, []string{fn("a", "1-1")}},
		{"same version, other architectures: never obsolete",
			snap([]repodb.Entry{{Name: "a", Version: "1-1", Filename: "a-1-1-aarch64.pkg.tar.zst", CSize: 90, SHA256Sum: sha("a", "1-1") + "aarch64.zst"}},
				[]verifiedFile{build("a", "1-1", "aarch64", ".zst"), build("a", "1-1", "any", ".zst"), file("a", "1-1")}),
			nil, []string{"a-1-1-any.pkg.tar.zst", fn("a", "1-1")}},
		{"newer version in two architectures: the older retired, the other build stays",
			snap([]repodb.Entry{ent("a", "1-1")}, []verifiedFile{file("a", "1-1"), file("a", "2-1"), build("a", "2-1", "any", ".zst")}),
			[]string{"upgrade a a-2-1-any.pkg.tar.zst", "retire a " + fn("a", "1-1")}, []string{fn("a", "2-1")}},
		{"registered file gone, two builds of one version: one registered, the other stays",
			snap([]repodb.Entry{ent("a", "2-1")}, []verifiedFile{file("a", "1-1"), build("a", "1-1", "any", ".zst")}),
			[]string{"downgrade a a-1-1-any.pkg.tar.zst"}, []string{fn("a", "1-1")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := planUpdate(tt.s, nil, planOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if got := short(p); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
			if got := duplicates(p); !reflect.DeepEqual(got, tt.dups) {
				t.Errorf("duplicates %q, want %q", got, tt.dups)
			}
			if len(p.Problems) != len(tt.dups) {
				t.Errorf("problems %d, want %d", len(p.Problems), len(tt.dups))
			}
			r, err := planReset(tt.s, planOptions{})
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range r.Actions {
				if a.Kind == ActRetire || a.Kind == ActUnregister {
					t.Errorf("reset: %s %s", a.Kind, a.File)
				}
			}
			if got := duplicates(r); !reflect.DeepEqual(got, tt.dups) {
				t.Errorf("reset: duplicates %q, want %q", got, tt.dups)
			}
		})
	}
}

// duplicates are the files a plan reports as a second file of the
// registered version.
func duplicates(p *Plan) []string {
	var out []string
	for _, pr := range p.Problems {
		var dup *DuplicateVersionError
		if errors.As(pr.Err, &dup) {
			out = append(out, pr.Path)
		}
	}
	return out
}

// TestPlanAddSameVersion: add registers the file it is given even when
// another file of that very version is registered (another architecture's
// build), as the user's choice; the file it replaces in the entry is not
// obsolete, so it stays and is reported. Older files are retired.
func TestPlanAddSameVersion(t *testing.T) {
	s := snap([]repodb.Entry{ent("a", "1-1")}, []verifiedFile{file("a", "0.9-1"), file("a", "1-1")})
	anyBuild := build("a", "1-1", "any", ".zst")
	p, err := planAdd(s, []verifiedFile{anyBuild}, nil, planOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"refresh a a-1-1-any.pkg.tar.zst", "retire a " + fn("a", "0.9-1")}
	if got := short(p); !reflect.DeepEqual(got, want) {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	if got := duplicates(p); !reflect.DeepEqual(got, []string{fn("a", "1-1")}) {
		t.Errorf("duplicates %q", got)
	}
}

// TestPlanSharedDirectory: no change is planned for a repository whose
// directory holds another repository's database.
func TestPlanSharedDirectory(t *testing.T) {
	s := snap([]repodb.Entry{ent("a", "1-1")}, []verifiedFile{file("a", "1-1"), file("a", "2-1"), file("b", "1-1")})
	s.dir, s.database, s.otherDatabases = "/repo", "test.db.tar.zst", []string{"other.db.tar.zst"}
	plans := map[string]func() (*Plan, error){
		"update": func() (*Plan, error) { return planUpdate(s, nil, planOptions{Force: true}) },
		"add": func() (*Plan, error) {
			return planAdd(s, []verifiedFile{file("a", "3-1")}, nil, planOptions{Force: true})
		},
		"remove": func() (*Plan, error) { return planRemove(s, []string{"a"}, planOptions{Force: true}) },
		"reset":  func() (*Plan, error) { return planReset(s, planOptions{Force: true}) },
	}
	for what, plan := range plans {
		p, err := plan()
		var shared *SharedDirectoryError
		if !errors.As(err, &shared) || !strings.Contains(err.Error(), "other.db.tar.zst") || !strings.Contains(err.Error(), "test.db.tar.zst") {
			t.Errorf("%s: %v", what, err)
		}
		if p != nil && len(p.Actions) > 0 {
			t.Errorf("%s: planned %q", what, short(p))
		}
	}
}

func TestPlanRemove(t *testing.T) {
	s := snap([]repodb.Entry{ent("a", "2-1"), ent("b", "1-1")}, []verifiedFile{file("a", "1-1"), file("a", "2-1")})
	p, err := planRemove(s, []string{"a", "b"}, planOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"unregister a " + fn("a", "2-1"), "retire a " + fn("a", "2-1"), "retire a " + fn("a", "1-1"), "unregister b " + fn("b", "1-1")}
	if got := short(p); !reflect.DeepEqual(got, want) {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	var unk *UnknownPackageError
	if _, err := planRemove(s, []string{"a", "nope"}, planOptions{}); !errors.As(err, &unk) || unk.Names[0] != "nope" {
		t.Errorf("unknown name: %v", err)
	}
}

func TestPlanReset(t *testing.T) {
	s := snap([]repodb.Entry{ent("a", "1-1"), ent("gone", "1-1")}, []verifiedFile{file("a", "1-1"), file("a", "2-1"), file("b", "1-1")}, "x.pkg.tar.zst")
	want := []string{"upgrade a " + fn("a", "2-1"), "new b " + fn("b", "1-1"), "unregister gone " + fn("gone", "1-1")}
	p, err := planReset(s, planOptions{})
	if got := short(p); err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("got  %q %v\nwant %q", got, err, want)
	}
}

// TestPlanResetKeepsUnreadable: an entry whose file is present but cannot
// be read now keeps its entry (reset used to unregister it); only a
// verified newer file replaces it.
func TestPlanResetKeepsUnreadable(t *testing.T) {
	s := snap([]repodb.Entry{ent("a", "1-1"), ent("b", "1-1")}, []verifiedFile{file("b", "0.9-1")}, fn("a", "1-1"), fn("b", "1-1"))
	p, err := planReset(s, planOptions{})
	if err != nil || len(p.Actions) != 0 {
		t.Errorf("got %q %v, want no action", short(p), err)
	}
	s = snap([]repodb.Entry{ent("a", "1-1")}, []verifiedFile{file("a", "2-1")}, fn("a", "1-1"))
	if p, _ := planReset(s, planOptions{}); !reflect.DeepEqual(short(p), []string{"upgrade a " + fn("a", "2-1")}) {
		t.Errorf("newer file: got %q", short(p))
	}
}

// TestPlanResetValve: reset is subject to the mass-removal guard.
func TestPlanResetValve(t *testing.T) {
	var entries []repodb.Entry
	for i := range 11 {
		entries = append(entries, ent(fmt.Sprintf("p%02d", i), "1-1"))
	}
	var refused *RefusedError
	if _, err := planReset(snap(entries, nil), planOptions{}); !errors.As(err, &refused) {
		t.Fatalf("reset of a repository whose files all vanished: %v", err)
	}
	if _, err := planReset(snap(entries, nil), planOptions{Force: true}); err != nil {
		t.Fatalf("with force: %v", err)
	}
}

func TestSafetyValve(t *testing.T) {
	var entries []repodb.Entry
	var files []verifiedFile
	for i := range 11 {
		n := fmt.Sprintf("p%02d", i)
		entries = append(entries, ent(n, "1-1"))
		if i >= 6 { // the files of 6 of 11 are gone
			files = append(files, file(n, "1-1"))
		}
	}
	var ref *RefusedError
	if _, err := planUpdate(snap(entries, files), nil, planOptions{}); !errors.As(err, &ref) || ref.Removing != 6 || ref.Total != 11 {
		t.Fatalf("update losing 6 of 11: %v", err)
	}
	if _, err := planUpdate(snap(entries, files), nil, planOptions{Force: true}); err != nil {
		t.Fatalf("forced: %v", err)
	}
	all := append(files[:0:0], files...)
	for i := range 6 {
		all = append(all, file(fmt.Sprintf("p%02d", i), "1-1"))
	}
	names := []string{"p00", "p01", "p02", "p03", "p04", "p05"}
	if _, err := planRemove(snap(entries, all), names, planOptions{}); !errors.As(err, &ref) {
		t.Fatalf("remove 6 of 11: %v", err)
	}
	if _, err := planRemove(snap(entries, all), names[:5], planOptions{}); err != nil {
		t.Fatalf("remove 5 of 11: %v", err)
	}
	// Upgrading every package is not removing anything.
	var newer []verifiedFile
	for _, e := range entries {
		newer = append(newer, file(e.Name, "1-1"), file(e.Name, "2-1"))
	}
	if _, err := planUpdate(snap(entries, newer), nil, planOptions{}); err != nil {
		t.Fatalf("mass upgrade refused: %v", err)
	}
	// Small repositories are not guarded.
	if _, err := planUpdate(snap(entries[:10], nil), nil, planOptions{}); err != nil {
		t.Fatalf("10 packages: %v", err)
	}
}

// TestPlanUpdateUnknownNames: a name nothing is about is an error, not
// "nothing to do"; a name only an incomplete upload suggests is known.
func TestPlanUpdateUnknownNames(t *testing.T) {
	s := snap([]repodb.Entry{ent("a", "1-1")}, []verifiedFile{file("a", "1-1"), file("b", "1-1")}, fn("c", "1-1"))
	for _, names := range [][]string{{"a"}, {"b"}, {"c"}, {"a", "b", "c"}} {
		if _, err := planUpdate(s, names, planOptions{}); err != nil {
			t.Errorf("update %q: %v", names, err)
		}
	}
	var unk *UnknownPackageError
	_, err := planUpdate(s, []string{"a", "nope", "nope", "zz"}, planOptions{})
	if !errors.As(err, &unk) || !reflect.DeepEqual(unk.Names, []string{"nope", "zz"}) {
		t.Fatalf("update with unknown names: %v", err)
	}
}
