#!/usr/bin/env bash
# From nothing to a repository that pacman installs from, on a fresh Debian
# machine with Go installed:
#   1. installs the tools it needs (pacman, makepkg, ...) when missing,
#   2. builds pacrepo into bin/pacrepo,
#   3. builds the 5 sample packages the demo uses with the real makepkg
#      (not the test suite's whole fixture set),
#   4. adds them to a new repository DIR/demo.db.tar.zst with pacrepo,
#      lists and checks it,
#   5. serves it with `pacrepo host` and lets real pacman (with a private
#      configuration and database in a temporary directory, under fakeroot
#      for an ordinary user) sync from it and download a package
#      (checksums verified), then stops the server and removes the
#      temporary directory.
#
# Works as root and as an ordinary user (who needs the tools installed, or
# sudo to install them).
#
# Usage: scripts/quickstart.sh [DIR]    (default: ./demo-repo)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-$PWD/demo-repo}
# The demo repository is made anew on each run (the sample packages may
# have been rebuilt since, with other bytes under the same names): a
# directory this script made holds its mark and is emptied; any other that
# is not empty is left alone and refused.
if [[ -f $dir/.pacrepo-quickstart ]]; then
	rm -rf "$dir"
elif [[ -d $dir && -n $(ls -A "$dir") ]]; then
	echo "quickstart: $dir is not empty and not a demo repository this script made; name another directory" >&2
	exit 2
fi
mkdir -p "$dir"
: >"$dir/.pacrepo-quickstart"
dir=$(cd "$dir" && pwd)

# Each step is announced as it starts, with what it costs, so that a slow
# machine never looks hung.
step=0
say() { printf '\n== %d/5 %s\n' "$((++step))" "$*"; }

say "installing the tools pacrepo's samples need, only what is missing (apt-get: a minute or two when anything is)"
"$root/scripts/install-test-deps.sh"

say "building pacrepo with go build (the first build compiles every dependency: a minute or two on two idle cores, seconds afterwards)"
(cd "$root" && go build -o bin/pacrepo ./cmd/pacrepo)
pacrepo=$root/bin/pacrepo

# The demo's samples alone, one file a package: the test suite's other
# fixtures (compression variants, thousands of files) would only slow it.
samples=any,deps,epoch,split,unicode
say "building the sample packages $samples with makepkg (about a minute on two idle cores, several on a busy machine; nothing when built before)"
pkgs=$root/testdata/cache/pkgs
"$root/scripts/build-fixtures.sh" --only "$samples" "$pkgs"

db=$dir/demo.db.tar.zst
say "adding them to $db, listing and checking it"
names=()
for s in ${samples//,/ }; do
	names+=("$pkgs"/fixture-"$s"*.pkg.tar.zst)
done
"$pacrepo" --repo "$db" add "${names[@]}"
"$pacrepo" --repo "$db" list -v
"$pacrepo" --repo "$db" check

say "serving the repository and syncing real pacman from it (seconds)"
pm=$(mktemp -d "${TMPDIR:-/tmp}/pacrepo-quickstart.XXXXXX")
host_pid=
cleanup() {
	if [[ -n $host_pid ]]; then
		kill "$host_pid" 2>/dev/null || true
		wait "$host_pid" 2>/dev/null || true
	fi
	rm -rf "$pm"
}
trap cleanup EXIT

# Port 0: the system picks a free port (a fixed or random one may be taken
# by then), and host names it in its first line on standard error, once it
# listens. The log exists before host starts: the shell opens a background
# command's redirection in the child, which on a loaded machine may come
# after the first look at the file.
log=$pm/host.log
: >"$log"
"$pacrepo" --repo "$db" host --listen 127.0.0.1:0 2>>"$log" &
host_pid=$!
wait_seconds=60
deadline=$((SECONDS + wait_seconds))
url=
while :; do
	url=$(sed -n 's|^pacrepo: serving demo from .* at \(http://[^ ]*\)/demo$|\1|p' "$log")
	[[ -n $url ]] && break
	if ! kill -0 "$host_pid" 2>/dev/null; then
		echo "quickstart: pacrepo host stopped before serving:" >&2
		cat "$log" >&2
		exit 1
	fi
	if ((SECONDS >= deadline)); then
		echo "quickstart: pacrepo host did not say where it serves within ${wait_seconds}s:" >&2
		cat "$log" >&2
		exit 1
	fi
	sleep 0.1
done

mkdir -p "$pm/db" "$pm/cache" "$pm/gpg"
cat >"$pm/pacman.conf" <<CONF
[options]
Architecture = auto
SigLevel = Never
DBPath = $pm/db/
CacheDir = $pm/cache/
LogFile = $pm/pacman.log
GPGDir = $pm/gpg/

[demo]
Server = $url/demo
CONF
# pacman refuses -S without root even on a database of its own; fakeroot
# lets an ordinary user sync into this private one.
pacman() {
	local as_root=()
	((EUID == 0)) || as_root=(fakeroot --)
	"${as_root[@]}" command pacman --config "$pm/pacman.conf" --dbpath "$pm/db" "$@"
}
pacman -Sy
pacman -Sl demo
first=$("$pacrepo" --repo "$db" list | head -n 1)
pacman -Sw --noconfirm --cachedir "$pm/cache" "$first"
ls "$pm/cache"/"$first"-*.pkg.tar.* >/dev/null

printf '\n== done: repository in %s\n' "$dir"
cat <<TXT
Serve it again with:
  $pacrepo --repo $db host
and point pacman at it with:
  [demo]
  SigLevel = Optional TrustAll
  Server = http://127.0.0.1:8080/demo
TXT
