#!/bin/sh
# Run liballoc programs under memcheck and summarise.
# Usage: run.sh VALGRIND VG_SMOKE LOGDIR SUPPRESSIONS [TEST...]
#  1. `vg_smoke all`, then each TEST (kselftest binaries), with every process
#     they start (fork, exec): exit status 0, no memcheck error in any
#     process; at exit every open descriptor is inherited from make, or the
#     monitor's event source (at most 1 per process: PSI trigger or
#     memnotify; its io_uring holds no descriptor); an exec'd child inherits
#     nothing its parent did not (the source is close-on-exec).
#  2. `vg_smoke uaf|dfree|leak|uninit` plant one error each in a liballoc
#     block: memcheck must report it (so it does see liballoc's blocks).
# Success: one summary line. Failure: the offending log, exit status 1.
vg=$1 prog=$2 logs=$3 supp=$4
shift 4
rm -rf "$logs" && mkdir -p "$logs" || exit 1
# Monitor waits with poll(2): under valgrind 3.19 a thread blocked in
# io_uring_enter keeps valgrind's thread lock (seen here: every other thread
# stalls for the monitor's whole 100 ms wait, each time), while poll(2) lets
# go of it. The io_uring wait itself is covered by the host tests.
LIBALLOC_URING=0
export LIBALLOC_URING
# Time decay gives cache back after 5 s without pool activity; under memcheck
# (some 50x slower, more on a loaded machine) a test's steady-state loop can
# outlast that, and t_rss counts OS calls in such a loop. A 10 min window keeps
# decay out of the measurements; the decay itself is covered by the host tests.
LIBALLOC_DECAY_MS=600000
export LIBALLOC_DECAY_MS
opts="--soname-synonyms=somalloc=nouserintercepts --error-exitcode=1 --leak-check=full
	--errors-for-leak-kinds=definite,possible --track-fds=yes --suppressions=$supp"

fail() {
	echo "valgrind: FAILED: $1" >&2
	shift
	for f in "$@"; do
		echo "--- $f:" >&2
		grep -v '^==[0-9]*== *$' "$f" | head -n 60 >&2
	done
	exit 1
}

# Descriptors open at exit, per process: "inherited N", "monitor N",
# "valgrind N" or "other N" (one line each). Valgrind's own log files (under
# $logs) are left out.
fds() {
	awk -v logs="$logs/" '/Open .*descriptor [0-9]+/ { if (rec) print kind, fd; rec = 1;
		kind = index($0, logs) ? "valgrind" : "other";
		fd = $0; sub(/.*descriptor /, "", fd); sub(/:.*/, "", fd); next }
	rec && /inherited from parent/ { if (kind == "other") kind = "inherited" }
	rec && /la_msrc_open/ { if (kind == "other") kind = "monitor" }
	rec && /^==[0-9]+== *$/ { print kind, fd; rec = 0 }
	END { if (rec) print kind, fd }' "$1"
}

# One program and every process it starts (fork, exec): exit status 0, no
# memcheck error, descriptors as above.
procs=0 errors=0 monfds=0 names=
run() {
	name=$(basename "$1")
	names="$names $name"
	# shellcheck disable=SC2086
	$vg $opts --trace-children=yes --log-file="$logs/$name.%p.log" "$@" >"$logs/$name.out" 2>&1 &
	top=$!
	wait $top
	rc=$?
	[ -s "$logs/$name.$top.log" ] || fail "no log from $name (valgrind: $vg)" "$logs/$name.out"
	for f in "$logs/$name".*.log; do
		procs=$((procs + 1))
		n=$(sed -n 's/.*ERROR SUMMARY: \([0-9]*\) errors.*/\1/p' "$f" | tail -n 1)
		[ -n "$n" ] || fail "$f has no error summary (did the process crash?)" "$f"
		errors=$((errors + n))
		[ "$n" -eq 0 ] || fail "$n memcheck errors in $name" "$f"
	done
	[ "$rc" -eq 0 ] || fail "$name exited with status $rc" "$logs/$name.out"
	fds "$logs/$name.$top.log" | awk '$1 == "inherited" { print $2 }' | sort >"$logs/$name.inherited"
	for f in "$logs/$name".*.log; do
		fds "$f" >"$f.fds"
		grep -q '^other' "$f.fds" && fail "descriptors open at exit, not the monitor's" "$f"
		m=$(grep -c '^monitor' "$f.fds")
		[ "$m" -le 1 ] || fail "$m monitor descriptors open at exit (at most 1)" "$f"
		monfds=$((monfds + m))
		awk '$1 == "inherited" { print $2 }' "$f.fds" | sort | comm -23 - "$logs/$name.inherited" \
			>"$f.extra"
		[ -s "$f.extra" ] && fail "inherited descriptors make did not pass: $(cat "$f.extra")" "$f"
	done
}

run "$prog" all
for t in "$@"; do
	run "$t"
done

# Planted errors: memcheck must report each, with the expected words.
caught=0
for kind in uaf dfree leak uninit; do
	case $kind in
	uaf) want='inside a block of size 64 free.d' ;;
	dfree) want='Invalid free' ;;
	leak) want='64 bytes in 1 blocks are definitely lost' ;;
	uninit) want='depends on uninitialised value' ;;
	esac
	# shellcheck disable=SC2086
	$vg $opts --log-file="$logs/$kind.log" "$prog" $kind >"$logs/$kind.out" 2>&1
	r=$?
	[ "$r" -ne 0 ] || fail "planted error '$kind' went unreported (exit 0)" "$logs/$kind.log"
	grep -q "$want" "$logs/$kind.log" ||
		fail "planted error '$kind': no \"$want\" in the report" "$logs/$kind.log"
	caught=$((caught + 1))
done
echo "valgrind:$names: $procs processes, $errors memcheck errors, $monfds monitor" \
	"descriptors open at exit and no other; planted errors reported: $caught/4" \
	"(use after free, double free, leak, uninitialised read)"
