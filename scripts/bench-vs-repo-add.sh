#!/usr/bin/env bash
# Compares pacrepo with the real repo-add on the same synthetic packages, in
# one run, on this machine. Two modes, run in the order given (with none:
# "reset 2000 changes 10000"):
#
#   scripts/bench-vs-repo-add.sh [reset N] [changes N]
#
# reset N: repo-add (one call with every file, as repoctl calls it:
#   repo-add DB.db.tar.zst *.pkg.tar.zst) against "pacrepo reset" on N
#   packages, then on N/2; checks both wrote the same database (apart from
#   repo-add's %MD5SUM%); compares reset with the floor of reading every
#   package once (readfloor: decompress and SHA-256 with the same libraries
#   and parallelism).
# changes N: pacrepo reset builds a repository of N packages (timed, with
#   its floor and peak memory; repo-add is not run on all N: at 100,000 it
#   would take hours), repo-add gets a copy of that database (it updates
#   pacrepo's databases like its own), then "pacrepo status", and ROUNDS
#   (default 3) times a build farm's everyday change: adding one new
#   package (repo-add against pacrepo add) and removing it (repo-remove
#   against pacrepo remove), with the database bytes each change writes.
#
# Each tool is measured with GNU time -v: elapsed time, CPU% (above 100%
# means more than one core was busy), maximum resident memory, and the
# machine's one-minute load average as the run started (a shared machine is
# noisy: a figure measured under load says so).
#
# Every comparison is repeated, the two tools alternating which goes first
# (ROUNDS, default 3, for changes; RESET_ROUNDS, default 1, for reset,
# whose repo-add side takes minutes at 2,000), and is reported as the
# median of the per-round speed-ups with their spread (lowest-highest):
# one run per figure on a noisy machine is noise.
# Set KEEP=1 to keep the work directory, and PACKAGES=DIR to use packages
# genpkgs made before (at 100,000 generating them takes minutes).
set -euo pipefail
cd "$(dirname "$0")/.."

modes=("$@")
if ((${#modes[@]} == 0)); then
	modes=(reset 2000 changes 10000)
fi
rounds=${ROUNDS:-3}
reset_rounds=${RESET_ROUNDS:-1}
for n in "$rounds" "$reset_rounds"; do
	[[ $n =~ ^[1-9][0-9]*$ ]] || {
		echo "bench: ROUNDS and RESET_ROUNDS must be whole numbers of at least 1, got '$n'" >&2
		exit 2
	}
done
most=0
for ((i = 0; i < ${#modes[@]}; i += 2)); do
	case ${modes[i]} in
	reset | changes) ;;
	*)
		echo "usage: $0 [reset N] [changes N]" >&2
		exit 2
		;;
	esac
	count=${modes[i + 1]:-}
	[[ $count =~ ^[1-9][0-9]*$ ]] || {
		echo "bench: ${modes[i]} needs a number of packages, got '$count'" >&2
		exit 2
	}
	((count > most)) && most=$count
done
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

SECONDS=0
pkgs=$work/pkgs
if [[ -n ${PACKAGES:-} ]]; then
	# Packages genpkgs made before (the same for the same count and seed).
	pkgs=$PACKAGES
	have=$(find "$pkgs" -name 'bench-pkg-*.pkg.tar.zst' | wc -l)
	((have >= most)) || {
		echo "bench: PACKAGES=$pkgs holds $have packages, fewer than $most" >&2
		exit 1
	}
	echo "bench: using $most of the packages in $pkgs"
else
	"$work/genpkgs" -n "$most" -dir "$pkgs"
	echo "bench: generated $most packages ($(du -sh "$pkgs" | cut -f1)) in ${SECONDS}s"
fi

# measure LABEL LOG CMD...: runs CMD under time -v and prints one line.
measure() {
	local label=$1 log=$2 load
	shift 2
	load=$(cut -d' ' -f1 /proc/loadavg)
	if ! /usr/bin/time -v -o "$log.time" "$@" >"$log" 2>&1; then
		echo "bench: $label failed:" >&2
		tail -n 20 "$log" >&2
		exit 1
	fi
	local elapsed cpu rss
	elapsed=$(sed -n 's/^[[:space:]]*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$log.time")
	cpu=$(sed -n 's/^[[:space:]]*Percent of CPU this job got: //p' "$log.time")
	rss=$(sed -n 's/^[[:space:]]*Maximum resident set size (kbytes): //p' "$log.time")
	printf '  %-60s %10s %6s %9d KiB  load %s\n' "$label" "$elapsed" "$cpu" "$rss" "$load"
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

# link_packages DIR COUNT TARGETS...: the first COUNT packages, hard-linked
# into each TARGET (neither tool changes them).
link_packages() {
	local dir=$1 count=$2 target
	shift 2
	find "$pkgs" -name 'bench-pkg-*.pkg.tar.zst' | LC_ALL=C sort | sed -n "1,${count}p" >"$dir/list"
	for target in "$@"; do
		mkdir -p "$target"
		xargs -a "$dir/list" ln -t "$target"
	done
}

# warm DIR: reads every package of DIR once, so that the page cache holds
# them and no tool measured after pays for the disk (the first one would).
warm() {
	find "$1" -name '*.pkg.tar.zst' -print0 | xargs -0 cat >/dev/null
}

# floor DIR LOG: reset's time (LOG) against reading every package of DIR
# once.
floor() {
	measure "floor: read every package once" "$2.floor" "$work/readfloor" "$1"
	awk -v a="$(<"$2.seconds")" -v b="$(<"$2.floor.seconds")" \
		'BEGIN { if (b > 0) printf "  pacrepo reset / read-once floor: %.2fx\n", a / b }'
}

# run_reset COUNT: repo-add against pacrepo reset on COUNT packages,
# RESET_ROUNDS times, alternating which tool goes first.
run_reset() {
	local count=$1
	local dir=$work/reset$count
	mkdir -p "$dir"
	link_packages "$dir" "$count" "$dir/repo-add" "$dir/pacrepo"
	local size
	size=$(du -sh "$dir/repo-add" | cut -f1)

	echo
	echo "$count packages ($size):"
	printf '  %-60s %10s %6s %13s\n' "tool" "elapsed" "CPU" "max RSS (largest process)"
	warm "$dir/repo-add"
	local round
	for ((round = 1; round <= reset_rounds; round++)); do
		# Each round starts from the packages alone.
		find "$dir/repo-add" "$dir/pacrepo" -mindepth 1 -maxdepth 1 ! -name 'bench-pkg-*.pkg.tar.zst' -exec rm -rf {} +
		if ((round % 2)); then
			reset_repo_add "$dir" "$round"
			reset_pacrepo "$dir" "$round"
		else
			reset_pacrepo "$dir" "$round"
			reset_repo_add "$dir" "$round"
		fi
	done
	median_of "$dir/pacrepo" >"$dir/pacrepo.log.seconds"
	floor "$dir/pacrepo" "$dir/pacrepo.log"
	cp "$dir/pacrepo$reset_rounds.log.rss" "$dir/pacrepo.log.rss"

	ratios "$dir/repo-add" "$dir/pacrepo" "$reset_rounds"
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

# reset_repo_add DIR ROUND, reset_pacrepo DIR ROUND: one round of each.
reset_repo_add() {
	(cd "$1/repo-add" && measure "repo-add (one call, all files), round $2" "$1/repo-add$2.log" \
		repo-add -q bench.db.tar.zst ./*.pkg.tar.zst)
}
reset_pacrepo() {
	measure "pacrepo reset, round $2" "$1/pacrepo$2.log" "$work/pacrepo" --repo "$1/pacrepo/bench.db.tar.zst" reset
}

# run_changes COUNT: pacrepo builds a repository of COUNT packages; then
# one package is added to and removed from it and from a copy for
# repo-add, ROUNDS times (a build farm's everyday change), alternating
# which tool goes first; the ratios are the medians of the rounds'.
run_changes() {
	local count=$1
	local dir=$work/changes$count
	mkdir -p "$dir"
	# Both copies are linked before pacrepo reads the packages: a link
	# changes an inode's ctime, and with it the identity pacrepo's
	# verification cache trusts.
	link_packages "$dir" "$count" "$dir/pacrepo" "$dir/repo-add"
	echo
	echo "$count packages ($(du -sh "$dir/pacrepo" | cut -f1)), one change at a time:"
	printf '  %-60s %10s %6s %13s\n' "tool" "elapsed" "CPU" "max RSS (largest process)"
	warm "$dir/pacrepo"
	measure "pacrepo reset" "$dir/reset.log" "$work/pacrepo" --repo "$dir/pacrepo/bench.db.tar.zst" reset
	floor "$dir/pacrepo" "$dir/reset.log"
	# repo-add's repository: a copy of the databases.
	cp "$dir/pacrepo/bench.db.tar.zst" "$dir/pacrepo/bench.files.tar.zst" "$dir/repo-add/"
	ln -s bench.db.tar.zst "$dir/repo-add/bench.db"
	ln -s bench.files.tar.zst "$dir/repo-add/bench.files"
	measure "pacrepo status (nothing to do)" "$dir/status.log" "$work/pacrepo" --repo "$dir/pacrepo/bench.db.tar.zst" status

	"$work/genpkgs" -n 1 -prefix bench-extra -dir "$dir/extra" >/dev/null
	local extra
	extra=$(ls "$dir/extra"/*.pkg.tar.zst)
	ln "$extra" "$dir/repo-add/"
	local round
	for ((round = 1; round <= rounds; round++)); do
		# Odd rounds run pacrepo's add after repo-add's, even rounds before.
		if ((round % 2 == 0)); then
			measure "pacrepo add (one new package)" "$dir/pr-add$round.log" "$work/pacrepo" --repo "$dir/pacrepo/bench.db.tar.zst" add "$extra"
		fi
		(cd "$dir/repo-add" && measure "repo-add (add one new package)" "$dir/ra-add$round.log" \
			repo-add -q bench.db.tar.zst "$(basename "$extra")")
		# repo-add can exit 0 having written a broken database: count.
		if ! entries_are "$dir/repo-add/bench.db.tar.zst" $((count + 1)); then
			echo "  repo-add FAILED: exit 0, but its database holds $(entries "$dir/repo-add/bench.db.tar.zst") entries, not $((count + 1)):"
			grep -v '^==>\|^  ->' "$dir/ra-add$round.log" | sort | uniq -c | sed 's/^/    /'
			((round % 2 == 0)) || measure "pacrepo add (one new package)" "$dir/pr-add$round.log" "$work/pacrepo" --repo "$dir/pacrepo/bench.db.tar.zst" add "$extra"
			measure "pacrepo remove (one package)" "$dir/pr-rm$round.log" "$work/pacrepo" --repo "$dir/pacrepo/bench.db.tar.zst" remove bench-extra-00000
			entries_are "$dir/pacrepo/bench.db.tar.zst" "$count" || {
				echo "bench: pacrepo's database does not hold $count entries" >&2
				exit 1
			}
			echo "  no ratio: repo-add cannot maintain a repository of $count packages"
			echo "  peak memory of pacrepo: reset $(<"$dir/reset.log.rss") KiB, status $(<"$dir/status.log.rss") KiB," \
				"add $(<"$dir/pr-add$round.log.rss") KiB, remove $(<"$dir/pr-rm$round.log.rss") KiB"
			return 0
		fi
		((round % 2 == 0)) || measure "pacrepo add (one new package)" "$dir/pr-add$round.log" "$work/pacrepo" --repo "$dir/pacrepo/bench.db.tar.zst" add "$extra"
		((round % 2)) || measure "pacrepo remove (one package)" "$dir/pr-rm$round.log" "$work/pacrepo" --repo "$dir/pacrepo/bench.db.tar.zst" remove bench-extra-00000
		(cd "$dir/repo-add" && measure "repo-remove (remove one package)" "$dir/ra-rm$round.log" \
			repo-remove -q bench.db.tar.zst bench-extra-00000)
		((round % 2 == 0)) || measure "pacrepo remove (one package)" "$dir/pr-rm$round.log" "$work/pacrepo" --repo "$dir/pacrepo/bench.db.tar.zst" remove bench-extra-00000
	done
	for tool in repo-add pacrepo; do
		entries_are "$dir/$tool/bench.db.tar.zst" "$count" || {
			echo "bench: after the rounds, $tool's database holds $(entries "$dir/$tool/bench.db.tar.zst") entries, not $count" >&2
			exit 1
		}
	done
	ratios "$dir/ra-add" "$dir/pr-add" "$rounds" "add, "
	ratios "$dir/ra-rm" "$dir/pr-rm" "$rounds" "remove, "
	echo "  peak memory of pacrepo: reset $(<"$dir/reset.log.rss") KiB, status $(<"$dir/status.log.rss") KiB," \
		"add $(maxrss "$dir/pr-add") KiB, remove $(maxrss "$dir/pr-rm") KiB"
	written "$dir"
}

# entries DB: the number of entries of a database.
entries() {
	bsdtar -tf "$1" | grep -c '/desc$' || true
}

# entries_are DB N: whether DB holds N entries.
entries_are() {
	[[ $(entries "$1") == "$2" ]]
}

# maxrss PREFIX: the largest peak memory of the rounds.
maxrss() {
	cat "$1"*.log.rss | sort -n | tail -n 1
}

# median_of PREFIX: the median of the seconds of PREFIX's rounds.
median_of() {
	cat "$1"[0-9]*.log.seconds | sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'
}

# ratios REPO-ADD-PREFIX PACREPO-PREFIX ROUNDS [LABEL]: the median of the
# rounds' speed-ups (repo-add time / pacrepo time, each round's pair
# measured back to back), with the lowest and highest.
ratios() {
	local round
	for ((round = 1; round <= $3; round++)); do
		awk -v a="$(<"$1$round.log.seconds")" -v b="$(<"$2$round.log.seconds")" 'BEGIN { if (b > 0) print a / b }'
	done | sort -g | awk -v l="${4:-}" '{v[NR] = $1}
		END {
			if (NR == 0) exit
			m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
			printf "  %sspeed-up (repo-add time / pacrepo time): median %.1fx over %d round(s), spread %.1fx-%.1fx\n", l, m, NR, v[1], v[NR]
		}'
}

# written DIR: the database bytes one change wrote (both tools write both
# databases anew; pacrepo re-encodes only the frames the change touches and
# copies the others).
written() {
	echo "  database bytes written per change: repo-add $(($(stat -c %s "$1/repo-add/bench.db.tar.zst") + $(stat -c %s "$1/repo-add/bench.files.tar.zst")))," \
		"pacrepo $(($(stat -c %s "$1/pacrepo/bench.db.tar.zst") + $(stat -c %s "$1/pacrepo/bench.files.tar.zst")))"
}

echo "bench: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
for ((i = 0; i < ${#modes[@]}; i += 2)); do
	count=${modes[i + 1]}
	case ${modes[i]} in
	reset)
		run_reset "$count"
		if ((count / 2 > 0)); then
			run_reset $((count / 2))
			echo
			echo "peak memory of pacrepo reset: $(<"$work/reset$((count / 2))/pacrepo.log.rss") KiB at $((count / 2)) packages," \
				"$(<"$work/reset$count/pacrepo.log.rss") KiB at $count packages"
		fi
		;;
	changes) run_changes "$count" ;;
	esac
done
