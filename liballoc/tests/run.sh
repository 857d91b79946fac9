#!/bin/sh
# Run liballoc test binaries, show their TAP, and summarise:
# "N passed, N failed, N skipped" (test cases; a binary that dies without
# reporting counts as one failure). Exit status non-zero on any failure.
pass=0 fail=0 skip=0
for t in "$@"; do
	out=$("$t" 2>&1)
	rc=$?
	printf '%s\n' "$out"
	p=$(printf '%s\n' "$out" | grep -E '^ok [0-9]+' | grep -vc '# SKIP')
	s=$(printf '%s\n' "$out" | grep -E '^ok [0-9]+' | grep -c '# SKIP')
	f=$(printf '%s\n' "$out" | grep -cE '^not ok [0-9]+')
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "# $(basename "$t") exited with status $rc"
		f=1
	fi
	pass=$((pass + p)) fail=$((fail + f)) skip=$((skip + s))
done
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
