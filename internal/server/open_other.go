//go:build !unix

package server

import "os"

const openFlags = os.O_RDONLY

const noFollow = 0

func isLinkRefused(error) bool { return false }
