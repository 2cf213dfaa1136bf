#!/bin/sh
# Generate pacrepo's manual pages (one per command) into DIR (default
# ./man) from the command tree. Run from the repository root.
set -eu
dir=${1:-man}
go run ./cmd/pacrepo gen-man "$dir"
echo "manual pages written to $dir" >&2
