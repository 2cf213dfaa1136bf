#!/usr/bin/env bash
# The project's single test command: installs the reference tools when
# missing, builds the makepkg fixtures (cached), vets, and runs the tests.
#
# Missing reference tools make tests fail, never skip, here: the tools were
# just installed, so their absence is a broken machine (PACREPO_STRICT=1,
# and CI=true does the same for tests run outside this script).
#
# Environment:
#   PACREPO_FIXTURES   where the fixture packages go (default testdata/cache/pkgs)
#   PACREPO_RACE       "default": -race on the concurrent packages (repo, server);
#                      "all": every package under -race; "none": no -race run
#   GOTESTFLAGS        extra flags for go test (e.g. -short, -run X)
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-test-deps.sh

export PACREPO_FIXTURES=${PACREPO_FIXTURES:-$PWD/testdata/cache/pkgs}
start=$SECONDS
scripts/build-fixtures.sh "$PACREPO_FIXTURES"
echo "test.sh: fixtures ready in $PACREPO_FIXTURES ($((SECONDS - start))s)"

export PACREPO_STRICT=1
export CI=${CI:-}

read -r -a extra <<<"${GOTESTFLAGS:-}"

go vet ./...

case ${PACREPO_RACE:-default} in
all)
	go test -race "${extra[@]}" ./...
	;;
none)
	go test "${extra[@]}" ./...
	;;
default)
	go test "${extra[@]}" ./...
	# The packages where goroutines and processes meet: locks, journal,
	# parallel readers, the HTTP server. -short keeps the run quick.
	race_pkgs=()
	for p in ./internal/repo ./internal/server; do
		compgen -G "$p/*_test.go" >/dev/null && race_pkgs+=("$p/...")
	done
	if ((${#race_pkgs[@]})); then
		go test -race -short "${extra[@]}" "${race_pkgs[@]}"
	fi
	;;
*)
	echo "test.sh: PACREPO_RACE must be default, all or none" >&2
	exit 2
	;;
esac
echo "test.sh: all tests passed ($((SECONDS - start))s)"
