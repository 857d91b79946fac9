#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# sysroot.sh ARCH: make sure the static-musl userland toolchain for ARCH is
# in the cache and print the path of its compiler wrapper.
#
# $CACHE/sysroot/<arch>/ holds Debian's musl-dev, liburing-dev and
# busybox-static for that architecture (bookworm; trixie for riscv64),
# unpacked with dpkg-deb -x, the kernel UAPI headers from the source line
# matching that suite (UAPI_LINE),
# and bin/musl-cc: the host's (cross) gcc with musl's specs pointed at the
# sysroot, so `musl-cc -static x.c -luring` builds a Kimigayo program
# (bin/musl-ar: the matching ar).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../qemu/targets.sh"

set_arch "${1:?usage: sysroot.sh ARCH}"
S=$CACHE/sysroot/$T_ARCH
cc=$S/bin/musl-cc
mkdir -p "$CACHE/sysroot"
exec 9>"$CACHE/sysroot/.lock-$T_ARCH"
flock 9
# The wrappers are cheap: (re)write them on every call.
write_wrappers() {
	mkdir -p "$S/bin"
	# -idirafter keeps liburing's headers behind musl's and the UAPI headers.
	# Programs are linked stripped (-s): the images want no symbols, and
	# bookworm's riscv64 ld 2.40 crashes writing the symbol table of any static
	# program against trixie's musl 1.2.5.
	cat >"$cc.tmp" <<WRAP
#!/bin/sh
exec ${CROSS_COMPILE}gcc -specs "$S/musl.specs" -isystem "$S/uapi/include" \\
	-idirafter "$S/usr/include" -L"$S/usr/lib/$GNU_TRIPLET" -s "\$@"
WRAP
	chmod +x "$cc.tmp" && mv "$cc.tmp" "$cc"
	printf '#!/bin/sh\nexec %sar "$@"\n' "$CROSS_COMPILE" >"$S/bin/musl-ar"
	chmod +x "$S/bin/musl-ar"
}

if [ -f "$S/.complete" ]; then
	write_wrappers
	echo "$cc"
	exit 0
fi

need_tools "${CROSS_COMPILE}gcc" dpkg-deb apt-get
note "assembling the $T_ARCH musl sysroot in $S (once)"
rm -rf "$S"
mkdir -p "$S/debs" "$S/bin"
apt_download "$DEB_SUITE" "$DEB_ARCH" "$S/debs" musl-dev liburing-dev busybox-static
for deb in "$S"/debs/*.deb; do
	dpkg-deb -x "$deb" "$S"
done

specs_in=$S/usr/lib/$MUSL_TRIPLET/musl-gcc.specs
[ -f "$specs_in" ] || die "no musl-gcc.specs in the $T_ARCH musl-dev package"
sed -e "s|/usr/include/$MUSL_TRIPLET|$S/usr/include/$MUSL_TRIPLET|g" \
	-e "s|/usr/lib/$MUSL_TRIPLET|$S/usr/lib/$MUSL_TRIPLET|g" \
	"$specs_in" >"$S/musl.specs"

src=$("$here/../qemu/sources.sh" "$UAPI_LINE")
make -s -C "$src" ARCH="$K_ARCH" O="$S/uapi-build" INSTALL_HDR_PATH="$S/uapi" \
	headers_install >/dev/null
rm -rf "$S/uapi-build"

bb=$(ls "$S/bin/busybox" "$S/usr/bin/busybox" 2>/dev/null | head -1 || true)
[ -n "$bb" ] || die "no busybox binary in the $T_ARCH busybox-static package"
ln -sf "$bb" "$S/busybox"

write_wrappers
touch "$S/.complete"
echo "$cc"
