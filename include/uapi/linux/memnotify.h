/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * memnotify: memory-pressure, reclaim and idle notifications through the
 * character device /dev/memnotify.  ABI version 2.
 *
 * Every open() of /dev/memnotify is an independent subscriber.  It has
 *  - a bounded queue of records (PRESSURE, IDLE, ACTIVE), and
 *  - a pending-reclaim counter, in bytes, like an eventfd's count: the
 *    kernel's userspace shrinker adds what it asks this subscriber for, and
 *    read() turns the whole counter into one RECLAIM record and resets it
 *    to zero in the same step.  A request is therefore never dropped when
 *    the queue overflows and never counted twice.
 * read() returns whole records only, a pending RECLAIM record first.  poll()
 * reports EPOLLIN while records are queued or reclaim is pending,
 * additionally EPOLLPRI while a CRITICAL pressure record is queued, and
 * EPOLLHUP once the idle target has exited while the mask holds IDLE,
 * ACTIVE or EXITED (see struct memnotify_idle).
 *
 * Units: every amount of memory in this ABI is in bytes (page sizes differ
 * between configurations of one architecture); times are CLOCK_MONOTONIC
 * nanoseconds.
 *
 * Records carry their own size and version: every record starts with the
 * same 24-byte header (size, version, type, level, source, flags, seq,
 * timestamp_ns).  A reader skips a record by its size, so later versions
 * may append fields.
 *
 * ioctl arguments that are structures may grow too: the kernel reads the
 * size the caller compiled in from the command (_IOC_SIZE).  A larger
 * structure is accepted if the bytes past the ones this kernel knows are
 * zero (input) or are cleared (output); a non-zero tail is refused with
 * E2BIG; a structure smaller than the version-2 one is refused with EINVAL
 * (struct memnotify_idle, which grew within version 2, also accepts its
 * first size, MEMNOTIFY_IDLE_SIZE_VER0).
 *
 * Cache reports cannot race requests: MEMNOTIFY_IOC_SET_CACHE carries the
 * request_seq of the last RECLAIM record the caller read, and is refused
 * with EAGAIN if the kernel has asked for memory since (compare-and-set).
 * A report is absolute, the caller's view of its cache; a delta protocol
 * would let every lost or clamped delta drift the claim for good, while a
 * refused absolute report is simply repeated after the RECLAIM record is
 * read and acted on.
 *
 * State page: mmap() of one page at offset 0, read-only and shared, maps
 * struct memnotify_state_page, which the kernel keeps up to date, so a
 * subscriber learns its state with a load and no system call.  Writable
 * mappings are refused with EPERM (mmap() itself refuses a shared writable
 * mapping of a file opened read-only with EACCES) and mprotect() to write
 * with EACCES; any other offset or size with EINVAL.  The mapping holds the open file,
 * like any file mapping: the subscription lives on after close() while the
 * page is mapped (in this process or, after fork(), in a child that
 * inherited the mapping), and ends with the last munmap().
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

#define MEMNOTIFY_ABI_VERSION		2

/* Event types; also the bits of the per-fd mask (MEMNOTIFY_IOC_SET_MASK). */
#define MEMNOTIFY_EVENT_PRESSURE	0x1u	/* memory pressure, see levels */
#define MEMNOTIFY_EVENT_RECLAIM		0x2u	/* please free reclaim_bytes */
#define MEMNOTIFY_EVENT_IDLE		0x4u	/* idle target went idle */
#define MEMNOTIFY_EVENT_ACTIVE		0x8u	/* idle target is busy again */
#define MEMNOTIFY_EVENT_EXITED		0x10u	/* idle target has exited */
#define MEMNOTIFY_EVENT_ALL		0x1fu
/*
 * Mask of a freshly opened fd: the idle target's events (IDLE, ACTIVE,
 * EXITED; see struct memnotify_idle) are opt-in.
 */
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
#define MEMNOTIFY_SOURCE_IDLE		4u	/* idle tracking of the fd's target */
#define MEMNOTIFY_SOURCE_INJECT		5u	/* MEMNOTIFY_IOC_INJECT */

/* struct memnotify_event.flags */
#define MEMNOTIFY_RECORD_COALESCED	0x1u	/* later events merged into it */

/**
 * struct memnotify_event - one record as returned by read()
 *
 * Header, the same in every ABI version:
 * @size:		bytes of this record (sizeof(struct memnotify_event)
 *			of the kernel that wrote it); the next record starts
 *			@size bytes further
 * @version:		MEMNOTIFY_ABI_VERSION of the kernel that wrote it
 * @type:		one MEMNOTIFY_EVENT_* value
 * @level:		MEMNOTIFY_LEVEL_* for PRESSURE, else MEMNOTIFY_LEVEL_NONE
 * @source:		MEMNOTIFY_SOURCE_*; for RECLAIM the source of the
 *			latest request it carries
 * @flags:		MEMNOTIFY_RECORD_*
 * @seq:		per-fd sequence number, starting at 1; a gap means
 *			records were dropped on overflow (never RECLAIM)
 * @timestamp_ns:	when the event was raised; for a coalesced PRESSURE
 *			record, when the latest merged event was raised; for
 *			RECLAIM, when the latest request it carries was made
 *
 * Version 2 body:
 * @reclaim_bytes:	RECLAIM: every byte requested since the previous
 *			RECLAIM record was read; otherwise zero
 * @request_seq:	RECLAIM: the fd's request counter after the last
 *			request carried (pass it to MEMNOTIFY_IOC_SET_CACHE);
 *			otherwise zero
 * @cpu_ppm:		IDLE and ACTIVE: the idle target's CPU use over the
 *			idle period in parts per million of one CPU;
 *			otherwise zero (EXITED included)
 * @free_bytes:		free memory in the system when the record was
 *			raised (refreshed like @timestamp_ns)
 * @avail_bytes:	available memory (MemAvailable) at that time
 * @dropped:		total records this fd has lost to queue overflow,
 *			sampled when the record is read
 */
struct memnotify_event {
	__u16 size;
	__u8 version;
	__u8 type;
	__u8 level;
	__u8 source;
	__u16 flags;
	__u64 seq;
	__u64 timestamp_ns;
	__u64 reclaim_bytes;
	__u64 request_seq;
	__u64 cpu_ppm;
	__u64 free_bytes;
	__u64 avail_bytes;
	__u64 dropped;
};

/* Bytes of the header every record starts with. */
#define MEMNOTIFY_HEADER_SIZE		24u

/**
 * struct memnotify_version - MEMNOTIFY_IOC_GET_VERSION
 * @abi_version:	MEMNOTIFY_ABI_VERSION
 * @record_size:	sizeof(struct memnotify_event) as the kernel writes it
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
 *			MEMNOTIFY_IDLE_PERIOD_MAX_MS (default 1000); below
 *			MEMNOTIFY_IDLE_PERIOD_MIN_UNPRIV_MS only with
 *			CAP_SYS_RESOURCE, else EPERM
 * @threshold_ppm:	the target is idle while its CPU use over the last
 *			period is below this many parts per million of one
 *			CPU, 1 .. 1000000 (default 10000, i.e. 1%)
 * @pidfd:		with MEMNOTIFY_IDLE_TARGET_PIDFD in @flags: a pidfd
 *			(pidfd_open(2), clone(CLONE_PIDFD)) of the process to
 *			track; otherwise 0
 * @flags:		SET: 0 for the process that opened the fd (the default
 *			target), MEMNOTIFY_IDLE_TARGET_PIDFD for the process
 *			@pidfd names, or MEMNOTIFY_IDLE_KEEP_TARGET to keep the
 *			current one; GET: MEMNOTIFY_IDLE_KEEP_TARGET, so that a
 *			structure read with GET and written back with SET
 *			changes only what the caller changed.  A structure
 *			filled with zeros but for the period and threshold
 *			thus means the opener.
 *
 * The idle target is a thread group: IDLE/ACTIVE are decided by the CPU
 * time of all its threads, and its exit is reported.  It is fixed when set,
 * so a forked child or a process that receives the fd (SCM_RIGHTS) hears
 * about the target, not about itself, until SET_IDLE changes it.  Naming a
 * process by pidfd requires that the caller may read it as
 * ptrace_may_access(PTRACE_MODE_READ_REALCREDS) would decide (same thread
 * group; or real uid and gid equal to all the target's uids and gids, or
 * CAP_SYS_PTRACE in the target's user namespace; and CAP_SYS_PTRACE in the
 * namespace of its memory if it is not dumpable), else EPERM; the security
 * modules' ptrace hook is not consulted (it is not available to modules).
 * An fd that is not open gives EBADF, an open fd that is not a pidfd
 * EBADF too (as the pidfd system calls do), a process already reaped ESRCH,
 * an unknown flag, both target flags, or a
 * non-zero @pidfd without MEMNOTIFY_IDLE_TARGET_PIDFD EINVAL.
 *
 * When the target's thread group has exited (every thread gone, the
 * leader a zombie or reaped), one EXITED record is queued (if EXITED is in
 * the mask), sampling stops, and poll() reports EPOLLHUP for as long as
 * the mask holds IDLE, ACTIVE or EXITED; setting a new target starts over.
 *
 * Sampling runs 32 times per period, only while IDLE or ACTIVE is in the
 * mask, on a deferrable work item of the power-efficient workqueue: a
 * sample due while its CPU sleeps waits for that CPU's next wakeup, so on
 * an otherwise idle machine IDLE can come later than one period after the
 * target went quiet.
 *
 * Sizes: MEMNOTIFY_IDLE_SIZE_VER0 (8 bytes: period and threshold, the
 * target being the opener) and the current 16 are accepted.
 */
struct memnotify_idle {
	__u32 period_ms;
	__u32 threshold_ppm;
	__s32 pidfd;
	__u32 flags;
};

#define MEMNOTIFY_IDLE_SIZE_VER0	8u
#define MEMNOTIFY_IDLE_SIZE_VER1	16u
#define MEMNOTIFY_IDLE_TARGET_PIDFD	0x1u
#define MEMNOTIFY_IDLE_KEEP_TARGET	0x2u
#define MEMNOTIFY_IDLE_PERIOD_MIN_MS	50u
#define MEMNOTIFY_IDLE_PERIOD_MIN_UNPRIV_MS 1000u
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
 * @reclaim_bytes:	RECLAIM: added to the pending counter (at most total
 *			RAM), counted as requested like a shrinker request;
 *			else zero
 *
 * Injected records honour the per-fd mask but bypass rate limiting; their
 * source is MEMNOTIFY_SOURCE_INJECT.
 */
struct memnotify_inject {
	__u32 type;
	__u32 level;
	__u32 flags;
	__u32 reserved;
	__u64 reclaim_bytes;
};

/**
 * struct memnotify_cache - MEMNOTIFY_IOC_SET_CACHE
 * @bytes:		free-but-resident memory this subscriber holds and
 *			could release on a RECLAIM request (at most total RAM,
 *			else EINVAL); clamped to what the opener holds
 * @request_seq:	request_seq of the last RECLAIM record read (0 before
 *			the first); if the kernel has requested memory since,
 *			the report is refused with EAGAIN: read the RECLAIM
 *			record, act on it, and report again
 */
struct memnotify_cache {
	__u64 bytes;
	__u64 request_seq;
};

/**
 * struct memnotify_released - MEMNOTIFY_IOC_RELEASED
 * @bytes:		bytes actually given back to the system after a
 *			RECLAIM record (at most total RAM, else EINVAL)
 * @reserved:		zero
 *
 * Counted in the fd's and the module's released bytes; the time since the
 * oldest request the caller had read and not yet answered goes into the
 * request-to-release latency histogram.
 */
struct memnotify_released {
	__u64 bytes;
	__u64 reserved;
};

/* Request-to-release latency buckets: < 1 ms, < 10 ms, < 100 ms, < 1 s, >= 1 s. */
#define MEMNOTIFY_LATENCY_BUCKETS	5

/**
 * struct memnotify_state - MEMNOTIFY_IOC_GET_STATE
 * @level:		level of the latest PRESSURE record posted to this fd
 *			(MEMNOTIFY_LEVEL_NONE before the first)
 * @reserved:		zero
 * @level_ns:		when that record's event was raised (0 before)
 * @generation:		grows by 2 with every record posted to this fd,
 *			every reclaim request and every read() of pending
 *			reclaim (see struct memnotify_state_page)
 * @pending_bytes:	reclaim requested and not yet read
 * @request_seq:	requests made to this fd so far
 * @claim_bytes:	the fd's claim (cache reported, clamped, minus what
 *			was requested since)
 * @requested_bytes:	bytes requested from this fd in total
 * @released_bytes:	bytes this fd reported released (MEMNOTIFY_IOC_RELEASED)
 * @releases:		MEMNOTIFY_IOC_RELEASED calls
 * @latency:		releases by request-to-release latency, one count
 *			per MEMNOTIFY_LATENCY_BUCKETS bucket
 * @reserved2:		zero
 */
struct memnotify_state {
	__u32 level;
	__u32 reserved;
	__u64 level_ns;
	__u64 generation;
	__u64 pending_bytes;
	__u64 request_seq;
	__u64 claim_bytes;
	__u64 requested_bytes;
	__u64 released_bytes;
	__u64 releases;
	__u64 latency[MEMNOTIFY_LATENCY_BUCKETS];
	__u64 reserved2;
};

/**
 * struct memnotify_state_page - what the state page holds
 * @size:		bytes of this structure (later versions append fields)
 * @version:		MEMNOTIFY_ABI_VERSION
 * @generation:		the fd's generation (struct memnotify_state), even
 *			while the fields below are stable and odd while the
 *			kernel updates them; it grows by 2 with every record
 *			posted to the fd, every reclaim request and every
 *			read() of pending reclaim.  Read it (acquire), read
 *			the fields, read it again: equal and even means a
 *			consistent snapshot.
 * @level:		as struct memnotify_state.level
 * @reserved:		zero
 * @level_ns:		as struct memnotify_state.level_ns
 * @pending_bytes:	as struct memnotify_state.pending_bytes
 * @request_seq:	as struct memnotify_state.request_seq
 */
struct memnotify_state_page {
	__u32 size;
	__u32 version;
	__u64 generation;
	__u32 level;
	__u32 reserved;
	__u64 level_ns;
	__u64 pending_bytes;
	__u64 request_seq;
};

#define MEMNOTIFY_IOC_MAGIC		0xB9

/* ABI version and record size. */
#define MEMNOTIFY_IOC_GET_VERSION	_IOR(MEMNOTIFY_IOC_MAGIC, 0x00, struct memnotify_version)
/* Event types this fd receives (MEMNOTIFY_EVENT_* bits, others: EINVAL). */
#define MEMNOTIFY_IOC_SET_MASK		_IOW(MEMNOTIFY_IOC_MAGIC, 0x01, __u32)
#define MEMNOTIFY_IOC_GET_MASK		_IOR(MEMNOTIFY_IOC_MAGIC, 0x02, __u32)
/* Idle period, CPU threshold and target of this fd. */
#define MEMNOTIFY_IOC_SET_IDLE		_IOW(MEMNOTIFY_IOC_MAGIC, 0x03, struct memnotify_idle)
#define MEMNOTIFY_IOC_GET_IDLE		_IOR(MEMNOTIFY_IOC_MAGIC, 0x04, struct memnotify_idle)
/*
 * Userspace shrinker: report the cache this subscriber could release (see
 * struct memnotify_cache).  The kernel lowers the claim by what it
 * requests; MEMNOTIFY_IOC_GET_STATE shows what is left.
 */
#define MEMNOTIFY_IOC_SET_CACHE		_IOW(MEMNOTIFY_IOC_MAGIC, 0x05, struct memnotify_cache)
/* Bytes given back after a RECLAIM record. */
#define MEMNOTIFY_IOC_RELEASED		_IOW(MEMNOTIFY_IOC_MAGIC, 0x06, struct memnotify_released)
/* Synthesise an event (CAP_SYS_ADMIN, else EPERM). */
#define MEMNOTIFY_IOC_INJECT		_IOW(MEMNOTIFY_IOC_MAGIC, 0x07, struct memnotify_inject)
/* Global thresholds; SET needs CAP_SYS_ADMIN. */
#define MEMNOTIFY_IOC_SET_THRESHOLDS	_IOW(MEMNOTIFY_IOC_MAGIC, 0x08, struct memnotify_thresholds)
#define MEMNOTIFY_IOC_GET_THRESHOLDS	_IOR(MEMNOTIFY_IOC_MAGIC, 0x09, struct memnotify_thresholds)
/* This fd's state and reclaim accounting. */
#define MEMNOTIFY_IOC_GET_STATE		_IOR(MEMNOTIFY_IOC_MAGIC, 0x0A, struct memnotify_state)

#endif /* _UAPI_LINUX_MEMNOTIFY_H */
