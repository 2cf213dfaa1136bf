#!/usr/bin/env bash
# Builds versitygw, the S3-compatible server the object storage tests run
# against, from its Go module at the version tools/versitygw/go.mod pins,
# once per machine and version, and prints the binary's path.
#
# The build (an 80 MB binary; about a minute with a warm module cache, up to
# eight minutes cold) is cached in $PACREPO_TOOLS_CACHE (default
# ${XDG_CACHE_HOME:-$HOME/.cache}/pacrepo-tools), outside the checkout, so
# that a fresh clone does not build it again.
set -euo pipefail
cd "$(dirname "$0")/.."

version=$(awk '$1 == "github.com/versity/versitygw" { print $2 }' tools/versitygw/go.mod)
[[ -n $version ]] || {
	echo "build-versitygw: no version of github.com/versity/versitygw in tools/versitygw/go.mod" >&2
	exit 1
}
cache=${PACREPO_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pacrepo-tools}
out=$cache/versitygw-$version
if [[ ! -x $out ]]; then
	mkdir -p "$cache"
	echo "build-versitygw: building versitygw $version (cached in $cache)" >&2
	tmp=$(mktemp "$cache/.versitygw-$version.XXXXXX")
	trap 'rm -f "$tmp"' EXIT
	(cd tools/versitygw && go build -o "$tmp" github.com/versity/versitygw/cmd/versitygw)
	chmod 755 "$tmp"
	# A rename: two builds at once, or one killed, never leave half a binary.
	mv -f "$tmp" "$out"
	trap - EXIT
fi
echo "$out"
