#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# size.sh IMAGE.cpio.zst|IMAGE.cpio.gz: what each file of an image costs,
# one line per regular file in archive order (IMAGE.list, written by
# mkimage.sh): its size, and the bytes it adds to the compressed stream
# after the files before it (compressing each growing prefix of the
# contents the way mkimage.sh compresses the image), so code that several
# programs share is paid for by the first of them.  The marginal bytes add
# up to the compressed contents; the rest of the image is cpio headers,
# names and symlinks.
#
# size.sh --table BUILD ARCH... (make rootfs-size): the compressed sizes of
# both images of each arch (BUILD/ARCH/minimal.cpio.zst and
# standard.cpio.zst) and whether the minimal one is under 512 KiB, then
# the per-file costs of each minimal image.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../qemu/targets.sh"

if [ "${1:-}" = --table ]; then
	build=${2:?usage: size.sh --table BUILD ARCH...}
	shift 2
	printf '%-8s %14s %14s  %s\n' arch minimal standard "minimal < 512 KiB"
	for a in "$@"; do
		m=$(stat -c %s "$build/$a/minimal.cpio.zst")
		s=$(stat -c %s "$build/$a/standard.cpio.zst")
		printf '%-8s %10d KiB %10d KiB  %s\n' "$a" $((m / 1024)) $((s / 1024)) \
			"$([ "$m" -lt 524288 ] && echo yes || echo NO)"
	done
	for a in "$@"; do
		echo
		echo "$a minimal:"
		"$0" "$build/$a/minimal.cpio.zst"
	done
	exit 0
fi

img=${1:?usage: size.sh IMAGE.cpio.zst|IMAGE.cpio.gz}
list=$img.list
{ [ -f "$img" ] && [ -f "$list" ]; } || die "no $img or $list: build the image first"
case $img in
*.zst) pack() { zstd -q -19 -c "$1"; } ;;
*.gz) pack() { gzip -9 -n -c "$1"; } ;;
*) die "$img: not a .cpio.zst or .cpio.gz image" ;;
esac

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
: >"$tmp/prefix"
prev=0 raw=0
printf '  %-32s %9s %11s %6s\n' file bytes compressed share
awk '$1 == "file" { print $2, $3 }' "$list" | {
	while read -r name path; do
		cat "$path" >>"$tmp/prefix"
		now=$(pack "$tmp/prefix" | wc -c)
		size=$(stat -c %s "$path")
		printf '%s %s %s\n' "$name" "$size" $((now - prev))
		raw=$((raw + size)) prev=$now
	done >"$tmp/rows"
	img_size=$(stat -c %s "$img")
	while read -r name size cost; do
		printf '  %-32s %9d %11d %5d%%\n' "$name" "$size" "$cost" $((cost * 100 / img_size))
	done <"$tmp/rows"
	printf '  %-32s %9d %11d %5d%%\n' "(cpio headers, names, links)" 0 $((img_size - prev)) \
		$(((img_size - prev) * 100 / img_size))
	printf '  %-32s %9d %11d\n' total "$raw" "$img_size"
}
