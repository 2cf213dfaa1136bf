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
#   PACREPO_TOOLS_CACHE  where the versitygw build is cached (see
#                      scripts/build-versitygw.sh)
#   PACREPO_RACE       1 (default): every package under the race detector,
#                      then the exhaustive sweeps (tests named *Sweep*,
#                      sampled under the detector) whole without it (how
#                      long it takes is measured in the README's Tests
#                      section, and said nowhere else); 0: everything
#                      without the detector, in one run
#   GOTESTFLAGS        extra flags for go test (e.g. -short, -run X)
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-test-deps.sh

export PACREPO_FIXTURES=${PACREPO_FIXTURES:-$PWD/testdata/cache/pkgs}
start=$SECONDS
scripts/build-fixtures.sh "$PACREPO_FIXTURES"
echo "test.sh: fixtures ready in $PACREPO_FIXTURES ($((SECONDS - start))s)"
PACREPO_VERSITYGW=$(scripts/build-versitygw.sh)
export PACREPO_VERSITYGW
echo "test.sh: versitygw ready in $PACREPO_VERSITYGW ($((SECONDS - start))s)"

export PACREPO_STRICT=1
export CI=${CI:-}

read -r -a extra <<<"${GOTESTFLAGS:-}"

go vet ./...

# The end-to-end package (internal/cli) runs real pacman, makepkg and
# many pacrepo processes under the race detector: on a slow machine it
# takes most of go test's default 10 minutes per package on its own.
case ${PACREPO_RACE:-1} in
1)
	go test -race -timeout 30m "${extra[@]}" ./...
	# Sweeps run one goroutine: the detector can find nothing in them and
	# makes them many times slower, so it ran a sample; here they run whole.
	go test -timeout 30m "${extra[@]}" -run Sweep ./...
	;;
0) go test -timeout 30m "${extra[@]}" ./... ;;
*)
	echo "test.sh: PACREPO_RACE must be 1 or 0" >&2
	exit 2
	;;
esac
echo "test.sh: all tests passed ($((SECONDS - start))s)"
