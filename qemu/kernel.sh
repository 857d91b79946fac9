#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# kernel.sh ARCH KERNEL: make sure a test kernel exists and print, as shell
# assignments, what the rest of the build needs:
#   KIMAGE  the image QEMU boots
#   KBUILD  the tree out-of-tree modules are built against (make -C KBUILD)
#   KREL    the kernel release the module is built for
#
# KERNEL 6.1 and 6.12 are built from Debian's source packages with the
# config fragments in qemu/kconfig/ on top of tinyconfig, cached in
# $CACHE/kernels/<version>-<arch>-<hash of fragments and compiler>; a cached
# kernel is never rebuilt.  KERNEL=distro is Debian's own amd64 kernel, as
# shipped, with the module built against the installed linux-headers-amd64.
# KERNEL=<line>-debug adds qemu/kconfig/debug.config (KASAN, lockdep,
# kmemleak, object debugging) and debug-<line>.config to that line's
# fragments.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/targets.sh"

arch=${1:?usage: kernel.sh ARCH KERNEL}
line=${2:?usage: kernel.sh ARCH KERNEL}
set_arch "$arch"
check_kernel "$line"

if [ "$line" = distro ]; then
	[ "$arch" = x86_64 ] || die "KERNEL=distro is Debian's amd64 kernel: use ARCH=x86_64"
	hdr=$(ls -d /usr/src/linux-headers-*-amd64 2>/dev/null | sort -V | tail -1)
	[ -n "$hdr" ] || die "linux-headers-amd64 is not installed: run 'make deps' first"
	krel=${hdr#/usr/src/linux-headers-}
	dest=$CACHE/distro/$krel
	if [ ! -f "$dest/boot/vmlinuz-$krel" ]; then
		need_tools apt-get dpkg-deb
		note "fetching Debian's linux-image-$krel (once)"
		mkdir -p "$dest"
		(cd "$dest" && apt-get -q download "linux-image-$krel" 2>&1 |
			grep -v -e '^Get:' -e '_apt' >&2) || true
		deb=$(ls "$dest"/linux-image-"$krel"_*.deb 2>/dev/null | head -1)
		[ -n "$deb" ] || die "could not download linux-image-$krel"
		dpkg-deb -x "$deb" "$dest"
	fi
	echo "KIMAGE=$dest/boot/vmlinuz-$krel"
	echo "KBUILD=$hdr"
	echo "KREL=$krel"
	exit 0
fi

base=${line%-debug}
src=$("$here/sources.sh" "$base")
frags=("$here/kconfig/base.config" "$here/kconfig/$arch.config")
[ -f "$here/kconfig/$arch-$base.config" ] && frags+=("$here/kconfig/$arch-$base.config")
if [ "$base" != "$line" ]; then
	frags+=("$here/kconfig/debug.config")
	[ -f "$here/kconfig/debug-$base.config" ] && frags+=("$here/kconfig/debug-$base.config")
fi
need_tools "${CROSS_COMPILE}gcc" make flex bison bc
kver=$(make -s -C "$src" ARCH="$K_ARCH" kernelversion)
key=$( { cat "${frags[@]}"; "${CROSS_COMPILE}gcc" --version | head -1; echo "$kver"; } |
	sha256sum | cut -c1-12)
out=$CACHE/kernels/$kver-$arch-$key
kmake=(make -C "$src" O="$out" ARCH="$K_ARCH" CROSS_COMPILE="$CROSS_COMPILE")

# One build per kernel at a time: a second caller waits, then finds it built.
mkdir -p "$CACHE/kernels"
exec 9>"$out.lock"
flock 9
if [ ! -f "$out/.built" ]; then
	rm -rf "$out"
	mkdir -p "$out"
	log=$out/build.log
	note "building Linux $kver for $arch (cached as $(basename "$out")); log: $log"
	start=$(date +%s)
	{
		"${kmake[@]}" tinyconfig
		"$src/scripts/kconfig/merge_config.sh" -m -O "$out" "$out/.config" "${frags[@]}"
		"${kmake[@]}" olddefconfig
	} >"$log" 2>&1 || die "configuring failed, see $log"
	# Every option asked for (set or "is not set") must have survived
	# olddefconfig.
	missing=$(cat "${frags[@]}" | grep -E '^(CONFIG_|# CONFIG_.* is not set)' |
		while read -r opt; do
			grep -qxF "$opt" "$out/.config" || echo "$opt"
		done)
	[ -z "$missing" ] || die "options not satisfied for $arch $kver:" $missing
	"${kmake[@]}" -j"$(nproc)" "$K_IMAGE_TARGET" modules >>"$log" 2>&1 ||
		die "kernel build failed, see $log"
	note "built Linux $kver for $arch in $(( $(date +%s) - start )) s"
	touch "$out/.built"
fi

echo "KIMAGE=$out/$K_IMAGE"
echo "KBUILD=$out"
echo "KREL=$(cat "$out/include/config/kernel.release")"
