//go:build unix

package server

import (
	"os"
	"syscall"
)

// openFlags open files without blocking: a FIFO given a public name would
// otherwise hang the request until some writer appeared. Regular files
// ignore O_NONBLOCK, and anything else is refused after the Stat.
const openFlags = os.O_RDONLY | syscall.O_NONBLOCK
