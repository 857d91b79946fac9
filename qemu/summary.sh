#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# summary.sh TARGET...: the table `make qemu-test-all` ends with, from the
# build/logs/TARGET.result files qemu/run leaves, and one closing line
# "total: N passed, N failed, N skipped", preceded by the names of the tests
# that failed, so that the last lines of a log say what broke.  A target without a result file
# (its build failed before booting) counts as one failure.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
printf '\n%-16s %-22s %7s %7s %8s %12s  %s\n' target kernel passed failed skipped boot-to-test verdict
tp=0 tf=0 ts=0 failures=
for t in "$@"; do
	r=$top/build/logs/$t.result
	if [ -f "$r" ] && [ "$r" -nt "$top/build/logs/.all-start" ]; then
		IFS=$'\t' read -r arch krel p f s boot verdict failed <"$r"
		[ "${failed:--}" != - ] && failures+="$t: $failed"$'\n'
	else
		krel=- p=0 f=1 s=0 boot=- verdict="FAIL (did not boot)"
	fi
	# A failed run counts as at least one failure, whatever its tests said.
	[ "$verdict" != pass ] && [ "$f" = 0 ] && f=1
	printf '%-16s %-22s %7s %7s %8s %11ss  %s\n' "$t" "$krel" "$p" "$f" "$s" "$boot" "$verdict"
	tp=$((tp + p)) tf=$((tf + f)) ts=$((ts + s))
done
[ -n "$failures" ] && printf '\nfailed tests (program/test):\n%s' "$failures"
echo "total: $tp passed, $tf failed, $ts skipped"
