//go:build unix

package server

import (
	"errors"
	"os"
	"syscall"
)

// openFlags open files without blocking: a FIFO given a public name would
// otherwise hang the request until some writer appeared. Regular files
// ignore O_NONBLOCK, and anything else is refused after the Stat.
const openFlags = os.O_RDONLY | syscall.O_NONBLOCK

// noFollow refuses to open a symbolic link: the name resolved and judged
// is the very file opened, even if someone swaps in a link meanwhile.
const noFollow = syscall.O_NOFOLLOW

// isLinkRefused tells whether an open failed because O_NOFOLLOW met a link
// (one swapped in after the name was judged) or a link loop.
func isLinkRefused(err error) bool { return errors.Is(err, syscall.ELOOP) }
