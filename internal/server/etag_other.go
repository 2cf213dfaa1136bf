//go:build !unix

package server

import "io/fs"

func etagOf(fi fs.FileInfo) string { return etagFallback(fi) }
