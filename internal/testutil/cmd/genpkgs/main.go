// Command genpkgs writes N synthetic, valid pacman packages into a
// directory, for benchmarks: realistic sizes (most packages a few to a few
// dozen files, some hundreds), deterministic for a given N and seed.
//
//	genpkgs -n 2000 -dir /tmp/bench/pkgs
package main

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"

	"github.com/pacrepo/pacrepo/internal/testutil/parallel"
	"github.com/pacrepo/pacrepo/internal/testutil/pkggen"
)

func main() {
	n := flag.Int("n", 2000, "number of packages")
	dir := flag.String("dir", ".", "output directory")
	seed := flag.Uint64("seed", 1, "seed of the size distribution")
	ext := flag.String("ext", ".pkg.tar.zst", "package extension")
	prefix := flag.String("prefix", "bench-pkg", "package names are PREFIX-NNNNN")
	flag.Parse()
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "genpkgs:", err)
		os.Exit(1)
	}

	err := parallel.Each(*n, func(i int) error {
		_, err := pkggen.MakePackage(*dir, spec(*prefix, i, *seed, *ext))
		return err
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "genpkgs:", err)
		os.Exit(1)
	}
}

// spec returns package i: 70% small (3-15 files of 0.2-4 KiB), 25% medium
// (20-60 files), 5% large (200-500 files of up to 16 KiB).
func spec(prefix string, i int, seed uint64, ext string) pkggen.Spec {
	rng := rand.New(rand.NewPCG(seed, uint64(i)))
	s := pkggen.Spec{
		Name:     fmt.Sprintf("%s-%05d", prefix, i),
		Version:  fmt.Sprintf("%d.%d.%d-%d", 1+rng.IntN(5), rng.IntN(20), rng.IntN(100), 1+rng.IntN(3)),
		Desc:     fmt.Sprintf("Benchmark package number %d", i),
		URL:      "https://example.org/bench",
		Licenses: []string{"MIT"},
		Ext:      ext,
	}
	if i%10 == 0 {
		s.Version = "1:" + s.Version
	}
	if i%7 == 0 {
		s.Arch = "any"
	}
	for d := range rng.IntN(6) {
		s.Depends = append(s.Depends, fmt.Sprintf("bench-pkg-%05d>=1.0", (i+d*37+1)%100000))
	}
	if i%3 == 0 {
		s.OptDepends = []string{"python: for the helper: scripts"}
		s.Provides = []string{fmt.Sprintf("bench-virtual-%d=1", i%50)}
	}
	switch r := rng.IntN(100); {
	case r < 70:
		s.NumFiles = 3 + rng.IntN(13)
		s.FileSize = 200 + rng.IntN(4000)
	case r < 95:
		s.NumFiles = 20 + rng.IntN(41)
		s.FileSize = 200 + rng.IntN(8000)
	default:
		s.NumFiles = 200 + rng.IntN(301)
		s.FileSize = 1000 + rng.IntN(15000)
	}
	return s
}
