// SPDX-License-Identifier: GPL-2.0
/*
 * ABI layout: the records and ioctl arguments have the same size, field
 * offsets and ioctl numbers on every architecture, with no padding holes.
 */
#include <stddef.h>

#include "memnotify_test.h"

#define OFF(s, f, o) _Static_assert(offsetof(struct s, f) == (o), #s "." #f)

_Static_assert(sizeof(struct memnotify_event) == 64, "event size");
OFF(memnotify_event, type, 0);
OFF(memnotify_event, level, 4);
OFF(memnotify_event, source, 8);
OFF(memnotify_event, reserved, 12);
OFF(memnotify_event, seq, 16);
OFF(memnotify_event, timestamp_ns, 24);
OFF(memnotify_event, reclaim_pages, 32);
OFF(memnotify_event, free_pages, 40);
OFF(memnotify_event, avail_pages, 48);
OFF(memnotify_event, dropped, 56);
_Static_assert(sizeof(struct memnotify_event) % 8 == 0, "event align");

_Static_assert(sizeof(struct memnotify_version) == 16, "version size");
OFF(memnotify_version, abi_version, 0);
OFF(memnotify_version, record_size, 4);
OFF(memnotify_version, event_mask, 8);
OFF(memnotify_version, reserved, 12);

_Static_assert(sizeof(struct memnotify_idle) == 8, "idle size");
OFF(memnotify_idle, period_ms, 0);
OFF(memnotify_idle, threshold_ppm, 4);

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
OFF(memnotify_inject, reclaim_pages, 16);

/* The generic _IOC encoding used by x86_64, arm64 and riscv64. */
_Static_assert(MEMNOTIFY_IOC_GET_VERSION == 0x8010B900u, "GET_VERSION");
_Static_assert(MEMNOTIFY_IOC_SET_MASK == 0x4004B901u, "SET_MASK");
_Static_assert(MEMNOTIFY_IOC_GET_MASK == 0x8004B902u, "GET_MASK");
_Static_assert(MEMNOTIFY_IOC_SET_IDLE == 0x4008B903u, "SET_IDLE");
_Static_assert(MEMNOTIFY_IOC_GET_IDLE == 0x8008B904u, "GET_IDLE");
_Static_assert(MEMNOTIFY_IOC_SET_CACHE == 0x4008B905u, "SET_CACHE");
_Static_assert(MEMNOTIFY_IOC_GET_CACHE == 0x8008B906u, "GET_CACHE");
_Static_assert(MEMNOTIFY_IOC_INJECT == 0x4018B907u, "INJECT");
_Static_assert(MEMNOTIFY_IOC_SET_THRESHOLDS == 0x4010B908u, "SET_THRESHOLDS");
_Static_assert(MEMNOTIFY_IOC_GET_THRESHOLDS == 0x8010B909u, "GET_THRESHOLDS");

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
	EXPECT_EQ(0, ev.reserved);
	EXPECT_EQ(1, ev.seq);
	EXPECT_LE(before, ev.timestamp_ns);
	EXPECT_GE(now_ns(), ev.timestamp_ns);
	EXPECT_EQ(0, ev.reclaim_pages);
	EXPECT_LT(0, ev.free_pages);
	EXPECT_LT(0, ev.avail_pages);
	EXPECT_GE((uint64_t)mem_total_pages(), ev.avail_pages);
	EXPECT_EQ(0, ev.dropped);
	/* Nothing written past the record. */
	for (size_t i = MN_REC; i < sizeof(buf); i++)
		ASSERT_EQ(0xaa, buf[i]);
	close(fd);
}

TEST_HARNESS_MAIN
