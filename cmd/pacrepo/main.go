// Command pacrepo manages local pacman package repositories.
package main

import (
	"os"

	"github.com/pacrepo/pacrepo/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:]))
}
