#!/bin/sh
# make check-install: install into a scratch DESTDIR and check the result.
#   tools/check-install.sh WORKDIR     (run from the top of the tree)
# Checks: the installed layout (SONAME, symlink, headers, pc, man, udev,
# tools, DKMS source), the example built through pkg-config (shared and
# static) and run, the man pages under `man --warnings`, the tools' error
# handling and liballoc-stat, `dkms build` against Debian's installed headers
# (private dkms tree, unsigned: nothing outside WORKDIR is written) and
# `make modules_install` into a scratch INSTALL_MOD_PATH.
# Prints "N passed, N failed"; exits 1 if anything failed.
set -u
W=${1:?usage: check-install.sh WORKDIR}
MAKE=${MAKE:-make}
PREFIX=/usr/local
D=$W/destdir
P=$D$PREFIX
pass=0 fail=0

ok()  { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; [ -s "$W/out" ] && sed 's/^/     /' "$W/out" | tail -20; }
# check NAME COMMAND...: run COMMAND with output in $W/out
check() { name=$1; shift; if "$@" >"$W/out" 2>&1; then ok "$name"; else bad "$name"; fi; }

rm -rf "$W" && mkdir -p "$W" || exit 1

check "make install DESTDIR PREFIX=$PREFIX" $MAKE -s install DESTDIR="$D" PREFIX=$PREFIX

check "liballoc.so.1 is a file with SONAME liballoc.so.1" sh -c \
	"test -f '$P/lib/liballoc.so.1' && ! test -L '$P/lib/liballoc.so.1' &&
	 readelf -d '$P/lib/liballoc.so.1' | grep -q 'SONAME.*\[liballoc.so.1\]'"
check "liballoc.so -> liballoc.so.1" test "$(readlink "$P/lib/liballoc.so")" = liballoc.so.1
check "liballoc.a, liballoc-stat.so" test -f "$P/lib/liballoc.a" -a -f "$P/lib/liballoc-stat.so"
check "headers liballoc.h and linux/memnotify.h" sh -c \
	"cmp include/liballoc.h '$P/include/liballoc.h' && cmp include/uapi/linux/memnotify.h '$P/include/linux/memnotify.h'"
check "tools in bin/" test -x "$P/bin/memnotify-watch" -a -x "$P/bin/liballoc-stat"
check "udev rule sets GROUP and MODE" grep -q 'KERNEL=="memnotify".*GROUP="memnotify", MODE="0660"' \
	"$D/lib/udev/rules.d/60-memnotify.rules"
check "DKMS source tree" test -f "$D/usr/src/memnotify-1.0/dkms.conf" -a \
	-f "$D/usr/src/memnotify-1.0/kmod/memnotify_main.c" -a \
	-f "$D/usr/src/memnotify-1.0/include/uapi/linux/memnotify.h"

# pkg-config against the DESTDIR: the .pc names the final prefix, the sysroot
# variable maps it into DESTDIR.
export PKG_CONFIG_PATH="$P/lib/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$D"
check "pkg-config --cflags --libs liballoc" sh -c \
	"test \"\$(echo \$(pkg-config --cflags --libs liballoc))\" = '-I$P/include -L$P/lib -lalloc'"
check "pkg-config --static --libs liballoc" sh -c \
	"pkg-config --static --libs liballoc | grep -q -- '-lalloc -luring -lpthread'"
mkdir -p "$W/examples"
check "examples build with pkg-config" $MAKE -s -C examples O="$W/examples"
check "cache-service (liballoc.so.1 from DESTDIR) runs" sh -c \
	"LD_LIBRARY_PATH='$P/lib' ldd '$W/examples/cache-service' | grep -q '$P/lib/liballoc.so.1' &&
	 LD_LIBRARY_PATH='$P/lib' '$W/examples/cache-service' > '$W/example.log' &&
	 grep -q '^check la_trim_released_memory ok' '$W/example.log' &&
	 grep -q '^check monitor_handled_event ok' '$W/example.log'"
check "cache-service-static runs" sh -c \
	"'$W/examples/cache-service-static' | grep -q '^result ok'"

for m in "$P/share/man/man1/memnotify-watch.1" "$P/share/man/man3/liballoc.3" "$P/share/man/man4/memnotify.4"; do
	check "man --warnings $(basename "$m")" sh -c \
		"w=\$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l '$m' 2>&1 >/dev/null); echo \"\$w\"; test -z \"\$w\""
done

check "memnotify-watch --help, bad option exits 2" sh -c \
	"'$P/bin/memnotify-watch' --help | grep -q -- '--inject TYPE' &&
	 { '$P/bin/memnotify-watch' --nope 2>'$W/err'; test \$? = 2; } &&
	 grep -qx \"memnotify-watch: unknown option '--nope' (see --help)\" '$W/err'"
# the installed header's statistics version, which the library reports
V=$(sed -n 's/^#define LA_STATS_VERSION \([0-9]*\)$/\1/p' "$P/include/liballoc.h")
check "liballoc-stat PID prints a preloaded process's statistics" sh -c \
	"sh -c 'echo \$\$ > \"$W/pid\"; exec env LD_PRELOAD=\"$P/lib/liballoc.so.1 $P/lib/liballoc-stat.so\" \
		LIBALLOC_STATS_SIGNAL=USR2 LIBALLOC_STATS_DIR=\"$W\" sleep 5' &
	 sleep 1; '$P/bin/liballoc-stat' \$(cat '$W/pid') > '$W/stat.txt'; r=\$?; kill \$(cat '$W/pid'); wait
	 test \$r = 0 && head -1 '$W/stat.txt' | grep -qx 'liballoc_stats_version $V' &&
	 grep -q '^bytes_in_use [0-9]*\$' '$W/stat.txt'"

# DKMS against the newest installed Debian headers.
H=$(ls -d /usr/src/linux-headers-*-amd64 2>/dev/null | sort -V | tail -1)
if [ -z "$H" ] || ! command -v dkms >/dev/null; then
	bad "dkms build (needs dkms and linux-headers-amd64: make deps)"
else
	K=${H#/usr/src/linux-headers-}
	mkdir -p "$W/dkms"
	dk="--sourcetree $D/usr/src --dkmstree $W/dkms"
	check "dkms add memnotify/1.0" dkms add -m memnotify -v 1.0 $dk
	# sign_file pointing nowhere: no MOK key is generated in /var/lib/dkms
	check "dkms build memnotify/1.0 -k $K" env sign_file=/nonexistent \
		dkms build -m memnotify -v 1.0 -k "$K" --kernelsourcedir "$H" $dk
	check "dkms produced memnotify.ko for $K" sh -c \
		"modinfo -F vermagic '$W/dkms/memnotify/1.0/$K/x86_64/module/memnotify.ko' | grep -q '^$K '"
	check "make modules_install INSTALL_MOD_PATH" sh -c \
		"$MAKE -s module KDIR='$H' >/dev/null && $MAKE -s modules_install KDIR='$H' INSTALL_MOD_PATH='$W/modroot' &&
		 find '$W/modroot/lib/modules/$K' -name memnotify.ko | grep -q ."
fi

check "make uninstall leaves no files" sh -c \
	"$MAKE -s uninstall DESTDIR='$D' PREFIX=$PREFIX && test -z \"\$(find '$D' -type f -o -type l)\""

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
