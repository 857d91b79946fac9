# SPDX-License-Identifier: GPL-2.0
# Sourced by the build and QEMU scripts, and read by the Makefile: the one
# table of target architectures and kernels, the cache layout, and small
# helpers.
#
# Cache (outside the repository, survives fresh clones):
#   $CACHE/src/linux-<line>/          unpacked kernel source (6.1, 6.12)
#   $CACHE/kernels/<ver>-<arch>-<h>/  built kernel, keyed by version, arch and
#                                     a hash of config fragments and compiler
#   $CACHE/apt/<suite>-<arch>/        private apt state for foreign .debs
#   $CACHE/sysroot/<arch>/            unpacked musl, liburing, busybox .debs
#   $CACHE/distro/                    Debian's shipped amd64 kernel image

CACHE=${CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/memnotify}
# The targets: ARCH and KERNEL values every script and make accept (an arch
# also needs its case in set_arch, a kernel line its source in sources.sh),
# and the ARCH-KERNEL pairs `make qemu-test-all` boots, in this order (the
# last is the debug kernel: KASAN, lockdep, kmemleak, qemu/kconfig/debug.config).
VALID_ARCHES="x86_64 arm64 riscv64"
VALID_KERNELS="6.1 6.12 distro 6.1-debug 6.12-debug"
TEST_TARGETS="x86_64-6.1 arm64-6.1 riscv64-6.1 x86_64-6.12 arm64-6.12 riscv64-6.12
	x86_64-distro x86_64-6.1-debug"

die() { echo "$(basename "$0"): $*" >&2; exit 1; }
note() { echo "  [$(basename "$0")] $*" >&2; }

# need_tools TOOL... : fail with a pointer to `make deps` when one is missing.
need_tools() {
	for t in "$@"; do
		command -v "$t" >/dev/null 2>&1 ||
			die "missing tool '$t': run 'make deps' first"
	done
}

check_arch() {
	case " $VALID_ARCHES " in *" $1 "*) ;;
	*) die "unknown ARCH '$1'; valid: $VALID_ARCHES" ;; esac
}

check_kernel() {
	case " $VALID_KERNELS " in *" $1 "*) ;;
	*) die "unknown KERNEL '$1'; valid: $VALID_KERNELS" ;; esac
}

# set_arch ARCH: per-architecture facts used by every script (QEMU_MACHINE
# and KERNEL_APPEND: the machine and the kernel command-line words every
# boot of the arch gets; -serial is given by qemu/run).
set_arch() {
	check_arch "$1"
	T_ARCH=$1
	case $1 in
	x86_64)
		K_ARCH=x86 CROSS_COMPILE= GNU_TRIPLET=x86_64-linux-gnu
		MUSL_TRIPLET=x86_64-linux-musl DEB_ARCH=amd64 DEB_SUITE=bookworm UAPI_LINE=6.1
		K_IMAGE=arch/x86/boot/bzImage K_IMAGE_TARGET=bzImage
		# QEMU's microvm machine: the 16550 console, IO-APICs and RTC, and
		# hardware-reduced ACPI tables small enough to interpret at once (a
		# 336-byte DSDT; poweroff through ACPI as on -M pc); no PCI bus (the
		# kernels say "PCI: Fatal: No config space access function found"
		# and go on), no PIIX, PS/2, SMBus or VGA to probe, no legacy timer
		# interrupt to check, and qboot instead of SeaBIOS.  -nodefaults: no
		# NIC or drives.  Under TCG the guest's TSC is the host's, read by
		# both vCPUs, at the host's rate: tsc_early_khz= gives the kernel
		# that rate (no PIT/HPET calibration loop, which often fails under
		# emulation and then takes 0.1 s) and lpj= presets the delay loop
		# from it (at HZ=250, which these kernels and Debian's use), so the
		# second CPU does not measure it.  On a host whose TSC is constant,
		# tsc=reliable keeps the TSC as the guest's clocksource: the emulated
		# CPU has no invariant-TSC bit, so the kernel would call it
		# unsynchronised and read the time from an emulated timer.
		QEMU_BIN=qemu-system-x86_64
		QEMU_MACHINE="-M microvm -nodefaults -cpu max"
		local khz
		khz=$(awk '/^cpu MHz/ { printf "%d", $4 * 1000; exit }' /proc/cpuinfo 2>/dev/null)
		CONSOLE=ttyS0 KERNEL_APPEND="${khz:+tsc_early_khz=$khz lpj=$((khz * 4))}"
		if grep -qw constant_tsc /proc/cpuinfo 2>/dev/null; then
			KERNEL_APPEND="$KERNEL_APPEND tsc=reliable"
		fi ;;
	arm64)
		K_ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu- GNU_TRIPLET=aarch64-linux-gnu
		MUSL_TRIPLET=aarch64-linux-musl DEB_ARCH=arm64 DEB_SUITE=bookworm UAPI_LINE=6.1
		K_IMAGE=arch/arm64/boot/Image K_IMAGE_TARGET=Image
		QEMU_BIN=qemu-system-aarch64
		QEMU_MACHINE="-M virt -cpu max,pauth-impdef=on"
		CONSOLE=ttyAMA0 KERNEL_APPEND= ;;
	riscv64)
		# riscv64 is not a bookworm architecture: its .debs come from trixie,
		# whose liburing wants UAPI headers newer than 6.1's.
		K_ARCH=riscv CROSS_COMPILE=riscv64-linux-gnu- GNU_TRIPLET=riscv64-linux-gnu
		MUSL_TRIPLET=riscv64-linux-musl DEB_ARCH=riscv64 DEB_SUITE=trixie UAPI_LINE=6.12
		K_IMAGE=arch/riscv/boot/Image K_IMAGE_TARGET=Image
		QEMU_BIN=qemu-system-riscv64 QEMU_MACHINE="-M virt -bios default"
		CONSOLE=ttyS0 KERNEL_APPEND= ;;
	esac
}

# The Debian archive URI this machine already uses, for private apt states.
debian_uri() {
	local uri
	uri=$(awk '/^URIs:/ && $2 ~ /debian\/?$/ {print $2; exit}' \
		/etc/apt/sources.list.d/*.sources 2>/dev/null)
	[ -n "$uri" ] || uri=$(awk '$1 == "deb" && $3 == "bookworm" {print $2; exit}' \
		/etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null)
	echo "${uri:-http://deb.debian.org/debian}"
}

# apt_download SUITE ARCH DESTDIR PKG... : fetch .debs for a foreign
# architecture or suite without touching dpkg's configuration.
apt_download() {
	local suite=$1 arch=$2 dest=$3 state
	shift 3
	state=$CACHE/apt/$suite-$arch
	mkdir -p "$state/lists/partial" "$state/archives/partial" "$dest"
	if [ ! -f "$state/sources.list" ]; then
		echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $(debian_uri) $suite main" \
			>"$state/sources.list"
	fi
	local o=(-q -oAPT::Architecture="$arch" -oAPT::Architectures="$arch"
		-oDir::State::Lists="$state/lists" -oDir::Cache="$state"
		-oDir::Etc::SourceList="$state/sources.list" -oDir::Etc::SourceParts=/dev/null
		-oDebug::NoLocking=1)
	# Refresh the package lists at most once a day.
	if [ -z "$(find "$state/lists" -maxdepth 1 -name '*Packages*' -mtime -1 2>/dev/null)" ]; then
		apt-get "${o[@]}" update >"$state/update.log" 2>&1 ||
			die "apt-get update for $suite/$arch failed, see $state/update.log"
	fi
	(cd "$dest" && apt-get "${o[@]}" download "$@" 2>&1 | grep -v -e '^Get:' -e '_apt' >&2) ||
		true
	for p in "$@"; do
		ls "$dest"/"${p}"_*.deb >/dev/null 2>&1 || die "could not download $p ($suite/$arch)"
	done
}
