#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# check-interrupt.sh: an interrupted qemu/run stops its VM at once.  The
# runner is started as a test run of Debian's distro kernel (the cached
# image; nothing is built) with a stand-in for qemu-system-x86_64 first on
# PATH: it prints init's first line, records its pid and waits.  For each
# way a run is interrupted (SIGINT, SIGTERM and SIGHUP to the run's process
# group, as Ctrl-C or a killed make sends them, and SIGTERM to the runner
# alone; and SIGINT to a --bench boot's group, whose console goes through a
# fifo) the stand-in must be gone within 2 s and the runner must die of
# that signal.  Ends with "N passed, N failed"; exits non-zero on a failure.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/targets.sh"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/bin"
cat >"$tmp/bin/qemu-system-x86_64" <<'STANDIN'
#!/bin/bash
echo "# kimigayo: init at 0.000 s"
echo $$ >"$STANDIN_PID"
exec sleep 600
STANDIN
chmod +x "$tmp/bin/qemu-system-x86_64"
printf '' | gzip -n >"$tmp/empty.cpio.gz"

passed=0 failed=0
# try HOW SIGNAL [RUN_OPTION]: start a run, interrupt it, judge.
try() {
	local how=$1 sig=$2 mode=${3:-} runner standin= i rc
	rm -f "$tmp/pid"
	# The run gets a process group of its own, as a command typed at a
	# terminal does (whose Ctrl-C reaches the whole group).
	set -m
	STANDIN_PID=$tmp/pid PATH=$tmp/bin:$PATH "$here/run" $mode --arch x86_64 --kernel distro \
		--name check-interrupt --initrd "$tmp/empty.cpio.gz" >"$tmp/out" 2>&1 &
	runner=$!
	set +m
	# The first run may extract the distro kernel's vmlinux (once).
	for i in $(seq 1200); do
		[ -s "$tmp/pid" ] && break
		kill -0 "$runner" 2>/dev/null || break
		sleep 0.1
	done
	standin=$(cat "$tmp/pid" 2>/dev/null)
	if [ -z "$standin" ]; then
		echo "FAIL $how SIG$sig${mode:+ $mode}: the run never started the stand-in QEMU:"
		sed 's/^/  /' "$tmp/out"
		kill -KILL -- -"$runner" 2>/dev/null
		failed=$((failed + 1))
		return
	fi
	sleep 1
	# (stderr off: the shell's own note that its job died of a signal)
	{
		if [ "$how" = group ]; then
			kill -"$sig" -- -"$runner"
		else
			kill -"$sig" "$runner"
		fi
		for i in $(seq 20); do
			kill -0 "$standin" || break
			sleep 0.1
		done
		wait "$runner"
		rc=$?
	} 2>/dev/null
	if kill -0 "$standin" 2>/dev/null; then
		echo "FAIL $how SIG$sig${mode:+ $mode}: QEMU (pid $standin) still runs 2 s later"
		kill -KILL "$standin"
		failed=$((failed + 1))
	elif [ "$rc" -ne $((128 + $(kill -l "$sig"))) ]; then
		echo "FAIL $how SIG$sig${mode:+ $mode}: the runner exited with status $rc, not by the signal"
		failed=$((failed + 1))
	else
		echo "ok   $how SIG$sig${mode:+ $mode}: QEMU stopped, the runner died of SIG$sig"
		passed=$((passed + 1))
	fi
}

try group INT
try group TERM
try group HUP
try runner TERM
try group INT --bench
echo "check-interrupt: $passed passed, $failed failed"
[ "$failed" = 0 ]
