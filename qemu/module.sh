#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# module.sh ARCH KERNEL OUTDIR: build memnotify.ko for one target, W=1 clean.
# Kbuild writes its objects next to the sources, so each target builds from
# its own copy of Kbuild, kmod/ and include/ in OUTDIR (rsync keeps mtimes,
# so an unchanged target rebuilds nothing).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/targets.sh"

arch=${1:?usage: module.sh ARCH KERNEL OUTDIR}
line=${2:?usage: module.sh ARCH KERNEL OUTDIR}
out=${3:?usage: module.sh ARCH KERNEL OUTDIR}
set_arch "$arch"
kvars=$("$here/kernel.sh" "$arch" "$line")
eval "$kvars"
need_tools rsync make
top=$(cd "$here/.." && pwd)
mkdir -p "$out"
rsync -a --delete --exclude='*.o' --exclude='*.ko' --exclude='.*.cmd' --exclude='*.mod*' \
	--exclude=Module.symvers --exclude=modules.order \
	"$top/Kbuild" "$top/kmod" "$top/include" "$out/"
# W=1 with -Werror: the module stays warning-free on every kernel it targets.
make -s -C "$KBUILD" M="$out" ARCH="$K_ARCH" CROSS_COMPILE="$CROSS_COMPILE" W=1 \
	KCFLAGS=-Werror modules
echo "$out/kmod/memnotify.ko"
