// Package aur is pacrepo's client of the AUR (aurweb) RPC interface,
// version 5: batched info requests that respect the AUR's URI length
// limit, searches, the metadata dump for large repositories, snapshot
// downloads and the upgrade status of registered packages.
//
// It never prints; callers decide what to show.
package aur

// Package is one result of the AUR RPC (info or search) or one object of
// the metadata dump. Search results lack Submitter and every list field;
// info results and the extended dump have them. JSON null becomes the
// zero value, except OutOfDate, which stays nil when the package is not
// flagged.
type Package struct {
	ID             int64   `json:"ID"`
	Name           string  `json:"Name"`
	PackageBaseID  int64   `json:"PackageBaseID"`
	PackageBase    string  `json:"PackageBase"`
	Version        string  `json:"Version"`
	Description    string  `json:"Description"`
	URL            string  `json:"URL"`
	NumVotes       int     `json:"NumVotes"`
	Popularity     float64 `json:"Popularity"`
	OutOfDate      *int64  `json:"OutOfDate"`  // unix time it was flagged, nil when not flagged
	Maintainer     string  `json:"Maintainer"` // "" for an orphan (null in the reply)
	Submitter      string  `json:"Submitter,omitempty"`
	FirstSubmitted int64   `json:"FirstSubmitted"`
	LastModified   int64   `json:"LastModified"`
	URLPath        string  `json:"URLPath"`

	Depends       []string `json:"Depends,omitempty"`
	MakeDepends   []string `json:"MakeDepends,omitempty"`
	CheckDepends  []string `json:"CheckDepends,omitempty"`
	OptDepends    []string `json:"OptDepends,omitempty"`
	Conflicts     []string `json:"Conflicts,omitempty"`
	Provides      []string `json:"Provides,omitempty"`
	Replaces      []string `json:"Replaces,omitempty"`
	Groups        []string `json:"Groups,omitempty"`
	License       []string `json:"License,omitempty"`
	Keywords      []string `json:"Keywords,omitempty"`
	CoMaintainers []string `json:"CoMaintainers,omitempty"`
}

// Base returns the package base, falling back to the name for replies
// that lack it.
func (p Package) Base() string {
	if p.PackageBase != "" {
		return p.PackageBase
	}
	return p.Name
}

// IsOutOfDate reports whether the package is flagged out of date.
func (p Package) IsOutOfDate() bool { return p.OutOfDate != nil }
