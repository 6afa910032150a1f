#!/usr/bin/env bash
# Runs the benchmarks of the generated report into $OUT, writes $OUT/report.md and rewrites the
# summary block of BENCHMARKS.md (the headline and the goals; SUMMARY= to skip or redirect it).
# Called by `make report`; the variables below come from the Makefile.
set -euo pipefail
OUT=${OUT:-results}
ROUNDS=${ROUNDS:-6}
PAIRED_N=${PAIRED_N:-2000}
PAIRED_ROUNDS=${PAIRED_ROUNDS:-320}
PAIRED_PROCS=${PAIRED_PROCS:-32}
SHARED_ROUNDS=${SHARED_ROUNDS:-80}
SHARED_PROCS=${SHARED_PROCS:-8}
SLOW_ROUNDS=${SLOW_ROUNDS:-80}
SLOW_PROCS=${SLOW_PROCS:-4}
SLOW_N=${SLOW_N:-200}
METHODS_ROUNDS=${METHODS_ROUNDS:-40}
DL_TIME=${DL_TIME:-15000x}
ND_TIME=${ND_TIME:-10000x}
HOT_TIME=${HOT_TIME:-200000x}
BENCHSTAT=${BENCHSTAT:-../bin/benchstat}
GO=${GO:-go}
SUMMARY=${SUMMARY-../BENCHMARKS.md}

# The headline chains, each alone in its own process (the cross-check layout).
HEAD_CHAINS=(raw suite suite_nosink suite_builtin failsafe grpcmw_retry)
# The paired layout (cmd/paired, every chain in one process, the verdicts' layout) measures
# benchmarks.HeadlineChains, cmd/paired's default, in a shuffled order each round; raw2 is raw on
# a second connection, an A/A control.
# The shared-deadline layout (one caller deadline for SharedDeadlineCalls calls; see
# callerDeadline in paired.go): the paired layout again, shorter, for the HPACK effect.
SHARED_CHAINS=raw,suite,suite_nosink,raw2,failsafe,timeout
# The 1 ms layout (the server takes 1 ms to answer each call, the ML services' regime): the
# paired layout again, shorter, with SLOW_N calls per block.
SLOW_CHAINS=raw,suite,raw2,suite_builtin,failsafe
# The no-deadline chains, measured together in one process per round.
ND_CHAINS=raw,retry,deadline,suite,suite_nosink,suite_builtin,failsafe,grpcmw_retry

# Each process of a paired layout runs ROUNDS / PROCS rounds: at least one, and the rounds written
# to env.txt are those run (the division's remainder is not).
per=$((PAIRED_ROUNDS / PAIRED_PROCS))
sper=$((SHARED_ROUNDS / SHARED_PROCS))
lper=$((SLOW_ROUNDS / SLOW_PROCS))
for v in "PAIRED_ROUNDS $per PAIRED_PROCS" "SHARED_ROUNDS $sper SHARED_PROCS" "SLOW_ROUNDS $lper SLOW_PROCS"; do
	set -- $v
	if (($2 < 1)); then
		echo "report.sh: $1 (${!1}) must be at least $3 (${!3})" >&2
		exit 1
	fi
done
# cmd/paired reads -rounds 0 as its default of 200.
if ((METHODS_ROUNDS < 1 || PAIRED_N < 1 || SLOW_N < 1)); then
	echo "report.sh: METHODS_ROUNDS ($METHODS_ROUNDS), PAIRED_N ($PAIRED_N) and SLOW_N ($SLOW_N) must be at least 1" >&2
	exit 1
fi

mkdir -p "$OUT"
$GO test -c -o "$OUT/benchmarks.test" .
$GO build -o "$OUT/paired" ./cmd/paired
bin="$OUT/benchmarks.test"
commit=$(git rev-parse --short HEAD)
if [ -n "$(git status --porcelain -- .. ':!results' 2>/dev/null)" ]; then commit="$commit (with uncommitted changes)"; fi
{
	echo "date: $(date -u +%FT%TZ)"
	echo "commit: $commit"
	echo "go: $($GO version | cut -d' ' -f3-)"
	echo "grpc: $(grep 'google.golang.org/grpc ' go.mod | awk '{print $2}')"
	echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs)"
	echo "nproc: $(nproc)"
	echo "load before (1, 5, 15 min): $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "headline layout (verdicts): paired, every chain in one process, $((per * PAIRED_PROCS)) rounds in all (${PAIRED_PROCS} such processes one after another, their rounds pooled), each round one block of ${PAIRED_N} serial calls per chain (raw2: raw on a second connection, an A/A control), chain order shuffled each round (seeded), a GC and a dithered collector phase before every block, untimed"
	echo "shared-deadline layout: paired as above with one caller deadline per 500 calls, $((sper * SHARED_PROCS)) rounds in ${SHARED_PROCS} processes"
	echo "1 ms layout: paired as above, the server answering each call after 1 ms, $((lper * SLOW_PROCS)) rounds of ${SLOW_N} calls per chain in ${SLOW_PROCS} processes"
	echo "configured-size layout: paired as above with raw, raw2 and the suite, ${METHODS_ROUNDS} rounds in one process per configuration"
	echo "headline layout (cross-check): per process, ${ROUNDS} rounds; each round runs every chain in its own process (-benchtime ${DL_TIME}, -cpu 1,2), chain order rotated by one each round"
	echo "no-deadline layout: in one process per round, ${ROUNDS} rounds, every chain once per round (-benchtime ${ND_TIME}), order rotated"
} > "$OUT/env.txt"

rm -f "$OUT/own.out" "$OUT/ownconfigured.out" "$OUT/paired.out" "$OUT/paired_shared.out" "$OUT/paired_1ms.out" "$OUT/headline.out" "$OUT/nodeadline.out" "$OUT"/methods*.out "$OUT/inflight.out" "$OUT/stack.out" "$OUT/hotpath.out"
for ((p = 0; p < PAIRED_PROCS; p++)); do
	echo "# process $p" >> "$OUT/paired.out"
	"$OUT/paired" -shuffle -n "$PAIRED_N" -rounds "$per" -first-round $((p * per)) -seed $((p + 1)) \
		>> "$OUT/paired.out"
	echo "paired process $((p + 1)) of $PAIRED_PROCS done"
done
for ((p = 0; p < SHARED_PROCS; p++)); do
	echo "# process $p" >> "$OUT/paired_shared.out"
	"$OUT/paired" -shuffle -n "$PAIRED_N" -rounds "$sper" -first-round $((p * sper)) -seed $((p + 101)) \
		-deadline-every 500 -chains "$SHARED_CHAINS" >> "$OUT/paired_shared.out"
	echo "shared-deadline process $((p + 1)) of $SHARED_PROCS done"
done
for ((p = 0; p < SLOW_PROCS; p++)); do
	echo "# process $p" >> "$OUT/paired_1ms.out"
	"$OUT/paired" -shuffle -n "$SLOW_N" -rounds "$lper" -first-round $((p * lper)) -seed $((p + 201)) \
		-latency 1ms -warmup 200 -chains "$SLOW_CHAINS" >> "$OUT/paired_1ms.out"
	echo "1 ms process $((p + 1)) of $SLOW_PROCS done"
done
n=${#HEAD_CHAINS[@]}
for ((r = 0; r < ROUNDS; r++)); do
	for ((i = 0; i < n; i++)); do
		c=${HEAD_CHAINS[$(((i + r) % n))]}
		echo "# round $r" >> "$OUT/headline.out"
		BENCH_CHAINS=$c "$bin" -test.run '^$' -test.bench '^BenchmarkUnaryDL$' -test.benchmem \
			-test.benchtime "$DL_TIME" -test.cpu 1,2 >> "$OUT/headline.out"
	done
	echo "# round $r" >> "$OUT/nodeadline.out"
	BENCH_ROUND=$r BENCH_CHAINS=$ND_CHAINS "$bin" -test.run '^$' -test.bench '^BenchmarkUnary$/chain=/mode=serial' \
		-test.benchmem -test.benchtime "$ND_TIME" >> "$OUT/nodeadline.out"
	echo "round $((r + 1)) of $ROUNDS done"
done
# The cost against the configuration's size: the paired layout of raw, raw2 and the suite with
# 1, 100 and 10 000 methods or services configured, one process per configuration.
seed=301
for kind in methods services; do
	for size in 1 100 10000; do
		"$OUT/paired" -shuffle -n "$PAIRED_N" -rounds "$METHODS_ROUNDS" -seed $seed -chains raw,raw2,suite \
			-configured $kind -size $size > "$OUT/methods_${kind}_${size}.out"
		seed=$((seed + 1))
		echo "configured $kind $size done"
	done
done
"$bin" -test.run '^$' -test.bench '^BenchmarkSuiteOwn$' -test.benchmem -test.benchtime 200000x -test.count 5 >> "$OUT/own.out"
# Cold, in 9 processes: a chain's cold figure differs from one process to the next by up to
# 100 ns (where its objects and code land), more than within one, so its median is taken over
# processes, and the policies' shares (differences of such figures) over as many.
for p in $(seq 9); do
	"$bin" -test.run '^$' -test.bench '^BenchmarkSuiteOwnCold$' -test.benchmem -test.benchtime 20000x >> "$OUT/own.out"
done
"$bin" -test.run '^$' -test.bench '^BenchmarkSuiteOwnConfigured$' -test.benchmem -test.benchtime 200000x -test.count 5 >> "$OUT/ownconfigured.out"
BENCH_CHAINS=raw,suite,suite_nosink,failsafe,grpcmw_retry "$bin" -test.run '^$' -test.bench '^BenchmarkInflight$' \
	-test.benchtime 5x -test.count 3 >> "$OUT/inflight.out"
"$bin" -test.run '^$' \
	-test.bench '^BenchmarkStackDepth$' -test.benchtime 3x >> "$OUT/stack.out"
"$bin" -test.run '^$' -test.bench '^Benchmark(Breaker|Bulkhead|Limiter|Classify)$' -test.benchmem \
	-test.benchtime "$HOT_TIME" -test.count 3 >> "$OUT/hotpath.out"
echo "load after (1, 5, 15 min): $(cut -d' ' -f1-3 /proc/loadavg)" >> "$OUT/env.txt"
# Into a temporary file first: a failing cmd/report leaves the committed report.md as it was.
$GO run ./cmd/report -dir "$OUT" -benchstat "$BENCHSTAT" -summary "$SUMMARY" > "$OUT/report.md.tmp"
mv "$OUT/report.md.tmp" "$OUT/report.md"
echo "wrote $OUT/report.md${SUMMARY:+ and the summary in $SUMMARY}"
