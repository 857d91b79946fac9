#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# stage.sh IMAGE OUT ARGS...: lay out the files of one Kimigayo image in a
# fresh staging directory, DIR/stage-IMAGE next to OUT (kept: size.sh and
# quick runs read it), and pack it into OUT with mkimage.sh.  The Makefile
# builds the inputs; this says where each goes.
#
#   minimal OUT INIT LIBALLOC_TESTS ENTRY...
#       /init; every executable file of LIBALLOC_TESTS (liballoc's musl test
#       programs) in /tests/liballoc; each ENTRY is either
#         suite:PATH:PROG,PROG...  a suite's multi-call binary (selftests/
#                                  multicall.c), as /tests/SUITE/.all with a
#                                  symlink to it per program (SUITE is the
#                                  name of PATH's directory)
#         tool:PATH                a command-line tool, in /bin
#   standard OUT MINIMAL_STAGE BUSYBOX
#       the minimal image's staging directory, BusyBox in /bin, an empty /bench
#   bench OUT INIT TESTS_DIR PROGRAM...
#       /init and the benchmark programs, TESTS_DIR/SUITE/NAME as /bench/SUITE/NAME
#   demo OUT INIT OOM_DEMO
#       /init and the demo's scenario as /demo/liballoc/oom_demo
#   pressure OUT INIT PRESSURE LIBALLOC_SO LIB...
#       /init, the glibc-linked pressure driver as /bench/liballoc/pressure,
#       liballoc.so and the LIBs in /lib/x86_64-linux-gnu, and the shared
#       libraries ldd names for all of them (the loader in /lib64)
#   modules OUT ARCH MODULE
#       MODULE without its DWARF (symbols stay) as /lib/modules/memnotify.ko
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../qemu/targets.sh"

usage="usage: stage.sh minimal|standard|bench|demo|pressure|modules OUT ARGS... (see the top of rootfs/stage.sh)"
image=${1:?$usage}
out=${2:?$usage}
shift 2
case $image in
minimal | standard | bench | demo | pressure | modules) ;;
*) die "unknown image '$image'; $usage" ;;
esac
stage=$(dirname "$out")/stage-$image
rm -rf "$stage"
mkdir -p "$stage"

# need N ARGS...: at least N arguments for this image.
need() {
	[ $(($# - 1)) -ge "$1" ] || die "$usage"
}

case $image in
minimal)
	need 2 "$@"
	cp "$1" "$stage/init"
	mkdir -p "$stage/bin" "$stage/tests/liballoc"
	find "$2" -maxdepth 1 -type f -perm -u+x -exec cp {} "$stage/tests/liballoc/" \;
	shift 2
	for entry in "$@"; do
		case $entry in
		suite:*:*)
			entry=${entry#suite:}
			path=${entry%:*} programs=${entry##*:}
			suite=$(basename "$(dirname "$path")")
			mkdir -p "$stage/tests/$suite"
			cp "$path" "$stage/tests/$suite/.all"
			for p in ${programs//,/ }; do
				ln -s .all "$stage/tests/$suite/$p"
			done ;;
		tool:*)
			cp "${entry#tool:}" "$stage/bin/" ;;
		*)
			die "'$entry' is neither suite:PATH:PROGRAMS nor tool:PATH" ;;
		esac
	done ;;
standard)
	need 2 "$@"
	rm -rf "$stage"
	cp -a "$1" "$stage"
	mkdir -p "$stage/bin" "$stage/bench"
	cp -L "$2" "$stage/bin/busybox" ;;
bench)
	need 2 "$@"
	cp "$1" "$stage/init"
	tests=$2
	shift 2
	for t in "$@"; do
		rel=${t#"$tests"/}
		mkdir -p "$stage/bench/$(dirname "$rel")"
		cp "$t" "$stage/bench/$rel"
	done ;;
demo)
	need 2 "$@"
	cp "$1" "$stage/init"
	mkdir -p "$stage/demo/liballoc"
	cp "$2" "$stage/demo/liballoc/" ;;
pressure)
	need 3 "$@"
	need_tools ldd
	cp "$1" "$stage/init"
	shift
	mkdir -p "$stage/bench/liballoc" "$stage/lib/x86_64-linux-gnu" "$stage/lib64"
	cp "$1" "$stage/bench/liballoc/"
	cp "${@:2}" "$stage/lib/x86_64-linux-gnu/"
	ldd "$@" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\/lib64\// { print $1 }' |
		sort -u | while read -r f; do
			case $f in
			/lib64/*) cp -L "$f" "$stage/lib64/" ;;
			*) cp -L "$f" "$stage/lib/x86_64-linux-gnu/" ;;
			esac
		done ;;
modules)
	need 2 "$@"
	set_arch "$1"
	need_tools "$GNU_TRIPLET-strip"
	mkdir -p "$stage/lib/modules"
	# Without DWARF (Debian's kernel build adds 800 KiB of it); symbols stay.
	"$GNU_TRIPLET-strip" --strip-debug -o "$stage/lib/modules/memnotify.ko" "$2" ;;
esac
"$here/mkimage.sh" "$out" "$stage"
