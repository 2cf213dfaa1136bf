package server

import "github.com/pacrepo/pacrepo/internal/layout"

// publicKind is what the flat file name is in the repository repoName when
// pacman downloads files of that kind (a package, a signature, a database
// or its link), and layout.Other for everything else, which is never
// served. The names are those of internal/layout, which the repository's
// own commands use too.
func publicKind(repoName, name string) layout.Kind {
	if repoName == "" {
		return layout.Other
	}
	if k := (layout.Names{Repo: repoName}).Classify(name); k.Public() {
		return k
	}
	return layout.Other
}
