// Command benchreset rebuilds a repository database with repo.Reset, in
// process: what "pacrepo --repo PATH reset" does, without the command
// layer. scripts/bench-vs-repo-add.sh uses it while pacrepo has no reset
// command.
//
//	benchreset DIR/NAME.db.tar.zst
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/pacrepo/pacrepo/internal/repo"
	"github.com/pacrepo/pacrepo/internal/repodb"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: benchreset DIR/NAME.db.tar.EXT")
		os.Exit(2)
	}
	loc, err := repodb.ParseLocation(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchreset:", err)
		os.Exit(1)
	}
	res, err := repo.New(repo.Options{DB: loc, Force: true}).Reset(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchreset:", err)
		os.Exit(1)
	}
	if n := len(res.Plan.Problems); n > 0 {
		fmt.Fprintf(os.Stderr, "benchreset: %d problems, first: %s: %v\n", n, res.Plan.Problems[0].Path, res.Plan.Problems[0].Err)
		os.Exit(3)
	}
}
