#!/usr/bin/env bash
# The project's single test command: installs the reference tools when
# missing, builds the makepkg fixtures and versitygw (both cached), vets,
# and runs the tests.
#
# Missing reference tools make tests fail, never skip, here: the tools were
# just installed, so their absence is a broken machine (PACREPO_STRICT=1,
# and CI=true does the same for tests run outside this script).
#
# How the tests run (how long it takes is measured in the README's Tests
# section, and said nowhere else). Two passes run side by side:
#   - under the race detector, every package but those below; exhaustive
#     sweeps (tests named *Sweep*) run a sample there;
#   - without it, the packages whose tests drive other processes (pacrepo,
#     pacman, repo-add, vercmp, makepkg) or pure functions, then the sweeps
#     whole. The detector would instrument every pacrepo process those
#     tests start, several times slower, while the concurrent code they
#     reach is raced in the packages that own it (repo, s3repo, server,
#     inbox, objstore).
#
# Environment:
#   PACREPO_FIXTURES     where the fixture packages go (default testdata/cache/pkgs)
#   PACREPO_TOOLS_CACHE  where the versitygw build and the fixture sets are
#                        kept for every clone (see scripts/build-versitygw.sh
#                        and scripts/build-fixtures.sh)
#   PACREPO_RACE         1 (default): the two passes above; 0: every package
#                        without the race detector, in one run
#   GOTESTFLAGS          extra flags for go test (e.g. -short, -run X)
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-test-deps.sh

export PACREPO_FIXTURES=${PACREPO_FIXTURES:-$PWD/testdata/cache/pkgs}
start=$SECONDS
logs=$(mktemp -d "${TMPDIR:-/tmp}/pacrepo-test.XXXXXX")
trap 'rm -rf "$logs"' EXIT

# The fixtures (makepkg, mostly waiting on fakeroot and compressors),
# versitygw's build and go vet are independent: run them side by side.
scripts/build-versitygw.sh >"$logs/versitygw.path" 2>"$logs/versitygw.log" &
versitygw_pid=$!
scripts/build-fixtures.sh "$PACREPO_FIXTURES" &
fixtures_pid=$!
go vet ./...
if ! wait "$fixtures_pid"; then
	echo "test.sh: building the fixtures failed" >&2
	exit 1
fi
echo "test.sh: fixtures ready in $PACREPO_FIXTURES ($((SECONDS - start))s)"
if ! wait "$versitygw_pid"; then
	cat "$logs/versitygw.log" >&2
	echo "test.sh: building versitygw failed" >&2
	exit 1
fi
PACREPO_VERSITYGW=$(<"$logs/versitygw.path")
export PACREPO_VERSITYGW
echo "test.sh: versitygw ready in $PACREPO_VERSITYGW ($((SECONDS - start))s)"

export PACREPO_STRICT=1
export CI=${CI:-}

read -r -a extra <<<"${GOTESTFLAGS:-}"

case ${PACREPO_RACE:-1} in
1) ;;
0)
	go test -timeout 30m "${extra[@]}" ./...
	echo "test.sh: all tests passed ($((SECONDS - start))s)"
	exit 0
	;;
*)
	echo "test.sh: PACREPO_RACE must be 1 or 0" >&2
	exit 2
	;;
esac

race_free=(./internal/cli ./internal/compat ./internal/version ./internal/aur/srcinfo)
# go test starts packages in the order it is given them, two at a time: the
# longest first (as measured), so that none of them starts last and runs
# alone at the end while a core idles. The rest follow in go list's order.
longest=(./internal/s3repo ./internal/repo ./internal/pkgfile ./internal/repodb ./internal/server ./internal/compress ./internal/inbox)
mapfile -t raced < <(
	go list "${longest[@]}"
	go list ./... | grep -v -x -F -f <(go list "${race_free[@]}" "${longest[@]}")
)
# The packages with sweeps (only those: each package compiled again costs).
mapfile -t swept < <(grep -rl --include='*_test.go' 'sweep\.Cases(' internal | xargs -n1 dirname | sort -u | sed 's|^|./|')

go test -race -timeout 30m "${extra[@]}" "${raced[@]}" &
raced_pid=$!
(
	# Their tests wait on processes more than they compute: four at once.
	go test -timeout 30m -parallel 4 "${extra[@]}" "${race_free[@]}"
	go test -timeout 30m "${extra[@]}" -run Sweep "${swept[@]}"
) &
race_free_pid=$!
failed=0
wait "$raced_pid" || failed=1
wait "$race_free_pid" || failed=1
if ((failed)); then
	echo "test.sh: tests failed ($((SECONDS - start))s)" >&2
	exit 1
fi
echo "test.sh: all tests passed ($((SECONDS - start))s)"
