# SPDX-License-Identifier: GPL-2.0
# memnotify (kernel module), liballoc (allocator) and the Kimigayo test
# rootfs booted under QEMU.  `make help` lists the targets; README.md explains.

ARCH ?= x86_64
KERNEL ?= 6.1
# The arches, the kernels and the ARCH-KERNEL pairs `make qemu-test-all`
# boots (TARGETS=... on the command line picks others) come from the one
# table, qemu/targets.sh.
targets_table = $(strip $(shell bash -c '. qemu/targets.sh && echo $$$(1)'))
ARCHES := $(call targets_table,VALID_ARCHES)
KERNELS := $(call targets_table,VALID_KERNELS)
TARGETS := $(call targets_table,TEST_TARGETS)
ifeq ($(TARGETS),)
$(error no targets from qemu/targets.sh)
endif

ifeq ($(filter $(ARCH),$(ARCHES)),)
$(error unknown ARCH '$(ARCH)'; valid: $(ARCHES))
endif
ifeq ($(filter $(KERNEL),$(KERNELS)),)
$(error unknown KERNEL '$(KERNEL)'; valid: $(KERNELS))
endif

# Kernel builds, sources and foreign .debs live outside the repository, so
# fresh clones reuse them.
CACHE ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/memnotify
export CACHE
B := build
space := $(subst ,, )
comma := ,
KSFT_DIR := $(CACHE)/src/linux-6.1/tools/testing/selftests
musl_cc = $(CACHE)/sysroot/$(1)/bin/musl-cc
# liballoc's make variables for a static musl build for arch $(1).
musl_liballoc = TARGET=musl CC=$(call musl_cc,$(1)) AR=$(CACHE)/sysroot/$(1)/bin/musl-ar \
	KSFT_DIR=$(KSFT_DIR) UAPI_INC=$(CACHE)/sysroot/$(1)/uapi/include

# The host's kernel build tree for plain `make`: the running kernel's if it
# has one, else the newest installed Debian linux-headers-*-amd64.
KDIR ?= $(firstword $(wildcard /lib/modules/$(shell uname -r)/build) \
	$(lastword $(sort $(wildcard /usr/src/linux-headers-*-amd64))))

# Everything `make deps` installs (Debian 12 package names).
DEPS := gcc g++ make clang python3 xz-utils zstd rsync flex bison bc kmod \
	libelf-dev libssl-dev linux-source-6.1 linux-headers-amd64 \
	gcc-aarch64-linux-gnu gcc-riscv64-linux-gnu musl-tools musl-dev \
	busybox-static liburing-dev qemu-system-x86 qemu-system-arm \
	qemu-system-misc opensbi libmimalloc-dev libjemalloc-dev \
	libgoogle-perftools-dev hyperfine gnuplot-nox dkms man-db groff-base pkg-config \
	clang-14 libclang-rt-14-dev valgrind
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

SELFTEST_CFLAGS := -std=gnu11 -Os -s -D_GNU_SOURCE -Wall -Wextra -Werror \
	-static -isystem $(KSFT_DIR) -Iinclude/uapi -Iinclude
SELFTEST_SRCS := $(wildcard selftests/*/*.c)
TOOL_SRCS := $(wildcard tools/*.c)
# The tools the VM images carry (liballoc-stat serves preloaded glibc
# processes on a host; the images' programs are static musl).
IMAGE_TOOL_SRCS := tools/memnotify-watch.c
is_bench = $(filter bench_%,$(notdir $(1)))
TEST_SRCS := $(foreach f,$(SELFTEST_SRCS),$(if $(call is_bench,$(f)),,$(f)))
BENCH_SRCS := $(foreach f,$(SELFTEST_SRCS),$(if $(call is_bench,$(f)),$(f)))

.PHONY: all module liballoc deps help clean kernel kernels module-target \
	checkpatch bench-boot bench-notify bench-alloc bench-pressure fuzz-alloc soak rootfs rootfs-size qemu-test qemu-test-all qemu-shell check check-host check-interrupt demo FORCE
.DEFAULT_GOAL := all

all: module liballoc

help:
	@echo "make              build memnotify.ko for KDIR (default: this machine's headers) and liballoc"
	@echo "make deps         install the Debian packages everything here needs"
	@echo "make check        host tests, then every selftest on all QEMU targets"
	@echo "make demo         build, boot the x86_64 VM and show memnotify and liballoc at work"
	@echo "make qemu-test    ARCH=$(subst $(space),|,$(ARCHES)) KERNEL=$(subst $(space),|,$(KERNELS)): one target"
	@echo "make qemu-test-all   all targets: $(TARGETS)"
	@echo "make qemu-shell   ARCH=... KERNEL=...: a shell in the 'standard' image"
	@echo "make rootfs-size  image sizes per arch and variant, bytes per file"
	@echo "make bench-boot   boot time and idle memory of every target, BOOTS=5 boots each"
	@echo "make bench-notify memnotify's delivery latency vs PSI, in the x86_64 VM"
	@echo "make bench-alloc  liballoc vs glibc, musl, mimalloc, jemalloc, tcmalloc on this host"
	@echo "make bench-pressure  the demo's scenario with liballoc, glibc, mimalloc, jemalloc in the x86_64 VM"
	@echo "make fuzz-alloc   liballoc's libFuzzer harness, FUZZ_SECONDS=60"
	@echo "make soak         a threaded soak of liballoc, SOAK_SECONDS=600 SOAK_THREADS=8"
	@echo "KDIR=/path/to/kernel/build builds the module against another kernel tree"

# ---- the host build -------------------------------------------------------

module:
	@test -n "$(KDIR)" || { echo "no kernel headers found: run 'make deps' or pass KDIR=/path/to/kernel/build"; exit 1; }
	$(MAKE) -C $(KDIR) M=$(CURDIR) W=1 modules

liballoc:
	$(MAKE) -C liballoc O=$(CURDIR)/$(B)/liballoc/host

deps:
	@missing=; for p in $(DEPS); do \
		dpkg-query -W -f='$${db:Status-Abbrev}' $$p 2>/dev/null | grep -q '^ii' || missing="$$missing $$p"; \
	done; \
	if [ -z "$$missing" ]; then \
		echo "deps: all $(words $(DEPS)) Debian packages are installed"; \
	else \
		echo "deps: installing$$missing"; \
		$(SUDO) apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q --no-install-recommends $$missing; \
	fi

# ---- kernels and modules per target ----------------------------------------

kernel:
	@qemu/kernel.sh $(ARCH) $(KERNEL) >/dev/null

kernels:
	@for t in $(TARGETS); do qemu/kernel.sh $${t%%-*} $${t#*-} >/dev/null || exit 1; done

$(B)/%/memnotify.ko: FORCE
	@qemu/module.sh $(firstword $(subst -, ,$*)) $(patsubst $(firstword $(subst -, ,$*))-%,%,$*) \
		$(CURDIR)/$(B)/$*/mod >/dev/null
	@cp $(B)/$*/mod/kmod/memnotify.ko $@

.PRECIOUS: $(B)/%/memnotify.ko
$(B)/%/modules.cpio.gz: $(B)/%/memnotify.ko
	@rootfs/stage.sh modules $@ $(firstword $(subst -, ,$*)) $<

# ---- userland per arch: static musl programs -------------------------------

$(KSFT_DIR)/kselftest_harness.h:
	@qemu/sources.sh 6.1 >/dev/null

SUITES := $(sort $(patsubst selftests/%/,%,$(dir $(TEST_SRCS))))
suite_programs = $(basename $(notdir $(filter selftests/$(1)/%,$(TEST_SRCS))))

# suite_rules ARCH SUITE: the suite's multi-call binary.
define suite_rules
$(B)/$(1)/tests/$(2)/.all: $(patsubst selftests/%.c,$(B)/$(1)/obj/%.o,$(filter selftests/$(2)/%,$(TEST_SRCS))) \
		selftests/multicall.c
	@mkdir -p $$(@D)
	$(call musl_cc,$(1)) $(SELFTEST_CFLAGS) '-DPROGRAMS=$(foreach p,$(call suite_programs,$(2)),X($(p)))' \
		selftests/multicall.c $$(filter %.o,$$^) -o $$@ -luring -lpthread
endef

define arch_rules
$(call musl_cc,$(1)):
	@rootfs/sysroot.sh $(1) >/dev/null

$(B)/$(1)/tests/%: selftests/%.c $(wildcard selftests/*/*.h) include/uapi/linux/memnotify.h \
		$(KSFT_DIR)/kselftest_harness.h | $(call musl_cc,$(1))
	@mkdir -p $$(@D)
	$(call musl_cc,$(1)) $(SELFTEST_CFLAGS) $$< -o $$@ -luring -lpthread

$(B)/$(1)/init: rootfs/init.c | $(call musl_cc,$(1))
	@mkdir -p $$(@D)
	$(call musl_cc,$(1)) -std=gnu11 -Os -s -static -Wall -Wextra -Werror $$< -o $$@

# Command-line tools (tools/NAME.c) for the images' /bin.
$(B)/$(1)/bin/%: tools/%.c include/uapi/linux/memnotify.h | $(call musl_cc,$(1))
	@mkdir -p $$(@D)
	$(call musl_cc,$(1)) -std=gnu11 -O2 -static -D_GNU_SOURCE -Wall -Wextra -Werror -Iinclude/uapi -Iinclude $$< -o $$@

$(1)-tools := $(patsubst tools/%.c,$(B)/$(1)/bin/%,$(IMAGE_TOOL_SRCS))
# The images carry one binary per suite, tests/SUITE/.all (selftests/multicall.c),
# and a symlink to it per program.
$(B)/$(1)/obj/%.o: selftests/%.c $(wildcard selftests/*/*.h) include/uapi/linux/memnotify.h \
		$(KSFT_DIR)/kselftest_harness.h | $(call musl_cc,$(1))
	@mkdir -p $$(@D)
	$(call musl_cc,$(1)) $(SELFTEST_CFLAGS) -Dmain=ksft_main_$$(notdir $$*) -c $$< -o $$@
	@# The harness defines a few global symbols in every program: keep them local.
	@$(patsubst arm64,aarch64,$(1))-linux-gnu-objcopy -G ksft_main_$$(notdir $$*) $$@

$(foreach s,$(SUITES),$(eval $(call suite_rules,$(1),$(s))))
$(1)-tests := $(foreach s,$(SUITES),$(B)/$(1)/tests/$(s)/.all)
$(1)-bench := $(patsubst selftests/%.c,$(B)/$(1)/tests/%,$(BENCH_SRCS))

# liballoc's tests built for musl (FORCE: liballoc's own make decides).
$(B)/$(1)/liballoc/tests: FORCE | $(call musl_cc,$(1))
	@$(MAKE) -s -C liballoc $(call musl_liballoc,$(1)) O=$(CURDIR)/$(B)/$(1)/liballoc tests

# The images (rootfs/stage.sh says what goes where). minimal: init, the
# tests and liballoc's musl tests; standard adds BusyBox.
$(B)/$(1)/minimal.cpio.zst: $(B)/$(1)/init $$($(1)-tests) $$($(1)-tools) $(B)/$(1)/liballoc/tests FORCE
	@rootfs/stage.sh minimal $$@ $(B)/$(1)/init $(B)/$(1)/liballoc/tests \
		$(foreach s,$(SUITES),suite:$(B)/$(1)/tests/$(s)/.all:$(subst $(space),$(comma),$(call suite_programs,$(s)))) \
		$$(addprefix tool:,$$($(1)-tools))

# bench: init and the benchmark programs only, run from /bench.
$(B)/$(1)/bench.cpio.gz: $(B)/$(1)/init $$($(1)-bench) FORCE
	@rootfs/stage.sh bench $$@ $(B)/$(1)/init $(B)/$(1)/tests $$($(1)-bench)

$(B)/$(1)/standard.cpio.zst: $(B)/$(1)/minimal.cpio.zst FORCE
	@rootfs/stage.sh standard $$@ $(B)/$(1)/stage-minimal $(CACHE)/sysroot/$(1)/busybox
endef
$(foreach a,$(ARCHES),$(eval $(call arch_rules,$(a))))

# ---- QEMU ------------------------------------------------------------------

rootfs: $(B)/$(ARCH)/minimal.cpio.zst $(B)/$(ARCH)/standard.cpio.zst

# ---- image size and boot benchmark ------------------------------------------

# Sizes of both images per arch, then what each file of the minimal image
# costs in the compressed stream (rootfs/size.sh).
rootfs-size: $(foreach a,$(ARCHES),$(B)/$(a)/minimal.cpio.zst $(B)/$(a)/standard.cpio.zst)
	@rootfs/size.sh --table $(B) $(ARCHES)

# Boot time and idle memory of every target of qemu-test-all (or of
# BENCH_TARGETS), BOOTS boots each (a benchmark: it prints medians and
# asserts nothing timed).
BOOTS ?= 5
BENCH_TARGETS ?= $(TARGETS)
bench-boot: $(foreach a,$(ARCHES),$(B)/$(a)/minimal.cpio.zst $(B)/$(a)/standard.cpio.zst) \
		$(foreach t,$(BENCH_TARGETS),$(B)/$(t)/modules.cpio.gz)
	@qemu/bench-boot --boots $(BOOTS) $(BENCH_TARGETS)

# FUZZ_OPS=N (and FUZZ_SEED=N) lengthen the device fuzzer's run (and give each
# program up to an hour; QEMU_TIMEOUT bounds the whole run).
qemu-test: $(B)/$(ARCH)/minimal.cpio.zst $(B)/$(ARCH)-$(KERNEL)/modules.cpio.gz
	@qemu/run --arch $(ARCH) --kernel $(KERNEL) \
		$(if $(FUZZ_OPS)$(FUZZ_SEED),--append "kimigayo.timeout=3600 $(if $(FUZZ_OPS),FUZZ_OPS=$(FUZZ_OPS)) $(if $(FUZZ_SEED),FUZZ_SEED=$(FUZZ_SEED))") \
		--initrd $(B)/$(ARCH)/minimal.cpio.zst --initrd $(B)/$(ARCH)-$(KERNEL)/modules.cpio.gz

# Boots every target even when one fails, then prints the table.
qemu-test-all:
	@mkdir -p $(B)/logs && touch $(B)/logs/.all-start; rc=0; for t in $(TARGETS); do \
		$(MAKE) -s --no-print-directory qemu-test ARCH=$${t%%-*} KERNEL=$${t#*-} || rc=1; \
	done; \
	qemu/summary.sh $(TARGETS); exit $$rc

qemu-shell: $(B)/$(ARCH)/standard.cpio.zst $(B)/$(ARCH)-$(KERNEL)/modules.cpio.gz
	@qemu/run --shell --arch $(ARCH) --kernel $(KERNEL) --name $(ARCH)-$(KERNEL)-shell \
		--initrd $(B)/$(ARCH)/standard.cpio.zst --initrd $(B)/$(ARCH)-$(KERNEL)/modules.cpio.gz

# The module's notification-latency benchmark in the x86_64 VM (a benchmark,
# not a test: it prints figures and judges nothing but its own completion).
bench-notify: $(B)/x86_64/bench.cpio.gz $(B)/x86_64-6.1/modules.cpio.gz
	@qemu/run --arch x86_64 --kernel 6.1 --name x86_64-6.1-bench --append kimigayo.run=/bench \
		--initrd $(B)/x86_64/bench.cpio.gz --initrd $(B)/x86_64-6.1/modules.cpio.gz
	@sed -n 's/^# //p' $(B)/logs/x86_64-6.1-bench.log | sed 's/^# P //' | \
		grep -v -e '^#' -e '^TAP' -e '^1\.\.' -e '^ok ' -e '^kimigayo'

# ---- the README's two commands ---------------------------------------------

# The host's share of make check: liballoc's tests, a bounded run of its
# libFuzzer harness (FUZZ_SECONDS, 30 here) and memcheck over the test programs.
check-host: liballoc
	$(MAKE) -C liballoc O=$(CURDIR)/$(B)/liballoc/host check
	$(MAKE) -C liballoc O=$(CURDIR)/$(B)/liballoc/host fuzz FUZZ_SECONDS=$(or $(FUZZ_SECONDS),30)
	$(MAKE) -C liballoc O=$(CURDIR)/$(B)/liballoc/host valgrind

# liballoc's libFuzzer harness for FUZZ_SECONDS (default 60), seed FUZZ_SEED.
fuzz-alloc: liballoc
	$(MAKE) -C liballoc O=$(CURDIR)/$(B)/liballoc/host fuzz

# A threaded soak of liballoc (SOAK_SECONDS, default 600; not in make check).
soak: liballoc
	$(MAKE) -C liballoc O=$(CURDIR)/$(B)/liballoc/host soak

# liballoc against glibc, musl, mimalloc, jemalloc and tcmalloc on this host
# (a benchmark: it prints a table, see liballoc/README.md).
bench-alloc: liballoc
	$(MAKE) -C liballoc O=$(CURDIR)/$(B)/liballoc/host bench

# The OOM-avoidance scenario of `make demo` with liballoc, glibc, mimalloc and
# jemalloc (each with its default release policy) in the x86_64 VM, memnotify
# loaded (a benchmark: it prints a table, see liballoc/README.md). The image is
# glibc-based: the driver is built against this host's glibc and the image
# carries the shared libraries ldd names for it and for each allocator.
PRESSURE_REPS ?= 3
PRESSURE_LIBS := /usr/lib/x86_64-linux-gnu/libmimalloc.so.2 /usr/lib/x86_64-linux-gnu/libjemalloc.so.2
bench-pressure: liballoc $(B)/x86_64/init $(B)/x86_64-6.1/modules.cpio.gz
	@$(MAKE) -s --no-print-directory -C liballoc O=$(CURDIR)/$(B)/liballoc/host pressure
	@rootfs/stage.sh pressure $(B)/x86_64/pressure.cpio.gz $(B)/x86_64/init \
		$(B)/liballoc/host/bench/pressure $(B)/liballoc/host/liballoc.so $(PRESSURE_LIBS)
	@qemu/run --arch x86_64 --kernel 6.1 --name x86_64-6.1-pressure \
		--append "kimigayo.run=/bench pressure.reps=$(PRESSURE_REPS)" \
		--initrd $(B)/x86_64/pressure.cpio.gz --initrd $(B)/x86_64-6.1/modules.cpio.gz
	@mkdir -p $(B)/pressure && tr -d '\r' <$(B)/logs/x86_64-6.1-pressure.log | \
		sed -n 's/^# P \{0,1\}//p' | tee $(B)/pressure/pressure.txt

# Kernel style of the module and its ABI header, by the kernel's own script.
checkpatch: $(KSFT_DIR)/kselftest_harness.h
	@perl $(CACHE)/src/linux-6.1/scripts/checkpatch.pl --strict --no-tree --quiet \
		--ignore FILE_PATH_CHANGES -f $(filter-out %.mod.c,$(wildcard kmod/*.[ch])) \
		include/uapi/linux/memnotify.h && \
		echo "checkpatch --strict: kmod/ and include/uapi/linux/memnotify.h are clean"

# An interrupted qemu/run stops its VM at once (a stand-in for QEMU, no boot).
check-interrupt:
	@qemu/check-interrupt.sh

check: deps
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory checkpatch
	@$(MAKE) --no-print-directory check-host
	@$(MAKE) --no-print-directory check-install
	@$(MAKE) --no-print-directory check-interrupt
	@$(MAKE) --no-print-directory qemu-test-all

demo: deps
	@$(MAKE) --no-print-directory all
	@$(MAKE) -s --no-print-directory $(B)/x86_64/init $(B)/x86_64-6.1/modules.cpio.gz
	@$(MAKE) -s -C liballoc $(call musl_liballoc,x86_64) O=$(CURDIR)/$(B)/x86_64/liballoc demo
	@rootfs/stage.sh demo $(B)/x86_64/demo.cpio.gz $(B)/x86_64/init $(B)/x86_64/liballoc/demo/oom_demo
	@qemu/run --arch x86_64 --kernel 6.1 --name x86_64-6.1-demo --append kimigayo.run=/demo \
		--initrd $(B)/x86_64/demo.cpio.gz --initrd $(B)/x86_64-6.1/modules.cpio.gz
	@liballoc/demo/report.sh $(B)/logs/x86_64-6.1-demo.log $(B)/demo

clean:
	rm -rf $(B)
	@test -z "$(KDIR)" || $(MAKE) -s -C $(KDIR) M=$(CURDIR) clean

FORCE:

# ---- installation ----------------------------------------------------------
# make install [PREFIX=/usr/local] [DESTDIR=]: liballoc (.so.1 + .so link, .a),
# headers, liballoc.pc, man pages, the udev rule, the tools and the DKMS source
# tree. make modules_install [INSTALL_MOD_PATH=]: memnotify.ko the Kbuild way.
# make check-install: install into a scratch DESTDIR, build and run the
# example through pkg-config, lint the man pages, dkms build; "N passed, N failed".

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
MANDIR ?= $(PREFIX)/share/man
UDEVRULESDIR ?= /lib/udev/rules.d
MEMNOTIFY_VERSION := 1.0
DKMS_SRCDIR ?= /usr/src/memnotify-$(MEMNOTIFY_VERSION)
LIBALLOC_VERSION := 1.0.0
HOST_TOOL_CFLAGS := -std=gnu11 -O2 -D_GNU_SOURCE -Wall -Wextra -Werror -Iinclude/uapi -Iinclude
HOST_TOOLS := $(patsubst tools/%.c,$(B)/host-tools/%,$(TOOL_SRCS))
INSTALL ?= install

.PHONY: install modules_install uninstall check-install host-tools

$(B)/host-tools/%: tools/%.c include/uapi/linux/memnotify.h include/liballoc.h tools/stat_signal.h
	@mkdir -p $(@D)
	$(CC) $(HOST_TOOL_CFLAGS) $< -o $@

# The LD_PRELOAD helper behind liballoc-stat (signal and at-exit dumps).
$(B)/host-tools/liballoc-stat.so: tools/preload/liballoc-stat-preload.c include/liballoc.h tools/stat_signal.h
	@mkdir -p $(@D)
	$(CC) $(HOST_TOOL_CFLAGS) -fPIC -shared $< -o $@ -ldl -lpthread

host-tools: $(HOST_TOOLS) $(B)/host-tools/liballoc-stat.so

$(B)/liballoc/host/liballoc.pc: liballoc/liballoc.pc.in FORCE
	@mkdir -p $(@D)
	@sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' \
		-e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' -e 's|@VERSION@|$(LIBALLOC_VERSION)|g' $< > $@

install: liballoc host-tools $(B)/liballoc/host/liballoc.pc
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR)/pkgconfig \
		$(DESTDIR)$(INCLUDEDIR)/linux $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man3 \
		$(DESTDIR)$(MANDIR)/man4 \
		$(DESTDIR)$(UDEVRULESDIR) $(DESTDIR)$(DKMS_SRCDIR)/kmod \
		$(DESTDIR)$(DKMS_SRCDIR)/include/uapi/linux
	$(INSTALL) -m 755 $(B)/liballoc/host/liballoc.so $(DESTDIR)$(LIBDIR)/liballoc.so.1
	ln -sf liballoc.so.1 $(DESTDIR)$(LIBDIR)/liballoc.so
	$(INSTALL) -m 644 $(B)/liballoc/host/liballoc.a $(DESTDIR)$(LIBDIR)/liballoc.a
	$(INSTALL) -m 755 $(B)/host-tools/liballoc-stat.so $(DESTDIR)$(LIBDIR)/liballoc-stat.so
	$(INSTALL) -m 644 $(B)/liballoc/host/liballoc.pc $(DESTDIR)$(LIBDIR)/pkgconfig/liballoc.pc
	$(INSTALL) -m 644 include/liballoc.h $(DESTDIR)$(INCLUDEDIR)/liballoc.h
	$(INSTALL) -m 644 include/uapi/linux/memnotify.h $(DESTDIR)$(INCLUDEDIR)/linux/memnotify.h
	$(INSTALL) -m 755 $(HOST_TOOLS) $(DESTDIR)$(BINDIR)/
	$(INSTALL) -m 644 man/memnotify-watch.1 $(DESTDIR)$(MANDIR)/man1/memnotify-watch.1
	$(INSTALL) -m 644 man/liballoc.3 $(DESTDIR)$(MANDIR)/man3/liballoc.3
	$(INSTALL) -m 644 man/memnotify.4 $(DESTDIR)$(MANDIR)/man4/memnotify.4
	$(INSTALL) -m 644 udev/60-memnotify.rules $(DESTDIR)$(UDEVRULESDIR)/60-memnotify.rules
	$(INSTALL) -m 644 dkms.conf Kbuild $(DESTDIR)$(DKMS_SRCDIR)/
	$(INSTALL) -m 644 kmod/Kbuild kmod/*.c kmod/*.h $(DESTDIR)$(DKMS_SRCDIR)/kmod/
	rm -f $(DESTDIR)$(DKMS_SRCDIR)/kmod/*.mod.c
	$(INSTALL) -m 644 include/uapi/linux/memnotify.h $(DESTDIR)$(DKMS_SRCDIR)/include/uapi/linux/

modules_install:
	@test -n "$(KDIR)" || { echo "no kernel headers found: run 'make deps' or pass KDIR=/path/to/kernel/build"; exit 1; }
	$(MAKE) -C $(KDIR) M=$(CURDIR) modules_install

uninstall:
	rm -f $(DESTDIR)$(LIBDIR)/liballoc.so.1 $(DESTDIR)$(LIBDIR)/liballoc.so \
		$(DESTDIR)$(LIBDIR)/liballoc.a $(DESTDIR)$(LIBDIR)/liballoc-stat.so \
		$(DESTDIR)$(LIBDIR)/pkgconfig/liballoc.pc $(DESTDIR)$(INCLUDEDIR)/liballoc.h \
		$(DESTDIR)$(INCLUDEDIR)/linux/memnotify.h $(DESTDIR)$(MANDIR)/man3/liballoc.3 \
		$(DESTDIR)$(MANDIR)/man4/memnotify.4 $(DESTDIR)$(MANDIR)/man1/memnotify-watch.1 \
		$(DESTDIR)$(UDEVRULESDIR)/60-memnotify.rules \
		$(patsubst $(B)/host-tools/%,$(DESTDIR)$(BINDIR)/%,$(HOST_TOOLS))
	rm -rf $(DESTDIR)$(DKMS_SRCDIR)

check-install:
	@tools/check-install.sh $(CURDIR)/$(B)/install-check
