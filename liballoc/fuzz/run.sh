#!/bin/sh
# Run the fuzz harness for a bounded time and summarise it.
# Usage: run.sh FUZZER OUTDIR SECONDS SEED SEEDDIR
# New inputs accumulate in OUTDIR/corpus (the seeds stay in SEEDDIR); the
# full libFuzzer log is OUTDIR/fuzz.log. Success: one line with executions,
# rate and coverage. A crash, failed check or sanitizer report: the reason,
# the log's tail, the reproducer's path, exit status 1.
fuzzer=$1 out=$2 secs=$3 seed=$4 seeds=$5
log=$out/fuzz.log
mkdir -p "$out/corpus" "$out/artifacts" || exit 1
rm -f "$out"/artifacts/crash-* "$out"/artifacts/timeout-* "$out"/artifacts/oom-*

"$fuzzer" -seed="$seed" -max_total_time="$secs" -timeout=20 -max_len=4096 \
	-print_final_stats=1 -artifact_prefix="$out/artifacts/" \
	"$out/corpus" "$seeds" >"$log" 2>&1
rc=$?

done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1)
stat() { sed -n "s/^stat::$1:[[:space:]]*//p" "$log" | tail -n 1; }
execs=$(stat number_of_executed_units)
rate=$(stat average_exec_per_sec)
rss=$(stat peak_rss_mb)
field() { printf '%s\n' "$done_line" | sed -n "s/.* $1: \([^ ]*\).*/\1/p"; }

if [ "$rc" -ne 0 ] || [ -z "$done_line" ] || [ -z "$execs" ] || [ "$execs" -eq 0 ]; then
	echo "fuzz: FAILED (libFuzzer exit status $rc) after ${execs:-0} executions" >&2
	grep -E 'CHECK FAILED|runtime error|ERROR: libFuzzer|deadly signal|SUMMARY' "$log" | head -n 5 >&2
	echo "--- last lines of $log:" >&2
	tail -n 25 "$log" >&2
	for a in "$out"/artifacts/*; do
		[ -e "$a" ] && echo "reproduce: $fuzzer $a" >&2
	done
	exit 1
fi
echo "fuzz: $execs executions in ${secs} s ($rate/s), cov $(field cov), ft $(field ft)," \
	"corpus $(field corp), peak rss ${rss} MB (seed $seed; log $log)"
