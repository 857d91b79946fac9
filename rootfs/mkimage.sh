#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# mkimage.sh OUT.cpio.{zst,gz} STAGING_DIR: pack a staging directory into an
# initramfs, compressed as OUT's suffix says: .zst with zstd -19 (one frame
# whose window covers the whole archive, so the test programs' common musl
# and liballoc code is stored once), .gz with gzip -9.  Every kernel target
# decompresses both (CONFIG_RD_ZSTD, CONFIG_RD_GZIP; qemu/run checks the
# kernel's .config before booting).  Entries are owned by root whoever
# builds it, and the image gets the nodes and mount points every Kimigayo
# image needs (/dev/console so the kernel can hand PID 1 a console).  Uses
# the kernel's own usr/gen_init_cpio, built once from the 6.1 source into
# the cache.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../qemu/targets.sh"

out=${1:?usage: mkimage.sh OUT.cpio.zst|OUT.cpio.gz STAGING_DIR}
stage=${2:?usage: mkimage.sh OUT.cpio.zst|OUT.cpio.gz STAGING_DIR}
[ -d "$stage" ] || die "no staging directory $stage"
case $out in
*.cpio.zst) need_tools zstd ;;
*.cpio.gz) need_tools gzip ;;
*) die "$out: the image's name must end in .cpio.zst or .cpio.gz" ;;
esac

gen=$CACHE/tools/gen_init_cpio
if [ ! -x "$gen" ]; then
	src=$("$here/../qemu/sources.sh" 6.1)
	mkdir -p "$(dirname "$gen")"
	gcc -O2 -o "$gen" "$src/usr/gen_init_cpio.c"
fi

list=$out.list
{
	echo "dir /dev 0755 0 0"
	echo "nod /dev/console 0600 0 0 c 5 1"
	for d in proc sys tmp root; do
		echo "dir /$d 0755 0 0"
	done
	(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort) | while read -r p; do
		p=${p#.}
		f=$stage$p
		if [ -L "$f" ]; then
			echo "slink $p $(readlink "$f") 0777 0 0"
		elif [ -d "$f" ]; then
			echo "dir $p 0755 0 0"
		else
			echo "file $p $f $(stat -c %a "$f") 0 0"
		fi
	done
} >"$list"
mkdir -p "$(dirname "$out")"
"$gen" "$list" >"$out.cpio"
case $out in
# From a file, zstd records the size and fits its window to it.
*.zst) zstd -q -19 -f "$out.cpio" -o "$out.tmp" ;;
*.gz) gzip -9 -n <"$out.cpio" >"$out.tmp" ;;
esac
rm -f "$out.cpio"
mv "$out.tmp" "$out"
