#!/usr/bin/env bash
# Builds and installs pacrepo: the binary, its manual pages, the shell
# completions, the systemd units and the sysusers.d entry of their pacrepo
# user, and the licence. The Arch package (contrib/archlinux/PKGBUILD) runs
# this script too, so both install the same set.
#
# Usage: scripts/install.sh [version|build|install|all]     (default: all)
#   version  prints the version it would build
#   build    builds bin/pacrepo (as a user)
#   install  installs bin/pacrepo and the rest (as root for system paths)
#
# Variables:
#   PREFIX   (default /usr/local) where it goes; the units' ExecStart names
#            $PREFIX/bin/pacrepo
#   DESTDIR  (default empty) a staging root for packagers
#   VERSION  the version `pacrepo --version` prints (default: from the git
#            tag, `git describe --tags` without its leading v, e.g.
#            1.2.0-3-gabc1234; 0.0.0-N-gHASH before the first tag; none
#            outside a git checkout: pacrepo then shows the module version
#            or "devel")
#   GOFLAGS  passed to go build as usual (the Arch package adds -trimpath
#            and -buildmode=pie)
#
# After a system-wide install: `systemd-sysusers` creates the pacrepo user,
# `systemctl daemon-reload` finds the units.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
PREFIX=${PREFIX:-/usr/local}
DESTDIR=${DESTDIR:-}
bin=$root/bin/pacrepo

# version prints the version to build: $VERSION, else from the git tag,
# else nothing.
version() {
	local version=${VERSION:-}
	if [[ -z $version ]] && git -C "$root" rev-parse --git-dir >/dev/null 2>&1; then
		version=$(git -C "$root" describe --tags --match 'v[0-9]*' --dirty 2>/dev/null || true)
		version=${version#v}
		if [[ -z $version ]]; then
			# No tag yet: as if v0.0.0 tagged the first commit.
			version=0.0.0-$(git -C "$root" rev-list --count HEAD)-g$(git -C "$root" describe --always --dirty)
		fi
	fi
	echo "$version"
}

build() {
	local version
	version=$(version)
	local ldflags=()
	if [[ -n $version ]]; then
		ldflags=(-ldflags "-X github.com/pacrepo/pacrepo/internal/cli.Version=$version")
	fi
	echo "install: go build ${version:+(version $version) }into bin/pacrepo" >&2
	(cd "$root" && go build "${ldflags[@]}" -o "$bin" ./cmd/pacrepo)
}

install_all() {
	[[ -x $bin ]] || {
		echo "install: $bin is missing: run $0 build first" >&2
		exit 1
	}
	local dest=$DESTDIR$PREFIX
	echo "install: into $dest" >&2
	install -Dm755 "$bin" "$dest/bin/pacrepo"

	local man
	man=$(mktemp -d "${TMPDIR:-/tmp}/pacrepo-man.XXXXXX")
	trap 'rm -rf "$man"' RETURN
	"$bin" gen-man "$man"
	local page section
	for page in "$man"/*.[0-9]; do
		section=${page##*.}
		install -Dm644 "$page" "$dest/share/man/man$section/$(basename "$page")"
	done

	"$bin" completion bash >"$man/pacrepo.bash"
	"$bin" completion zsh >"$man/_pacrepo"
	"$bin" completion fish >"$man/pacrepo.fish"
	install -Dm644 "$man/pacrepo.bash" "$dest/share/bash-completion/completions/pacrepo"
	install -Dm644 "$man/_pacrepo" "$dest/share/zsh/site-functions/_pacrepo"
	install -Dm644 "$man/pacrepo.fish" "$dest/share/fish/vendor_completions.d/pacrepo.fish"

	# The units name the binary where this install puts it.
	local unit
	for unit in "$root"/contrib/systemd/*.service; do
		install -d "$dest/lib/systemd/system"
		sed "s|/usr/local/bin/pacrepo|$PREFIX/bin/pacrepo|g" "$unit" >"$dest/lib/systemd/system/$(basename "$unit")"
		chmod 644 "$dest/lib/systemd/system/$(basename "$unit")"
	done
	install -Dm644 "$root/contrib/systemd/pacrepo.sysusers" "$dest/lib/sysusers.d/pacrepo.conf"
	install -Dm644 "$root/LICENSE" "$dest/share/licenses/pacrepo/LICENSE"
}

case ${1:-all} in
version) version ;;
build) build ;;
install) install_all ;;
all)
	build
	install_all
	;;
*)
	echo "usage: $0 [version|build|install|all]" >&2
	exit 2
	;;
esac
