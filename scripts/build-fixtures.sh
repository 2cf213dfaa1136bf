#!/usr/bin/env bash
# Builds the fixture packages with the real makepkg from the PKGBUILDs under
# testdata/pkgbuilds/<name>/PKGBUILD (or SRCDIR/<name>/PKGBUILD) into OUTDIR
# (default testdata/cache/pkgs): build-fixtures.sh [--force] [OUTDIR [SRCDIR]].
#
# makepkg refuses to run as root, so as root the build runs as an
# unprivileged user (PACREPO_BUILD_USER, default "nobody") through setpriv,
# with a private HOME, BUILDDIR and makepkg.conf in a temporary directory.
# A PKGBUILD directory may hold a file PKGEXTS listing package extensions,
# one a line: the package is then built once per extension, with
# FIXTURE_PKGEXT set to it (the PKGBUILD puts it in its pkgname).
#
# --only NAME,NAME builds only those PKGBUILD directories, each with the
# default extension alone (the quickstart's demo needs no more).
#
# The result is cached: OUTDIR/.stamp holds a hash of the inputs, and a
# rebuild happens only when it changes (or with --force). A whole set that
# is up to date serves any --only. Each set built is also kept, under its
# hash, in $PACREPO_TOOLS_CACHE (default
# ${XDG_CACHE_HOME:-$HOME/.cache}/pacrepo-tools; PACREPO_TOOLS_CACHE=off
# keeps nothing there), outside the checkout: a fresh clone of the same
# inputs copies the set from there instead of running makepkg again. The
# packages are a function of the hashed inputs, so a copy is the build.
#
# Each makepkg run is named as it starts: on a busy machine a build takes
# minutes, and silence looks like a hang.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
force=0
only=
while [[ ${1:-} == --* ]]; do
	case $1 in
	--force) force=1 ;;
	--only)
		only=${2:?--only needs a list of PKGBUILD directories}
		shift
		;;
	*)
		echo "build-fixtures: unknown option $1" >&2
		exit 2
		;;
	esac
	shift
done
outdir=${1:-$root/testdata/cache/pkgs}
mkdir -p "$(dirname "$outdir")"
outdir=$(cd "$(dirname "$outdir")" && pwd)/$(basename "$outdir")
src=${2:-$root/testdata/pkgbuilds}
src=$(cd "$src" && pwd)
for name in ${only//,/ }; do
	[[ -f $src/$name/PKGBUILD ]] || {
		echo "build-fixtures: --only $name: no $src/$name/PKGBUILD" >&2
		exit 2
	}
done

# Hash of everything that affects the result: the PKGBUILD tree, this
# script, and the makepkg version.
inputs_hash() {
	{
		(cd "$src" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
		sha256sum <"$0"
		makepkg --version 2>/dev/null | sed -n 1p
	} | sha256sum | cut -d' ' -f1
}
whole_hash=$(inputs_hash)
hash=$whole_hash
if [[ -n $only ]]; then
	hash=$(printf '%s only %s\n' "$whole_hash" "$only" | sha256sum | cut -d' ' -f1)
fi
if ((!force)) && [[ -f $outdir/.stamp ]]; then
	stamp=$(<"$outdir/.stamp")
	[[ $stamp == "$hash" || $stamp == "$whole_hash" ]] && exit 0
fi

# install_set DIR: replaces OUTDIR as a whole with the packages in DIR, so
# a reader never sees half a set.
install_set() {
	local from=$1 new=$outdir.new.$$ old=$outdir.old.$$
	rm -rf "$new"
	mkdir -p "$new"
	cp "$from"/* "$new/"
	[[ $EUID == 0 ]] && chown -R 0:0 "$new"
	chmod 644 "$new"/*
	echo "$hash" >"$new/.stamp"
	[[ -e $outdir ]] && mv "$outdir" "$old"
	mv "$new" "$outdir"
	rm -rf "$old"
}

machine_cache=${PACREPO_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pacrepo-tools}
kept=
if [[ $machine_cache != off ]]; then
	kept=$machine_cache/fixtures/$(basename "$src")-$hash
	if ((!force)) && [[ -f $kept/.complete ]]; then
		install_set "$kept"
		echo "build-fixtures: $(basename "$src") copied from $kept" >&2
		exit 0
	fi
fi

for tool in makepkg fakeroot bsdtar zstd xz gzip bzip2 lz4; do
	command -v "$tool" >/dev/null || {
		echo "build-fixtures: $tool is missing (run scripts/install-test-deps.sh)" >&2
		exit 1
	}
done

work=$(mktemp -d "${TMPDIR:-/tmp}/pacrepo-fixtures.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/home" "$work/build" "$work/out" "$work/src" "$work/log"
cp -r "$src/." "$work/src/"

cat >"$work/makepkg.conf" <<'CONF'
# makepkg.conf of the test fixtures: nothing that needs missing tools, no
# stripping, no debug packages, no signing, no checks.
CARCH="x86_64"
CHOST="x86_64-pc-linux-gnu"
CFLAGS="-O2"
CXXFLAGS="-O2"
LDFLAGS=""
MAKEFLAGS="-j2"
BUILDENV=(!distcc !color !ccache !check !sign)
OPTIONS=(!strip docs !libtool !staticlibs emptydirs !zipman !purge !debug !lto)
INTEGRITY_CHECK=(sha256)
COMPRESSGZ=(gzip -c -f -n)
COMPRESSBZ2=(bzip2 -c -f)
COMPRESSXZ=(xz -c -z -)
COMPRESSZST=(zstd -c -z -q -)
COMPRESSLZ4=(lz4 -q)
PKGEXT='.pkg.tar.zst'
SRCEXT='.src.tar.gz'
CONF

# As root, drop to an unprivileged user; otherwise run as ourselves.
as_builder=()
if ((EUID == 0)); then
	user=${PACREPO_BUILD_USER:-nobody}
	uid=$(id -u "$user")
	gid=$(id -g "$user")
	chown -R "$uid:$gid" "$work"
	as_builder=(setpriv --reuid="$uid" --regid="$gid" --clear-groups --)
fi
# The temporary directory itself must be reachable by the builder.
chmod 755 "$work"

build() { # build DIR PKGEXT
	local dir=$1 ext=$2
	env -i \
		PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin \
		HOME="$work/home" \
		LANG=C.UTF-8 \
		SOURCE_DATE_EPOCH=1700000000 \
		PACKAGER='Pacrepo Fixtures <fixtures@pacrepo.invalid>' \
		BUILDDIR="$work/build" \
		PKGDEST="$work/out" \
		SRCDEST="$work/build" \
		LOGDEST="$work/log" \
		PKGEXT="$ext" \
		FIXTURE_PKGEXT="$ext" \
		"${as_builder[@]}" \
		bash -c 'cd "$1" && exec makepkg --config "$2" --force --nodeps --nosign --nocheck --noconfirm --noprogressbar --nocolor --clean' \
		_ "$dir" "$work/makepkg.conf"
}

# Each makepkg run costs a few seconds of shell start-up, so run them in
# parallel; every build has its own pkgbase, hence its own BUILDDIR subtree.
jobs=$(($(nproc) + 1))
running=0
for dir in "$work"/src/*/; do
	dir=${dir%/}
	[[ -f $dir/PKGBUILD ]] || continue
	if [[ -n $only && ,$only, != *,$(basename "$dir"),* ]]; then
		continue
	fi
	exts=(.pkg.tar.zst)
	if [[ -z $only && -f $dir/PKGEXTS ]]; then
		mapfile -t exts < <(grep -v '^[[:space:]]*$' "$dir/PKGEXTS")
	fi
	for ext in "${exts[@]}"; do
		log="$work/log/$(basename "$dir")$ext.log"
		echo "build-fixtures: makepkg $(basename "$dir") ($ext)" >&2
		(build "$dir" "$ext" >"$log" 2>&1 || { echo "makepkg failed" >>"$log"; touch "$log.failed"; }) &
		if ((++running >= jobs)); then
			wait -n || true
			((running--))
		fi
	done
done
wait
failed=0
for f in "$work"/log/*.failed; do
	[[ -e $f ]] || continue
	echo "build-fixtures: $(basename "${f%.log.failed}") failed:" >&2
	cat "${f%.failed}" >&2
	failed=1
done
((failed == 0)) || exit 1

install_set "$work/out"

# Keep the set for the next clone: written aside and renamed, marked
# complete last, so that a killed run or two at once leave nothing half
# kept. Older sets of the same source go (the four newest stay). A cache
# that cannot be written only costs the next clone a build.
keep_set() {
	local tmp
	mkdir -p "$machine_cache/fixtures" || return 0
	find "$machine_cache/fixtures" -maxdepth 1 -name '.new.*' -mmin +60 -exec rm -rf {} + || true
	[[ -f $kept/.complete ]] && return 0
	tmp=$(mktemp -d "$machine_cache/fixtures/.new.XXXXXX") || return 0
	if cp "$work"/out/* "$tmp/" && touch "$tmp/.complete"; then
		rm -rf "$kept"
		mv -T "$tmp" "$kept" 2>/dev/null || rm -rf "$tmp"
	else
		rm -rf "$tmp"
	fi
	ls -1dt "$machine_cache/fixtures/$(basename "$src")"-* 2>/dev/null | tail -n +5 | xargs -r rm -rf
}
if [[ -n $kept ]]; then
	keep_set 2>/dev/null || true
fi
