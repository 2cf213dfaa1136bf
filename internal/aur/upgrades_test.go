package aur

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/pacrepo/pacrepo/internal/aur/aurtest"
)

func TestUpgradesRPC(t *testing.T) {
	s := aurtest.New(t)
	s.LoadRecorded("info-yay.json", "info-split-outofdate-orphan.json")
	c, _ := testClient(s)
	st, err := Upgrades(context.Background(), c, []Installed{
		{"yay", "12.3.5-1"},                   // older: upgrade
		{"yay-bin", "1:1.0-1"},                // epoch makes the local one newer
		{"pyqt5-sip-legacy", "4.19.25-3"},     // current
		{"python-pyqt5-sip-legacy", "4.19-1"}, // upgrade, flagged out of date
		{"jq-git", "1.7.1.r50.gffff-1"},       // local newer
		{"local-only", "1-1"},
		{"ignored-thing", "1-1"},
	}, UpgradeOptions{Ignore: []string{"ignored-*"}})
	if err != nil {
		t.Fatal(err)
	}
	want := &UpgradeStatus{
		Upgrades: []Upgrade{
			{Name: "python-pyqt5-sip-legacy", Base: "pyqt5-sip-legacy-split", Local: "4.19-1", AUR: "4.19.25-3", OutOfDate: true},
			{Name: "yay", Base: "yay", Local: "12.3.5-1", AUR: "12.4.2-1"},
		},
		NewerLocal: []Upgrade{
			{Name: "jq-git", Base: "jq-git", Local: "1.7.1.r50.gffff-1", AUR: "1.7.1.r45.g1234abc-1"},
			{Name: "yay-bin", Base: "yay-bin", Local: "1:1.0-1", AUR: "12.4.2-1"},
		},
		NotInAUR: []string{"local-only"},
		Ignored:  []string{"ignored-thing"},
		Current:  []Upgrade{{Name: "pyqt5-sip-legacy", Base: "pyqt5-sip-legacy-split", Local: "4.19.25-3", AUR: "4.19.25-3", OutOfDate: true}},
	}
	if !reflect.DeepEqual(st, want) {
		t.Errorf("got  %+v\nwant %+v", st, want)
	}
	for _, r := range s.Requests() {
		if strings.Contains(r.URI, "ignored-thing") {
			t.Error("an ignored package was asked")
		}
	}
}

func TestUpgradesOfAnEmptyRepositoryAskNothing(t *testing.T) {
	s := aurtest.New(t)
	c, _ := testClient(s)
	st, err := Upgrades(context.Background(), c, nil, UpgradeOptions{Mode: LookupDump, CacheDir: t.TempDir()})
	if err != nil || len(st.Upgrades) != 0 {
		t.Fatal(st, err)
	}
	if n := len(s.Requests()); n != 0 {
		t.Fatalf("%d requests", n)
	}
}

// A repository of 5,000 packages: by RPC it costs a few dozen batched
// requests, not 5,000; in auto mode it uses the dump, one request, and
// later runs revalidate it (304) instead of downloading it again.
func TestUpgradesLargeRepository(t *testing.T) {
	s := aurtest.New(t)
	var reg []Installed
	var pkgs []aurtest.Pkg
	for i := range 5000 {
		name := fmt.Sprintf("some-package-name-%04d", i)
		reg = append(reg, Installed{name, "1.0-1"})
		if i%2 == 0 {
			pkgs = append(pkgs, aurtest.Pkg{Name: name, Version: fmt.Sprintf("1.%d-1", i%3)})
		}
	}
	s.Add(pkgs...)
	c, _ := testClient(s)
	ctx := context.Background()

	byRPC, err := Upgrades(ctx, c, reg, UpgradeOptions{Mode: LookupRPC})
	if err != nil {
		t.Fatal(err)
	}
	rpcRequests := len(s.Requests())
	if rpcRequests > 5000*30/MaxURILength+2 {
		t.Errorf("%d RPC requests for 5,000 names", rpcRequests)
	}
	t.Logf("5000 names: %d RPC requests", rpcRequests)

	s.ResetRequests()
	cache := filepath.Join(t.TempDir(), "cache")
	byDump, err := Upgrades(ctx, c, reg, UpgradeOptions{CacheDir: cache}) // auto: above the threshold
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(byRPC, byDump) {
		t.Error("the dump and the RPC disagree")
	}
	if len(byDump.NotInAUR) != 2500 || len(byDump.Upgrades) != 1666 {
		t.Errorf("%d not in AUR, %d upgrades", len(byDump.NotInAUR), len(byDump.Upgrades))
	}
	reqs := s.Requests()
	if len(reqs) != 1 || reqs[0].Path != MetaPath {
		t.Fatalf("requests %+v, want one of the dump", reqs)
	}

	// Second run: conditional request, 304, cached copy reused.
	s.ResetRequests()
	if _, err := Upgrades(ctx, c, reg, UpgradeOptions{CacheDir: cache}); err != nil {
		t.Fatal(err)
	}
	reqs = s.Requests()
	if len(reqs) != 1 || reqs[0].Header.Get("If-None-Match") == "" || reqs[0].Header.Get("If-Modified-Since") == "" {
		t.Fatalf("second run did not revalidate: %+v", reqs)
	}

	// The AUR regenerates the dump: downloaded again, new data used.
	s.Add(aurtest.Pkg{Name: "some-package-name-0001", Version: "9-1"})
	s.TouchMeta()
	st, err := Upgrades(ctx, c, reg, UpgradeOptions{CacheDir: cache})
	if err != nil {
		t.Fatal(err)
	}
	if len(st.NotInAUR) != 2499 {
		t.Errorf("the regenerated dump was not used: %d not in AUR", len(st.NotInAUR))
	}
}

func TestReadMetaStreams(t *testing.T) {
	in := "[\n" + `{"Name":"a","Version":"1-1","OutOfDate":null,"Maintainer":null}` + ",\n" + `{"Name":"b","Version":"2-1","Depends":["a>=1"]}` + "\n]"
	var got []string
	err := ReadMeta(strings.NewReader(in), func(p *Package) error {
		got = append(got, p.Name+"="+p.Version+strings.Join(p.Depends, ","))
		return nil
	})
	if err != nil || strings.Join(got, " ") != "a=1-1 b=2-1a>=1" {
		t.Fatalf("%q %v", got, err)
	}
	for _, bad := range []string{"", "{}", "[{\"Name\":1}]", "[{\"Name\":\"a\"}", "<html>"} {
		if err := ReadMeta(strings.NewReader(bad), func(*Package) error { return nil }); err == nil {
			t.Errorf("ReadMeta(%q) accepted", bad)
		}
	}
}

func TestCorruptCachedDumpIsNotReused(t *testing.T) {
	s := aurtest.New(t)
	s.Add(aurtest.Pkg{Name: "a", Version: "1-1"})
	c, _ := testClient(s)
	cache := t.TempDir()
	ctx := context.Background()
	if _, err := c.MetaLookup(ctx, cache, []string{"a"}); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(cache, metaFile), []byte("garbage"), 0o644)
	if _, err := c.MetaLookup(ctx, cache, []string{"a"}); err == nil {
		t.Fatal("corrupt cache accepted")
	}
	m, err := c.MetaLookup(ctx, cache, []string{"a"})
	if err != nil || m["a"].Version != "1-1" {
		t.Fatalf("after corruption: %v %v", m, err)
	}
}
