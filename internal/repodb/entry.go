// Package repodb reads and writes pacman repository databases
// (NAME.db.tar.* and NAME.files.tar.*).
package repodb

// Entry is one package of a repository database: the fields of its "desc"
// file and, for the files database, its file list.
type Entry struct {
	Filename     string
	Name         string
	Base         string
	Version      string
	Desc         string
	Groups       []string
	CSize        int64
	ISize        int64
	MD5Sum       string // kept when read; never written
	SHA256Sum    string
	PGPSig       string // base64 of the detached signature; written only when set
	URL          string
	Licenses     []string
	Arch         string
	BuildDate    int64
	Packager     string
	Replaces     []string
	Conflicts    []string
	Provides     []string
	Depends      []string
	OptDepends   []string
	MakeDepends  []string
	CheckDepends []string

	// Extra holds fields this package does not know, in order, so that
	// reading and writing a database keeps them.
	Extra []Field

	// Files is the file list of the files database; nil when not loaded
	// (or packed: see PackFiles).
	Files []string

	// packedFiles is the file list PackFiles compressed; nil unless packed.
	packedFiles []byte
}

// Field is one %NAME% section of a desc file with its values.
type Field struct {
	Name   string
	Values []string
}
