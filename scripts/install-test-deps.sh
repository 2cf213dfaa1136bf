#!/usr/bin/env bash
# Installs the reference tools the tests use as oracles (real makepkg,
# repo-add, pacman, bsdtar, compressors, ...), only those that are missing.
# Quiet and quick when everything is present; safe to run repeatedly.
# Works as root on a fresh Debian 12, or through sudo when not root.
set -euo pipefail

# command -> Debian package that provides it
declare -A provider=(
	[pacman]=pacman-package-manager
	[repo-add]=pacman-package-manager
	[repo-remove]=pacman-package-manager
	[makepkg]=makepkg
	[vercmp]=makepkg
	[bsdtar]=libarchive-tools
	[zstd]=zstd
	[xz]=xz-utils
	[lz4]=lz4
	[bzip2]=bzip2
	[gzip]=gzip
	[gpg]=gnupg
	[fakeroot]=fakeroot
	[setpriv]=util-linux
	[flock]=util-linux
	[sha256sum]=coreutils
	[gcc]=gcc # go test -race needs cgo; the ELF fixtures are C
	[readelf]=binutils # the oracle of the sonames read from ELF files
	[debugedit]=debugedit # makepkg's debug option (the dbg-debug ELF fixture)
	[chromium]=chromium # the package pages are tested in a real browser
	[curl]=curl # makepkg fetches a file:// source with it (the PKGBUILD test)
	[tar]=tar
)

find_missing() {
	missing=()
	local cmd
	for cmd in "${!provider[@]}"; do
		command -v "$cmd" >/dev/null 2>&1 || missing+=("${provider[$cmd]}")
	done
	# GNU time is a file, not a shell builtin: check the path.
	[[ -x /usr/bin/time ]] || missing+=(time)
	# cgo links against the C library (gcc only recommends it).
	[[ -e /usr/include/stdlib.h ]] || missing+=(libc6-dev)
	# The version tests link libalpm's alpm_pkg_vercmp (pacman's own).
	compgen -G '/usr/lib/*/libalpm.so' >/dev/null || compgen -G '/usr/lib/libalpm.so' >/dev/null || missing+=(libalpm-dev)
	# chromium only recommends a font; the pages' screenshot needs one.
	[[ -d /usr/share/fonts/truetype/liberation ]] || missing+=(fonts-liberation)
	return 0
}

find_missing

if ((${#missing[@]} == 0)); then
	exit 0
fi

# Deduplicate, keep it stable for the log.
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
echo "install-test-deps: installing ${missing[*]}" >&2

run=()
if ((EUID != 0)); then
	if command -v sudo >/dev/null 2>&1; then
		run=(sudo)
	else
		echo "install-test-deps: need root (or sudo) to install: ${missing[*]}" >&2
		exit 1
	fi
fi

export DEBIAN_FRONTEND=noninteractive
"${run[@]}" apt-get update -qq >/dev/null
"${run[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

find_missing
if ((${#missing[@]})); then
	echo "install-test-deps: still missing after apt-get install: ${missing[*]}" >&2
	exit 1
fi
