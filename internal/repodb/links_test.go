package repodb

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/pacrepo/pacrepo/internal/fsutil"
	"github.com/pacrepo/pacrepo/internal/testutil"
	"github.com/pacrepo/pacrepo/internal/testutil/sweep"
)

// randomLinks are the links of package i in version v: a few libraries,
// or none.
func randomLinks(rng *rand.Rand, i, v int) Links {
	l := Links{Name: packageName(i), Version: fmt.Sprintf("%d.0-1", v), Libraries: []string{}}
	for j := range rng.IntN(4) {
		l.Libraries = append(l.Libraries, fmt.Sprintf("lib%d-%d.so.%d", i%7, j, rng.IntN(3)))
	}
	slices.Sort(l.Libraries)
	l.Libraries = slices.Compact(l.Libraries)
	return l
}

// TestWriteLinksChangesEqualsWriteLinksSweep: random sequences of
// packages listed, upgraded and removed, written incrementally, give byte
// for byte the links database a whole WriteLinks of the same links gives,
// which ReadLinks reads back, and the index lists its packages. A failure
// prints the seed (PACREPO_INDEX_SEED replays it). A sweep: under the race
// detector, the first steps only.
func TestWriteLinksChangesEqualsWriteLinksSweep(t *testing.T) {
	t.Parallel()
	seed := testutil.Seed(t, "PACREPO_INDEX_SEED")
	rng := rand.New(rand.NewPCG(seed, 1))
	loc := zstdLocation(t)
	model, initial := randomModel(300, func(i int) Links { return randomLinks(rng, i, 1) })
	if err := WriteLinks(loc, initial); err != nil {
		t.Fatal(err)
	}
	for step := range sweep.Steps(t, 24) {
		lix := ReadLinksIndex(loc)
		if lix == nil {
			t.Fatalf("step %d: no links index after a write", step)
		}
		upserts, removed, did := randomChange(rng, 350, model, func(i int) Links { return randomLinks(rng, i, 2+step) })
		if err := WriteLinksChanges(loc, lix, upserts, removed); err != nil {
			t.Fatalf("step %d (%v): %v", step, did, err)
		}
		ref := zstdLocation(t)
		var all []Links
		for _, l := range model {
			all = append(all, l)
		}
		if err := WriteLinks(ref, all); err != nil {
			t.Fatal(err)
		}
		got, _ := os.ReadFile(loc.LinksPath())
		want, _ := os.ReadFile(ref.LinksPath())
		if !bytes.Equal(got, want) {
			t.Fatalf("seed %d step %d (%v): the links database differs from a whole write of the same links", seed, step, did)
		}
		read, err := ReadLinks(loc.LinksPath())
		if err != nil || len(read) != len(model) {
			t.Fatalf("step %d: read %d packages (%v), want %d", step, len(read), err, len(model))
		}
		for _, l := range model {
			if libs, ok := read[l.Name+"-"+l.Version]; !ok || !slices.Equal(libs, l.Libraries) {
				t.Fatalf("step %d: %s-%s read as %q, want %q", step, l.Name, l.Version, libs, l.Libraries)
			}
		}
		if listed := ReadLinksIndex(loc).Packages(); len(listed) != len(model) {
			t.Fatalf("step %d: the index lists %d packages, want %d", step, len(listed), len(model))
		}
	}
}

// TestLinksIndexTrust: the links index is not trusted for a links
// database written since by another hand, nor when damaged, and a chunk
// that disagrees with it leaves the write to WriteLinks; a links database
// written incrementally is one bsdtar reads, and a change of links it
// lists already as they are leaves it alone.
func TestLinksIndexTrust(t *testing.T) {
	t.Parallel()
	bsdtar := testutil.RequireTool(t, "bsdtar")
	loc := zstdLocation(t)
	rng := rand.New(rand.NewPCG(7, 7))
	var links []Links
	for i := range 300 {
		links = append(links, randomLinks(rng, i, 1))
	}
	if err := WriteLinks(loc, links); err != nil {
		t.Fatal(err)
	}
	lix := ReadLinksIndex(loc)
	if lix == nil || len(lix.Chunks) < 2 {
		t.Fatalf("links index %+v: want several chunks", lix)
	}
	if err := WriteLinksChanges(loc, lix, []Links{{Name: "pkg-0150", Version: "9-1", Libraries: []string{"libz.so.1"}}}, []string{"pkg-0003"}); err != nil {
		t.Fatal(err)
	}
	// Links listed already, as they are: the file is left alone.
	lix = ReadLinksIndex(loc)
	before, _ := fsutil.StatID(loc.LinksPath())
	if err := WriteLinksChanges(loc, lix, []Links{links[7], {Name: "pkg-0150", Version: "9-1", Libraries: []string{"libz.so.1"}}}, nil); err != nil {
		t.Fatal(err)
	}
	if after, _ := fsutil.StatID(loc.LinksPath()); after != before || ReadLinksIndex(loc) == nil {
		t.Fatal("a change of links listed already as they are wrote the links database")
	}
	listing := testutil.Run(t, bsdtar, "-tf", loc.LinksPath())
	if !strings.Contains(listing, "pkg-0150-9-1/links\n") || strings.Contains(listing, "pkg-0003-") ||
		strings.Count(listing, "/links\n") != 299 {
		t.Fatalf("bsdtar lists the incremental links database as:\n%s", listing)
	}
	out := testutil.Run(t, bsdtar, "-xOf", loc.LinksPath(), "pkg-0150-9-1/links")
	if out != "libz.so.1\n" {
		t.Fatalf("bsdtar extracts pkg-0150-9-1/links as %q", out)
	}

	// Another writer's file: the index names another.
	stale := ReadLinksIndex(loc)
	data, _ := os.ReadFile(loc.LinksPath())
	if err := os.WriteFile(loc.LinksPath()+".new", data, 0o644); err != nil {
		t.Fatal(err)
	}
	os.Rename(loc.LinksPath()+".new", loc.LinksPath())
	if ReadLinksIndex(loc) != nil {
		t.Fatal("a links index is trusted for a links database written since")
	}
	if err := WriteLinksChanges(loc, stale, nil, []string{"pkg-0004"}); !errors.Is(err, ErrNotIncremental) {
		t.Fatalf("a change over a stale links index: %v, want ErrNotIncremental", err)
	}
	// A damaged index is none.
	if err := WriteLinks(loc, links); err != nil {
		t.Fatal(err)
	}
	ixPath := linksIndexPath(loc)
	ixData, _ := os.ReadFile(ixPath)
	ixData[len(ixData)-1] ^= 1
	os.WriteFile(ixPath, ixData, 0o644)
	if ReadLinksIndex(loc) != nil {
		t.Fatal("a damaged links index is trusted")
	}
	// A chunk that disagrees with the index (its packages not the ones
	// listed): the change gives up rather than write what it cannot vouch
	// for.
	if err := WriteLinks(loc, links); err != nil {
		t.Fatal(err)
	}
	lix = ReadLinksIndex(loc)
	lix.Chunks[0].Keys[0].Version = "0-1"
	if err := WriteLinksChanges(loc, lix, []Links{{Name: lix.Chunks[0].Keys[1].Name, Version: "9-1"}}, nil); !errors.Is(err, ErrNotIncremental) {
		t.Fatalf("a change over a chunk that disagrees with the index: %v, want ErrNotIncremental", err)
	}
	// Other compressions have no frames: no index.
	gz := Location{Dir: t.TempDir(), Name: "gz", Ext: ".tar.gz"}
	if err := WriteLinks(gz, links); err != nil {
		t.Fatal(err)
	}
	if ReadLinksIndex(gz) != nil {
		t.Fatal("a links index for a gzip links database")
	}
}
