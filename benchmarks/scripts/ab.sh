#!/usr/bin/env bash
# The A/B of two commits in the paired layout, into $OUT/ab.md (see cmd/report's ab.go): builds
# cmd/paired at OLD and at NEW in temporary worktrees, then runs PAIRS pairs of processes, one
# of each binary, back to back, the order flipped every pair; each process runs ROUNDS rounds of
# N serial calls per chain of CHAINS (raw among them), shuffled. Called by `make ab`; about 15 s
# a pair with the default chains on 2 cores. Run it on a quiet machine.
set -euo pipefail
OUT=${OUT:-results}
OLD=${OLD:?OLD: the commit to compare against (make ab OLD=rev)}
NEW=${NEW:-HEAD}
PAIRS=${PAIRS:-40}
ROUNDS=${ROUNDS:-20}
N=${N:-2000}
CHAINS=${CHAINS:-raw,suite,raw2,failsafe,suite_retry}
GO=${GO:-go}

if ((PAIRS < 1 || ROUNDS < 1 || N < 1)); then
	echo "ab.sh: PAIRS ($PAIRS), ROUNDS ($ROUNDS) and N ($N) must be at least 1" >&2
	exit 1
fi
case ",$CHAINS," in *,raw,*) ;; *)
	echo "ab.sh: CHAINS ($CHAINS) must include raw, the baseline" >&2
	exit 1
	;;
esac
repo=$(git rev-parse --show-toplevel)
old=$(git rev-parse --short "$OLD^{commit}")
new=$(git rev-parse --short "$NEW^{commit}")
tmp=$(mktemp -d)
cleanup() {
	git -C "$repo" worktree remove --force "$tmp/old" 2>/dev/null || true
	git -C "$repo" worktree remove --force "$tmp/new" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
for side in old new; do
	rev=${!side}
	git -C "$repo" worktree add -q --detach "$tmp/$side" "$rev"
	(cd "$tmp/$side/benchmarks" && $GO build -o "$tmp/paired-$side" ./cmd/paired)
done

mkdir -p "$OUT"
{
	echo "old: $old ($(git log -1 --format=%cs "$old"))"
	echo "new: $new ($(git log -1 --format=%cs "$new"))"
	echo "date: $(date -u +%FT%TZ)"
	echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//') × $(nproc), $($GO version | cut -d' ' -f3)"
	echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "layout: $PAIRS pairs of processes (old then new, then new then old, ...); each process $ROUNDS rounds of $N serial calls per chain ($CHAINS), shuffled, every call with a fresh 10 s caller deadline"
} > "$OUT/ab_env.txt.tmp"
rm -f "$OUT/ab_old.out" "$OUT/ab_new.out"
for ((p = 0; p < PAIRS; p++)); do
	if ((p % 2 == 0)); then order="old new"; else order="new old"; fi
	for side in $order; do
		echo "# process $p" >> "$OUT/ab_$side.out"
		"$tmp/paired-$side" -shuffle -n "$N" -rounds "$ROUNDS" -first-round $((p * ROUNDS)) -seed $((p + 1)) \
			-chains "$CHAINS" >> "$OUT/ab_$side.out" 2>/dev/null
	done
	echo "pair $((p + 1)) of $PAIRS done"
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$OUT/ab_env.txt.tmp"
mv "$OUT/ab_env.txt.tmp" "$OUT/ab_env.txt"
$GO run ./cmd/report -ab -dir "$OUT" > "$OUT/ab.md.tmp"
mv "$OUT/ab.md.tmp" "$OUT/ab.md"
cat "$OUT/ab.md"
