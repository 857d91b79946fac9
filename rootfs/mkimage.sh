#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# mkimage.sh OUT.cpio.gz STAGING_DIR: pack a staging directory into a
# gzip'd initramfs.  Entries are owned by root whoever builds it, and the
# image gets the nodes and mount points every Kimigayo image needs
# (/dev/console so the kernel can hand PID 1 a console).  Uses the kernel's
# own usr/gen_init_cpio, built once from the 6.1 source into the cache.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../qemu/targets.sh"

out=${1:?usage: mkimage.sh OUT.cpio.gz STAGING_DIR}
stage=${2:?usage: mkimage.sh OUT.cpio.gz STAGING_DIR}
[ -d "$stage" ] || die "no staging directory $stage"

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
"$gen" "$list" | gzip -9 -n >"$out.tmp"
mv "$out.tmp" "$out"
