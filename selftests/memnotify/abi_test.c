// SPDX-License-Identifier: GPL-2.0
/*
 * ABI layout: the records and ioctl arguments have the same size, field
 * offsets and ioctl numbers on every architecture, with no padding holes.
 */
#include <stddef.h>

#include "memnotify_test.h"

#define OFF(s, f, o) _Static_assert(offsetof(struct s, f) == (o), #s "." #f)

_Static_assert(sizeof(struct memnotify_event) == 72, "event size");
OFF(memnotify_event, size, 0);
OFF(memnotify_event, version, 2);
OFF(memnotify_event, type, 3);
OFF(memnotify_event, level, 4);
OFF(memnotify_event, source, 5);
OFF(memnotify_event, flags, 6);
OFF(memnotify_event, seq, 8);
OFF(memnotify_event, timestamp_ns, 16);
_Static_assert(MEMNOTIFY_HEADER_SIZE == 24, "header size");
OFF(memnotify_event, reclaim_bytes, 24);
OFF(memnotify_event, request_seq, 32);
OFF(memnotify_event, cpu_ppm, 40);
OFF(memnotify_event, free_bytes, 48);
OFF(memnotify_event, avail_bytes, 56);
OFF(memnotify_event, dropped, 64);
_Static_assert(sizeof(struct memnotify_event) % 8 == 0, "event align");

_Static_assert(sizeof(struct memnotify_version) == 16, "version size");
OFF(memnotify_version, abi_version, 0);
OFF(memnotify_version, record_size, 4);
OFF(memnotify_version, event_mask, 8);
OFF(memnotify_version, reserved, 12);

_Static_assert(sizeof(struct memnotify_idle) == 16, "idle size");
_Static_assert(MEMNOTIFY_IDLE_SIZE_VER1 == 16, "idle size 1");
_Static_assert(MEMNOTIFY_IDLE_SIZE_VER0 == 8, "idle size 0");
OFF(memnotify_idle, period_ms, 0);
OFF(memnotify_idle, threshold_ppm, 4);
OFF(memnotify_idle, pidfd, 8);
OFF(memnotify_idle, flags, 12);
_Static_assert(MEMNOTIFY_IDLE_TARGET_PIDFD == 1, "idle target by pidfd");
_Static_assert(MEMNOTIFY_IDLE_KEEP_TARGET == 2, "idle target kept");

_Static_assert(sizeof(struct memnotify_thresholds) == 16, "thresholds size");
OFF(memnotify_thresholds, low_permille, 0);
OFF(memnotify_thresholds, medium_permille, 4);
OFF(memnotify_thresholds, critical_permille, 8);
OFF(memnotify_thresholds, reserved, 12);

_Static_assert(sizeof(struct memnotify_inject) == 24, "inject size");
OFF(memnotify_inject, type, 0);
OFF(memnotify_inject, level, 4);
OFF(memnotify_inject, flags, 8);
OFF(memnotify_inject, reserved, 12);
OFF(memnotify_inject, reclaim_bytes, 16);

/* The generic _IOC encoding used by x86_64, arm64 and riscv64. */
_Static_assert(MEMNOTIFY_IOC_GET_VERSION == 0x8010B900u, "GET_VERSION");
_Static_assert(MEMNOTIFY_IOC_SET_MASK == 0x4004B901u, "SET_MASK");
_Static_assert(MEMNOTIFY_IOC_GET_MASK == 0x8004B902u, "GET_MASK");
_Static_assert(MEMNOTIFY_IOC_SET_IDLE == 0x4010B903u, "SET_IDLE");
_Static_assert(MEMNOTIFY_IOC_GET_IDLE == 0x8010B904u, "GET_IDLE");
_Static_assert(MEMNOTIFY_EVENT_EXITED == 0x10u, "EXITED");
_Static_assert(MEMNOTIFY_EVENT_ALL == 0x1fu, "event mask");
_Static_assert(MEMNOTIFY_IOC_SET_CACHE == 0x4010B905u, "SET_CACHE");
_Static_assert(MEMNOTIFY_IOC_RELEASED == 0x4010B906u, "RELEASED");
_Static_assert(MEMNOTIFY_IOC_INJECT == 0x4018B907u, "INJECT");
_Static_assert(MEMNOTIFY_IOC_SET_THRESHOLDS == 0x4010B908u, "SET_THRESHOLDS");
_Static_assert(MEMNOTIFY_IOC_GET_THRESHOLDS == 0x8010B909u, "GET_THRESHOLDS");
_Static_assert(MEMNOTIFY_IOC_GET_STATE == 0x8078B90Au, "GET_STATE");

TEST(version)
{
	struct memnotify_version v;
	int fd = mn_open();

	ASSERT_LE(0, fd);
	memset(&v, 0xaa, sizeof(v));
	ASSERT_EQ(0, ioctl(fd, MEMNOTIFY_IOC_GET_VERSION, &v));
	EXPECT_EQ(MEMNOTIFY_ABI_VERSION, v.abi_version);
	EXPECT_EQ(sizeof(struct memnotify_event), v.record_size);
	EXPECT_EQ(MEMNOTIFY_EVENT_ALL, v.event_mask);
	EXPECT_EQ(0, v.reserved);
	close(fd);
}

/* Every byte of a record comes from the kernel: no stale or stack bytes. */
TEST(record_fully_initialised)
{
	unsigned char buf[2 * MN_REC];
	struct memnotify_event ev;
	uint64_t before = now_ns();
	int fd = mn_open_nb();

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, mn_inject(fd, MEMNOTIFY_EVENT_PRESSURE,
			       MEMNOTIFY_LEVEL_MEDIUM, 0, 0));
	memset(buf, 0xaa, sizeof(buf));
	ASSERT_EQ((ssize_t)MN_REC, read(fd, buf, sizeof(buf)));
	memcpy(&ev, buf, sizeof(ev));
	EXPECT_EQ(MEMNOTIFY_EVENT_PRESSURE, ev.type);
	EXPECT_EQ(MEMNOTIFY_LEVEL_MEDIUM, ev.level);
	EXPECT_EQ(MEMNOTIFY_SOURCE_INJECT, ev.source);
	EXPECT_EQ(MN_REC, ev.size);
	EXPECT_EQ(MEMNOTIFY_ABI_VERSION, ev.version);
	EXPECT_EQ(0, ev.flags);
	EXPECT_EQ(1, ev.seq);
	EXPECT_LE(before, ev.timestamp_ns);
	EXPECT_GE(now_ns(), ev.timestamp_ns);
	EXPECT_EQ(0, ev.reclaim_bytes);
	EXPECT_EQ(0, ev.request_seq);
	EXPECT_EQ(0, ev.cpu_ppm);
	EXPECT_LT(0, ev.free_bytes);
	EXPECT_LT(0, ev.avail_bytes);
	EXPECT_GE((uint64_t)mem_total_pages() * sysconf(_SC_PAGESIZE),
		  ev.avail_bytes);
	EXPECT_EQ(0, ev.dropped);
	/* Nothing written past the record. */
	for (size_t i = MN_REC; i < sizeof(buf); i++)
		ASSERT_EQ(0xaa, buf[i]);
	close(fd);
}

/*
 * Structure arguments grow by size: the size is the command's _IOC_SIZE.
 * A smaller structure (an older or broken caller) is refused with EINVAL;
 * a larger one is accepted when its tail is zero (input) and gets a
 * cleared tail (output); a non-zero input tail is refused with E2BIG.
 */
#define GROWN(cmd, size)	_IOC(_IOC_DIR(cmd), MEMNOTIFY_IOC_MAGIC, \
				     _IOC_NR(cmd), (size))

TEST(struct_sizes_short_refused)
{
	static const unsigned int cmds[] = {
		MEMNOTIFY_IOC_GET_VERSION, MEMNOTIFY_IOC_SET_CACHE,
		MEMNOTIFY_IOC_RELEASED, MEMNOTIFY_IOC_INJECT,
		MEMNOTIFY_IOC_SET_THRESHOLDS, MEMNOTIFY_IOC_GET_THRESHOLDS,
		MEMNOTIFY_IOC_GET_STATE,
	};
	unsigned char buf[256] = { 0 };
	int fd = mn_open();

	ASSERT_LE(0, fd);
	for (unsigned int i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		unsigned int size = _IOC_SIZE(cmds[i]);

		/* The v1 sizes of the records' era and anything shorter. */
		EXPECT_EQ(-1, ioctl(fd, GROWN(cmds[i], size - 8), buf))
			TH_LOG("cmd %#x", cmds[i]);
		EXPECT_EQ(EINVAL, errno) TH_LOG("cmd %#x", cmds[i]);
		EXPECT_EQ(-1, ioctl(fd, GROWN(cmds[i], 0), buf));
		EXPECT_EQ(EINVAL, errno);
	}
	/* struct memnotify_idle: below its first size and between sizes. */
	for (unsigned int size = 0; size < MEMNOTIFY_IDLE_SIZE_VER1; size += 4) {
		if (size == MEMNOTIFY_IDLE_SIZE_VER0)
			continue;
		EXPECT_EQ(-1, ioctl(fd, GROWN(MEMNOTIFY_IOC_SET_IDLE, size), buf));
		EXPECT_EQ(EINVAL, errno) TH_LOG("SET_IDLE size %u", size);
		EXPECT_EQ(-1, ioctl(fd, GROWN(MEMNOTIFY_IOC_GET_IDLE, size), buf));
		EXPECT_EQ(EINVAL, errno) TH_LOG("GET_IDLE size %u", size);
	}
	close(fd);
}

/*
 * struct memnotify_idle grew within version 2: its first size (period and
 * threshold) still works, and sets the opener as the target.
 */
TEST(idle_first_size)
{
	__u32 old[4] = { 2000, 5000, 0xaaaaaaaa, 0xaaaaaaaa };
	struct memnotify_idle got;
	int fd = mn_open();

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ioctl(fd, GROWN(MEMNOTIFY_IOC_SET_IDLE,
				     MEMNOTIFY_IDLE_SIZE_VER0), old));
	ASSERT_EQ(0, ioctl(fd, MEMNOTIFY_IOC_GET_IDLE, &got));
	EXPECT_EQ(2000, got.period_ms);
	EXPECT_EQ(5000, got.threshold_ppm);
	EXPECT_EQ(0, got.pidfd);
	EXPECT_EQ(MEMNOTIFY_IDLE_KEEP_TARGET, got.flags);
	memset(old, 0, sizeof(old));
	old[2] = old[3] = 0xaaaaaaaa;
	ASSERT_EQ(0, ioctl(fd, GROWN(MEMNOTIFY_IOC_GET_IDLE,
				     MEMNOTIFY_IDLE_SIZE_VER0), old));
	EXPECT_EQ(2000, old[0]);
	EXPECT_EQ(5000, old[1]);
	/* Nothing written past the first size. */
	EXPECT_EQ(0xaaaaaaaa, old[2]);
	EXPECT_EQ(0xaaaaaaaa, old[3]);
	close(fd);
}

TEST(struct_sizes_grown_output)
{
	unsigned char buf[sizeof(struct memnotify_state) + 32];
	struct memnotify_state st;
	int fd = mn_open();

	ASSERT_LE(0, fd);
	memset(buf, 0xaa, sizeof(buf));
	ASSERT_EQ(0, ioctl(fd, GROWN(MEMNOTIFY_IOC_GET_STATE, sizeof(buf)), buf));
	memcpy(&st, buf, sizeof(st));
	EXPECT_EQ(0, st.reserved);
	EXPECT_EQ(0, st.reserved2);
	for (size_t i = sizeof(st); i < sizeof(buf); i++)
		ASSERT_EQ(0, buf[i]);
	memset(buf, 0xaa, sizeof(buf));
	ASSERT_EQ(0, ioctl(fd, GROWN(MEMNOTIFY_IOC_GET_VERSION, 24), buf));
	for (size_t i = sizeof(struct memnotify_version); i < 24; i++)
		ASSERT_EQ(0, buf[i]);
	close(fd);
}

TEST(struct_sizes_grown_input)
{
	struct {
		struct memnotify_released r;
		__u64 tail[2];
	} big = { .r.bytes = 4096 };
	struct {
		struct memnotify_idle idle;
		__u64 tail;
	} idle = { .idle = { .period_ms = 2000, .threshold_ppm = 5000 } };
	struct memnotify_idle got;
	struct memnotify_state st;
	int fd = mn_open();

	ASSERT_LE(0, fd);
	/* Zero tail: accepted and acted on. */
	ASSERT_EQ(0, ioctl(fd, GROWN(MEMNOTIFY_IOC_RELEASED, sizeof(big)), &big));
	ASSERT_EQ(0, mn_get_state(fd, &st));
	EXPECT_EQ(4096, st.released_bytes);
	EXPECT_EQ(1, st.releases);
	ASSERT_EQ(0, ioctl(fd, GROWN(MEMNOTIFY_IOC_SET_IDLE, sizeof(idle)), &idle));
	ASSERT_EQ(0, ioctl(fd, MEMNOTIFY_IOC_GET_IDLE, &got));
	EXPECT_EQ(2000, got.period_ms);
	/* Non-zero tail: refused, nothing changes. */
	big.tail[1] = 1;
	EXPECT_EQ(-1, ioctl(fd, GROWN(MEMNOTIFY_IOC_RELEASED, sizeof(big)), &big));
	EXPECT_EQ(E2BIG, errno);
	idle.tail = 1;
	idle.idle.period_ms = 3000;
	EXPECT_EQ(-1, ioctl(fd, GROWN(MEMNOTIFY_IOC_SET_IDLE, sizeof(idle)), &idle));
	EXPECT_EQ(E2BIG, errno);
	ASSERT_EQ(0, ioctl(fd, MEMNOTIFY_IOC_GET_IDLE, &got));
	EXPECT_EQ(2000, got.period_ms);
	ASSERT_EQ(0, mn_get_state(fd, &st));
	EXPECT_EQ(4096, st.released_bytes);
	EXPECT_EQ(1, st.releases);
	close(fd);
}

/* Records carry their size and version; a reader can walk them by size. */
TEST(records_walk_by_size)
{
	unsigned char buf[4 * MN_REC];
	struct memnotify_event ev;
	size_t off = 0;
	ssize_t n;
	int i = 0, fd = mn_open_nb();

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, mn_set_mask(fd, MEMNOTIFY_EVENT_ALL));
	ASSERT_EQ(0, mn_inject(fd, MEMNOTIFY_EVENT_PRESSURE,
			       MEMNOTIFY_LEVEL_LOW, 0, 0));
	ASSERT_EQ(0, mn_inject(fd, MEMNOTIFY_EVENT_IDLE, 0, 0, 0));
	ASSERT_EQ(0, mn_inject(fd, MEMNOTIFY_EVENT_RECLAIM, 0, 0, 8192));
	n = read(fd, buf, sizeof(buf));
	ASSERT_EQ((ssize_t)(3 * MN_REC), n);
	while (off + MEMNOTIFY_HEADER_SIZE <= (size_t)n) {
		memcpy(&ev, buf + off, sizeof(ev));
		EXPECT_EQ(MEMNOTIFY_ABI_VERSION, ev.version);
		ASSERT_LE(MEMNOTIFY_HEADER_SIZE, ev.size);
		off += ev.size;
		i++;
	}
	EXPECT_EQ(3, i);
	EXPECT_EQ((size_t)n, off);
	close(fd);
}

TEST_HARNESS_MAIN
