#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# sources.sh LINE: make sure the kernel source for LINE (6.1 or 6.12) is
# unpacked in the cache and print its path.
#   6.1:  Debian bookworm's linux-source-6.1 (installed by `make deps`).
#   6.12: Debian trixie's linux-source-6.12, an arch-independent .deb that
#         is downloaded and unpacked here, never installed system-wide.
set -euo pipefail
. "$(dirname "$0")/targets.sh"

line=${1:?usage: sources.sh 6.1|6.12}
tree=$CACHE/src/linux-$line
stamp=$tree/.debian-version
case $line in 6.1|6.12) ;; *) die "unknown kernel line '$line'; valid: 6.1 6.12" ;; esac
mkdir -p "$CACHE/src"
exec 9>"$CACHE/src/.lock-$line"
flock 9

case $line in
6.1)
	need_tools dpkg-query tar xz
	ver=$(dpkg-query -W -f='${Version}' linux-source-6.1 2>/dev/null) ||
		die "linux-source-6.1 is not installed: run 'make deps' first"
	tarball=/usr/src/linux-source-6.1.tar.xz ;;
6.12)
	need_tools apt-get dpkg-deb tar xz
	debdir=$CACHE/debs/all
	if [ ! -f "$stamp" ]; then
		apt_download trixie riscv64 "$debdir" linux-source-6.12
	fi
	deb=$(ls "$debdir"/linux-source-6.12_*.deb 2>/dev/null | sort -V | tail -1)
	[ -n "$deb" ] || die "linux-source-6.12 .deb missing in $debdir"
	ver=$(dpkg-deb -f "$deb" Version) ;;
*)
	die "unknown kernel line '$line'; valid: 6.1 6.12" ;;
esac

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$ver" ]; then
	echo "$tree"
	exit 0
fi

note "unpacking linux-source-$line $ver into $tree (once)"
tmp=$CACHE/src/.unpack-$line.$$
rm -rf "$tmp" "$tree"
mkdir -p "$tmp"
if [ "$line" = 6.12 ]; then
	dpkg-deb -x "$deb" "$tmp/deb"
	tarball=$tmp/deb/usr/src/linux-source-6.12.tar.xz
fi
tar -C "$tmp" -xJf "$tarball"
mv "$tmp/linux-source-$line" "$tree"
rm -rf "$tmp"
echo "$ver" >"$stamp"
echo "$tree"
