# SPDX-License-Identifier: GPL-2.0
# verdict.awk: judge one run's console log (carriage returns removed) for
# qemu/run.  Nested lines ("# ok 3 ...") are one program's own TAP;
# top-level lines are the init's, one per program.
#
# Variables (awk -v): rc, QEMU's exit status (124 or 137: timed out);
# hung, 1 when init printed nothing within boot_limit seconds; bench, 1
# for a --bench boot, which passes on init's kimigayo-idle line instead of
# a test run.
#
# Prints one tab-separated line: passed, failed, skipped,
# boot-to-first-test seconds ("-" if none), the failed tests as
# "program/test; ..." ("-" if none), and "pass" or "FAIL: problem; ...".
function problem(msg) { problems = problems (problems ? "; " : "") msg }
/Oops|BUG:|WARNING:|Call Trace|KASAN|Kernel panic|ODEBUG|UBSAN|unreferenced object|possible (circular|recursive) locking|inconsistent lock state|suspected memory leak/ {
	if (!(nbad++)) problem("kernel problem on the console: " $0)
}
/^1\.\.[0-9]+$/ && !plan_seen { plan = substr($0, 4) + 0; plan_seen = 1; next }
/^# selftests: / { prog = substr($0, 14); nplan = -1; nres = 0; nfail = 0; next }
/^# 1\.\.[0-9]+/ { nplan = substr($2, 4) + 0; next }
/^# (not )?ok [0-9]+ / {
	nres++
	if ($2 == "not") {
		failed++; nfail++
		name = $0; sub(/^# not ok [0-9]+ /, "", name)
		failures = failures (failures ? "; " : "") prog "/" name
	}
	else if ($0 ~ /# SKIP/) skipped++
	else passed++
	next
}
/^# kimigayo: boot-to-first-test / { boot = $4 }
/^(not )?ok [0-9]+ selftests: / {
	tops++
	if (nplan < 0) problem(prog ": no TAP plan")
	else if (nres != nplan) problem(prog ": " nres " of " nplan " results")
	if ($1 == "not" && !nfail) {
		failed++
		failures = failures (failures ? "; " : "") prog
	}
	if ($1 == "not") problem(prog ": not ok")
	next
}
/^kimigayo-result: / { result = $0 }
/^kimigayo-idle: / { idle = $0 }
END {
	if (hung) problem("no init output within " boot_limit " s of starting")
	else if (rc == 124 || rc == 137) problem("timed out")
	else if (rc) problem("qemu exited with status " rc)
	if (bench) {
		if (idle == "") problem("no kimigayo-idle line")
	} else {
		if (!plan_seen) problem("no TAP plan from init")
		else if (tops != plan) problem(tops + 0 " of " plan " programs reported")
		if (result == "") problem("no kimigayo-result line")
		else if (result !~ /status=pass/) problem(result)
	}
	printf "%d\t%d\t%d\t%s\t%s\t%s\n", passed, failed, skipped, boot == "" ? "-" : boot, \
		failures == "" ? "-" : failures, problems == "" ? "pass" : "FAIL: " problems
}
