#!/usr/bin/env bash
# Times the real repo-add against "pacrepo reset" on N synthetic packages
# (default 2000), then on N/2, in the same run, and checks both wrote the
# same database (apart from repo-add's %MD5SUM%). Reset is also compared
# with the floor of reading every package once (readfloor: decompress and
# SHA-256 with the same libraries and parallelism). Then, on the repository
# of N packages each tool built, one change at a time: adding one new
# package (repo-add vs pacrepo add) and removing it again (repo-remove vs
# pacrepo remove), with the bytes of database each change writes.
#
#   scripts/bench-vs-repo-add.sh [N]
#
# repo-add gets every file in one invocation, as repoctl calls it:
#   repo-add DB.db.tar.zst *.pkg.tar.zst
# Each tool is measured with GNU time -v: elapsed time, CPU% (above 100%
# means more than one core was busy) and maximum resident memory.
# Set KEEP=1 to keep the work directory.
set -euo pipefail
cd "$(dirname "$0")/.."

n=${1:-2000}
half=$((n / 2))
for tool in repo-add bsdtar go; do
	command -v "$tool" >/dev/null || {
		echo "bench: $tool is missing (scripts/install-test-deps.sh)" >&2
		exit 1
	}
done
[[ -x /usr/bin/time ]] || {
	echo "bench: /usr/bin/time is missing (scripts/install-test-deps.sh)" >&2
	exit 1
}

work=$(mktemp -d "${TMPDIR:-/tmp}/pacrepo-bench.XXXXXX")
if [[ ${KEEP:-} != 1 ]]; then
	trap 'rm -rf "$work"' EXIT
else
	echo "bench: work directory $work"
fi

echo "bench: building pacrepo and genpkgs"
go build -o "$work/pacrepo" ./cmd/pacrepo
go build -o "$work/genpkgs" ./internal/testutil/cmd/genpkgs
go build -o "$work/readfloor" ./internal/testutil/cmd/readfloor
reset_label="pacrepo reset"

SECONDS=0
"$work/genpkgs" -n "$n" -dir "$work/pkgs"
echo "bench: generated $n packages ($(du -sh "$work/pkgs" | cut -f1)) in ${SECONDS}s"

# measure LABEL LOG CMD...: runs CMD under time -v and prints one line.
measure() {
	local label=$1 log=$2
	shift 2
	if ! /usr/bin/time -v -o "$log.time" "$@" >"$log" 2>&1; then
		echo "bench: $label failed:" >&2
		tail -n 20 "$log" >&2
		exit 1
	fi
	local elapsed cpu rss
	elapsed=$(sed -n 's/^[[:space:]]*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$log.time")
	cpu=$(sed -n 's/^[[:space:]]*Percent of CPU this job got: //p' "$log.time")
	rss=$(sed -n 's/^[[:space:]]*Maximum resident set size (kbytes): //p' "$log.time")
	printf '  %-60s %10s %6s %9d KiB\n' "$label" "$elapsed" "$cpu" "$rss"
	# seconds for the ratio: h:mm:ss or m:ss.cc
	awk -F: '{s=0; for (i=1;i<=NF;i++) s=s*60+$i; print s}' <<<"$elapsed" >"$log.seconds"
	echo "$rss" >"$log.rss"
}

# unpack ARCHIVE DIR: the archive's members, without repo-add's %MD5SUM%.
unpack() {
	mkdir -p "$2"
	bsdtar -xf "$1" -C "$2"
	find "$2" -name desc -exec sed -i '/^%MD5SUM%$/,/^$/d' {} +
}

run_size() {
	local count=$1
	local dir=$work/n$count
	mkdir -p "$dir/repo-add" "$dir/pacrepo"
	# The first COUNT packages, hard-linked: neither tool changes them.
	find "$work/pkgs" -name '*.pkg.tar.zst' | LC_ALL=C sort | sed -n "1,${count}p" >"$dir/list"
	xargs -a "$dir/list" ln -t "$dir/repo-add"
	xargs -a "$dir/list" ln -t "$dir/pacrepo"
	local size
	size=$(du -sh "$dir/repo-add" | cut -f1)

	echo
	echo "$count packages ($size):"
	printf '  %-60s %10s %6s %13s\n' "tool" "elapsed" "CPU" "max RSS (largest process)"
	(cd "$dir/repo-add" && measure "repo-add (one call, all files)" "$dir/repo-add.log" \
		repo-add -q bench.db.tar.zst ./*.pkg.tar.zst)
	measure "$reset_label" "$dir/pacrepo.log" "$work/pacrepo" --repo "$dir/pacrepo/bench.db.tar.zst" reset
	# The floor: every package read once (decompress, SHA-256), nothing else.
	measure "floor: read every package once" "$dir/floor.log" "$work/readfloor" "$dir/pacrepo"

	ratio "$dir/repo-add.log" "$dir/pacrepo.log"
	awk -v a="$(<"$dir/pacrepo.log.seconds")" -v b="$(<"$dir/floor.log.seconds")" \
		'BEGIN { if (b > 0) printf "  pacrepo reset / read-once floor: %.2fx\n", a / b }'
	echo "  database sizes: repo-add $(stat -c %s "$dir/repo-add/bench.db.tar.zst") B db, $(stat -c %s "$dir/repo-add/bench.files.tar.zst") B files;" \
		"pacrepo $(stat -c %s "$dir/pacrepo/bench.db.tar.zst") B db, $(stat -c %s "$dir/pacrepo/bench.files.tar.zst") B files"

	# Same content, apart from %MD5SUM%?
	unpack "$dir/repo-add/bench.db.tar.zst" "$dir/cmp/ra-db"
	unpack "$dir/pacrepo/bench.db.tar.zst" "$dir/cmp/pr-db"
	unpack "$dir/repo-add/bench.files.tar.zst" "$dir/cmp/ra-files"
	unpack "$dir/pacrepo/bench.files.tar.zst" "$dir/cmp/pr-files"
	if diff -r "$dir/cmp/ra-db" "$dir/cmp/pr-db" >"$dir/diff" && diff -r "$dir/cmp/ra-files" "$dir/cmp/pr-files" >>"$dir/diff"; then
		echo "  databases identical apart from %MD5SUM%: yes ($(ls "$dir/cmp/ra-db" | wc -l) entries)"
	else
		echo "  databases identical apart from %MD5SUM%: NO; first differences:"
		head -n 20 "$dir/diff" | sed 's/^/    /'
		exit 1
	fi
	rm -rf "$dir/cmp"
}

# run_changes: one package added to, then removed from, the repository of
# N packages each tool has built (a build farm's everyday change), three
# rounds; the ratios are of the total times. It runs right after the
# repositories are built: the smaller run links the same package files
# again, which changes their ctime and so costs pacrepo a full read.
run_changes() {
	local dir=$work/n$n
	"$work/genpkgs" -n 1 -prefix bench-extra -dir "$work/extra" >/dev/null
	local extra
	extra=$(ls "$work/extra"/*.pkg.tar.zst)
	ln "$extra" "$dir/repo-add/"
	echo
	echo "one change to the repository of $n packages (3 rounds):"
	printf '  %-60s %10s %6s %13s\n' "tool" "elapsed" "CPU" "max RSS (largest process)"
	local round
	for round in 1 2 3; do
		(cd "$dir/repo-add" && measure "repo-add (add one new package)" "$dir/ra-add$round.log" \
			repo-add -q bench.db.tar.zst "$(basename "$extra")")
		measure "pacrepo add (one new package)" "$dir/pr-add$round.log" "$work/pacrepo" --repo "$dir/pacrepo/bench.db.tar.zst" add "$extra"
		(cd "$dir/repo-add" && measure "repo-remove (remove one package)" "$dir/ra-rm$round.log" \
			repo-remove -q bench.db.tar.zst bench-extra-00000)
		measure "pacrepo remove (one package)" "$dir/pr-rm$round.log" "$work/pacrepo" --repo "$dir/pacrepo/bench.db.tar.zst" remove bench-extra-00000
	done
	total "$dir/ra-add" >"$dir/ra-add.log.seconds"
	total "$dir/pr-add" >"$dir/pr-add.log.seconds"
	total "$dir/ra-rm" >"$dir/ra-rm.log.seconds"
	total "$dir/pr-rm" >"$dir/pr-rm.log.seconds"
	ratio "$dir/ra-add.log" "$dir/pr-add.log" "add, "
	ratio "$dir/ra-rm.log" "$dir/pr-rm.log" "remove, "
	written "$dir"
}

# total PREFIX: the sum of the seconds of the three rounds.
total() {
	cat "$1"1.log.seconds "$1"2.log.seconds "$1"3.log.seconds | awk '{s += $1} END {print s}'
}

# ratio REPO-ADD-LOG PACREPO-LOG [LABEL]: repo-add's time over pacrepo's.
ratio() {
	awk -v a="$(<"$1.seconds")" -v b="$(<"$2.seconds")" -v l="${3:-}" \
		'BEGIN { if (b > 0) printf "  %sspeed-up (repo-add time / pacrepo time): %.1fx\n", l, a / b }'
}

# written DIR: the database bytes one change wrote (both tools rewrite
# both databases whole).
written() {
	echo "  database bytes written per change: repo-add $(($(stat -c %s "$1/repo-add/bench.db.tar.zst") + $(stat -c %s "$1/repo-add/bench.files.tar.zst")))," \
		"pacrepo $(($(stat -c %s "$1/pacrepo/bench.db.tar.zst") + $(stat -c %s "$1/pacrepo/bench.files.tar.zst")))"
}

echo "bench: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
run_size "$n"
run_changes
if ((half > 0)); then
	run_size "$half"
fi
if ((half > 0)); then
	echo
	echo "peak memory of $reset_label: $(<"$work/n$half/pacrepo.log.rss") KiB at $half packages," \
		"$(<"$work/n$n/pacrepo.log.rss") KiB at $n packages"
fi
