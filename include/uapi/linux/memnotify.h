/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * memnotify: memory-pressure, reclaim and idle notifications through the
 * character device /dev/memnotify.
 *
 * Every open() of /dev/memnotify is an independent subscriber with its own
 * bounded queue of fixed-size records (struct memnotify_event).  read()
 * returns whole records only; poll() reports EPOLLIN while records are
 * queued and additionally EPOLLPRI while a CRITICAL pressure record is
 * queued.
 *
 * All structures use fixed-width types, contain no implicit padding and are
 * multiples of 8 bytes, so the layout is identical on every architecture and
 * for 32-bit callers.  Reserved fields must be zero on input and are zero on
 * output.
 *
 * ioctl magic number: 0xB9 (MEMNOTIFY_IOC_MAGIC), commands 0x00-0x0F.
 */
#ifndef _UAPI_LINUX_MEMNOTIFY_H
#define _UAPI_LINUX_MEMNOTIFY_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define MEMNOTIFY_ABI_VERSION		1

/* Event types; also the bits of the per-fd mask (MEMNOTIFY_IOC_SET_MASK). */
#define MEMNOTIFY_EVENT_PRESSURE	0x1u	/* memory pressure, see levels */
#define MEMNOTIFY_EVENT_RECLAIM		0x2u	/* please free reclaim_pages */
#define MEMNOTIFY_EVENT_IDLE		0x4u	/* thread group went idle */
#define MEMNOTIFY_EVENT_ACTIVE		0x8u	/* thread group is busy again */
#define MEMNOTIFY_EVENT_ALL		0xfu
/* Mask of a freshly opened fd: IDLE/ACTIVE tracking is opt-in. */
#define MEMNOTIFY_MASK_DEFAULT \
	(MEMNOTIFY_EVENT_PRESSURE | MEMNOTIFY_EVENT_RECLAIM)

/* Pressure levels (struct memnotify_event.level for PRESSURE records). */
#define MEMNOTIFY_LEVEL_NONE		0u	/* used by non-pressure records */
#define MEMNOTIFY_LEVEL_LOW		1u
#define MEMNOTIFY_LEVEL_MEDIUM		2u
#define MEMNOTIFY_LEVEL_CRITICAL	3u

/* What produced a record (struct memnotify_event.source). */
#define MEMNOTIFY_SOURCE_SHRINKER	1u	/* the kernel called the shrinker */
#define MEMNOTIFY_SOURCE_THRESHOLD	2u	/* available memory below a threshold */
#define MEMNOTIFY_SOURCE_OOM		3u	/* OOM path entered, a kill may follow */
#define MEMNOTIFY_SOURCE_IDLE		4u	/* idle tracking of the subscriber */
#define MEMNOTIFY_SOURCE_INJECT		5u	/* MEMNOTIFY_IOC_INJECT */

/**
 * struct memnotify_event - one record as returned by read()
 * @type:		one MEMNOTIFY_EVENT_* value
 * @level:		MEMNOTIFY_LEVEL_* for PRESSURE, else MEMNOTIFY_LEVEL_NONE
 * @source:		MEMNOTIFY_SOURCE_*
 * @reserved:		zero
 * @seq:		per-fd sequence number, starting at 1; a gap means
 *			records were dropped on overflow
 * @timestamp_ns:	CLOCK_MONOTONIC time the event was raised, in ns
 * @reclaim_pages:	RECLAIM: pages the kernel asks this subscriber to
 *			release (records not yet read are merged); IDLE and
 *			ACTIVE: CPU use over the idle period in parts per
 *			million of one CPU; otherwise zero
 * @free_pages:		free pages in the system when the event was raised
 * @avail_pages:	available pages (MemAvailable) at that time
 * @dropped:		total records this fd has lost to queue overflow,
 *			sampled when the record is read
 */
struct memnotify_event {
	__u32 type;
	__u32 level;
	__u32 source;
	__u32 reserved;
	__u64 seq;
	__u64 timestamp_ns;
	__u64 reclaim_pages;
	__u64 free_pages;
	__u64 avail_pages;
	__u64 dropped;
};

/**
 * struct memnotify_version - MEMNOTIFY_IOC_GET_VERSION
 * @abi_version:	MEMNOTIFY_ABI_VERSION
 * @record_size:	sizeof(struct memnotify_event) as the kernel uses it
 * @event_mask:		event types the kernel supports (MEMNOTIFY_EVENT_ALL)
 * @reserved:		zero
 */
struct memnotify_version {
	__u32 abi_version;
	__u32 record_size;
	__u32 event_mask;
	__u32 reserved;
};

/**
 * struct memnotify_idle - MEMNOTIFY_IOC_SET_IDLE / MEMNOTIFY_IOC_GET_IDLE
 * @period_ms:		idle period, MEMNOTIFY_IDLE_PERIOD_MIN_MS ..
 *			MEMNOTIFY_IDLE_PERIOD_MAX_MS (default 1000)
 * @threshold_ppm:	the thread group is idle while its CPU use over the
 *			last period is below this many parts per million of
 *			one CPU, 1 .. 1000000 (default 10000, i.e. 1%)
 */
struct memnotify_idle {
	__u32 period_ms;
	__u32 threshold_ppm;
};

#define MEMNOTIFY_IDLE_PERIOD_MIN_MS	50u
#define MEMNOTIFY_IDLE_PERIOD_MAX_MS	3600000u

/**
 * struct memnotify_thresholds - global available-memory thresholds
 * @low_permille:	PRESSURE LOW while MemAvailable is below this many
 *			thousandths of total RAM
 * @medium_permille:	likewise for MEDIUM; must be below @low_permille
 * @critical_permille:	likewise for CRITICAL; must be below @medium_permille
 * @reserved:		zero
 *
 * 0 < critical < medium < low <= 1000.  Setting requires CAP_SYS_ADMIN.
 */
struct memnotify_thresholds {
	__u32 low_permille;
	__u32 medium_permille;
	__u32 critical_permille;
	__u32 reserved;
};

/* MEMNOTIFY_IOC_INJECT flags. */
#define MEMNOTIFY_INJECT_ALL		0x1u	/* every subscriber, not only this fd */

/**
 * struct memnotify_inject - MEMNOTIFY_IOC_INJECT (CAP_SYS_ADMIN, for tests)
 * @type:		one MEMNOTIFY_EVENT_* value
 * @level:		MEMNOTIFY_LEVEL_LOW..CRITICAL for PRESSURE, else
 *			MEMNOTIFY_LEVEL_NONE
 * @flags:		MEMNOTIFY_INJECT_*
 * @reserved:		zero
 * @reclaim_pages:	copied to the record (RECLAIM only, else zero)
 *
 * Injected records honour the per-fd mask but bypass rate limiting; their
 * source is MEMNOTIFY_SOURCE_INJECT.
 */
struct memnotify_inject {
	__u32 type;
	__u32 level;
	__u32 flags;
	__u32 reserved;
	__u64 reclaim_pages;
};

#define MEMNOTIFY_IOC_MAGIC		0xB9

/* ABI version and record size. */
#define MEMNOTIFY_IOC_GET_VERSION	_IOR(MEMNOTIFY_IOC_MAGIC, 0x00, struct memnotify_version)
/* Event types this fd receives (MEMNOTIFY_EVENT_* bits, others: EINVAL). */
#define MEMNOTIFY_IOC_SET_MASK		_IOW(MEMNOTIFY_IOC_MAGIC, 0x01, __u32)
#define MEMNOTIFY_IOC_GET_MASK		_IOR(MEMNOTIFY_IOC_MAGIC, 0x02, __u32)
/* Idle period and CPU threshold of this fd. */
#define MEMNOTIFY_IOC_SET_IDLE		_IOW(MEMNOTIFY_IOC_MAGIC, 0x03, struct memnotify_idle)
#define MEMNOTIFY_IOC_GET_IDLE		_IOR(MEMNOTIFY_IOC_MAGIC, 0x04, struct memnotify_idle)
/*
 * Userspace shrinker: bytes of free-but-resident cache this subscriber
 * holds and could release on a RECLAIM request (at most total RAM).  The
 * kernel lowers the value by what it requests; GET returns what is left.
 */
#define MEMNOTIFY_IOC_SET_CACHE		_IOW(MEMNOTIFY_IOC_MAGIC, 0x05, __u64)
#define MEMNOTIFY_IOC_GET_CACHE		_IOR(MEMNOTIFY_IOC_MAGIC, 0x06, __u64)
/* Synthesise an event (CAP_SYS_ADMIN, else EPERM). */
#define MEMNOTIFY_IOC_INJECT		_IOW(MEMNOTIFY_IOC_MAGIC, 0x07, struct memnotify_inject)
/* Global thresholds; SET needs CAP_SYS_ADMIN. */
#define MEMNOTIFY_IOC_SET_THRESHOLDS	_IOW(MEMNOTIFY_IOC_MAGIC, 0x08, struct memnotify_thresholds)
#define MEMNOTIFY_IOC_GET_THRESHOLDS	_IOR(MEMNOTIFY_IOC_MAGIC, 0x09, struct memnotify_thresholds)

#endif /* _UAPI_LINUX_MEMNOTIFY_H */
