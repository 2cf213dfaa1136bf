#!/usr/bin/env bash
# From nothing to a repository that pacman installs from, on a fresh Debian
# machine with Go installed:
#   1. installs the tools it needs (pacman, makepkg, ...) when missing,
#   2. builds pacrepo into bin/pacrepo,
#   3. builds a few sample packages with the real makepkg,
#   4. adds them to a new repository DIR/demo.db.tar.zst with pacrepo,
#      lists and checks it,
#   5. serves it with `pacrepo host` and lets real pacman sync from it and
#      download a package (checksums verified), then stops the server.
#
# Usage: scripts/quickstart.sh [DIR]    (default: ./demo-repo)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-$PWD/demo-repo}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

say() { printf '\n== %s\n' "$*"; }

say "installing the tools pacrepo's samples need (only what is missing)"
"$root/scripts/install-test-deps.sh"

say "building pacrepo"
(cd "$root" && go build -o bin/pacrepo ./cmd/pacrepo)
pacrepo=$root/bin/pacrepo

say "building sample packages with makepkg"
pkgs=$root/testdata/cache/pkgs
"$root/scripts/build-fixtures.sh" "$pkgs"

db=$dir/demo.db.tar.zst
say "adding them to $db"
# Only the zstd packages: one file per package name keeps the demo readable.
"$pacrepo" --repo "$db" add "$pkgs"/*.pkg.tar.zst
"$pacrepo" --repo "$db" list -v
"$pacrepo" --repo "$db" check

say "serving the repository and syncing real pacman from it"
port=$((20000 + RANDOM % 20000))
"$pacrepo" --repo "$db" host --listen "127.0.0.1:$port" 2>"$dir/host.log" &
host_pid=$!
trap 'kill $host_pid 2>/dev/null || true' EXIT
for _ in $(seq 50); do
	(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
	sleep 0.1
done

pm=$(mktemp -d)
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
Server = http://127.0.0.1:$port/demo
CONF
pacman --config "$pm/pacman.conf" --dbpath "$pm/db" -Sy
pacman --config "$pm/pacman.conf" --dbpath "$pm/db" -Sl demo
first=$("$pacrepo" --repo "$db" list | head -n 1)
pacman --config "$pm/pacman.conf" --dbpath "$pm/db" -Sw --noconfirm --cachedir "$pm/cache" "$first"
rm -rf "$pm"

say "done: repository in $dir"
cat <<TXT
Serve it again with:
  $pacrepo --repo $db host
and point pacman at it with:
  [demo]
  SigLevel = Optional TrustAll
  Server = http://127.0.0.1:8080/demo
TXT
