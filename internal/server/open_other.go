//go:build !unix

package server

import "os"

const openFlags = os.O_RDONLY
