// SPDX-License-Identifier: GPL-2.0
/*
 * Device fuzzer: whatever a process sends /dev/memnotify, the call fails
 * with one of the errors the ABI documents (or succeeds), the module keeps
 * working, and the kernel stays quiet (qemu/run fails the run on any Oops,
 * KASAN, lockdep or kmemleak report; the debug kernel has them all on).
 *
 *  - random ioctl numbers and argument sizes, with NULL, unmapped,
 *    kernel-range, read-only and page-straddling argument pointers;
 *  - short, huge and faulting reads, which must never lose a record;
 *  - random masks, idle periods and reported caches;
 *  - a storm of open/close/dup/read/poll/ioctl/INJECT from many threads in
 *    several processes sharing fds, with blocked readers interrupted by
 *    signals and their files closed under them, as root and as nobody;
 *  - module unload attempts racing with opens.
 *
 * FUZZ_OPS (default 200000) is the number of operations of the storm,
 * shared by its workers; FUZZ_SEED (default 1) makes a run repeatable as
 * far as thread scheduling allows.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/resource.h>

#include "memnotify_test.h"
#include "mn_module.h"

#define STORM_PROCS	3
#define STORM_THREADS	4
#define STORM_SLOTS	48	/* fds shared by the threads of a process */
#define BUF_SIZE	8192

static uint64_t env_u64(const char *name, uint64_t def)
{
	const char *v = getenv(name);
	char *end;
	unsigned long long n;

	if (!v || !*v)
		return def;
	n = strtoull(v, &end, 0);
	return *end ? def : n;
}

/* xorshift64*: small, fast, and the same sequence on every arch. */
static uint64_t rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dull;
}

static uint64_t seed_for(uint64_t salt)
{
	uint64_t s = env_u64("FUZZ_SEED", 1) * 0x9e3779b97f4a7c15ull + salt;

	return s ? s : 1;
}

/*
 * Argument buffers: a valid read-write page pair, a read-only page, a page
 * followed by an inaccessible one (for copies that straddle), an address
 * that was unmapped, and addresses in the kernel's half.
 */
struct arena {
	char *rw;	/* BUF_SIZE bytes */
	char *ro;	/* one page, PROT_READ */
	char *edge;	/* last 32 bytes before a PROT_NONE page */
	char *gone;	/* unmapped */
};

static int arena_init(struct arena *a)
{
	long pg = sysconf(_SC_PAGESIZE);
	char *m = mmap(NULL, BUF_SIZE + 4 * pg, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (m == MAP_FAILED)
		return -1;
	a->rw = m;
	a->ro = m + BUF_SIZE;
	a->edge = m + BUF_SIZE + 2 * pg - 32;
	a->gone = m + BUF_SIZE + 3 * pg;
	if (mprotect(a->ro, pg, PROT_READ) ||
	    mprotect(a->ro + 2 * pg, pg, PROT_NONE) ||
	    munmap(a->gone, pg))
		return -1;
	return 0;
}

static void *pick_ptr(struct arena *a, uint64_t *s)
{
	switch (rnd(s) % 8) {
	case 0:
		return NULL;
	case 1:
		return a->gone;
	case 2:
		return (void *)(uintptr_t)0xffffffffffff0000ull;
	case 3:
		return (void *)(uintptr_t)(0xffff800000000000ull + (rnd(s) & 0xffffff000ull));
	case 4:
		return a->ro;
	case 5:
		return a->edge;
	default:
		return a->rw + (rnd(s) % 64) * 8;
	}
}

/* Random bytes, biased towards values the ioctls treat specially. */
static void fill_random(char *p, size_t n, uint64_t *s)
{
	static const uint32_t special[] = {
		0, 1, 2, 3, 4, 7, 8, 15, 16, 49, 50, 1000, 1001, 1000000,
		3600000, 3600001, 0x7fffffff, 0x80000000, 0xffffffff,
	};
	size_t i;

	for (i = 0; i + 4 <= n; i += 4) {
		uint32_t v = rnd(s) % 4 ? special[rnd(s) % ARRAY_SIZE(special)] :
					  (uint32_t)rnd(s);

		memcpy(p + i, &v, 4);
	}
}

static const unsigned int known_cmds[] = {
	MEMNOTIFY_IOC_GET_VERSION, MEMNOTIFY_IOC_SET_MASK,
	MEMNOTIFY_IOC_GET_MASK, MEMNOTIFY_IOC_SET_IDLE,
	MEMNOTIFY_IOC_GET_IDLE, MEMNOTIFY_IOC_SET_CACHE,
	MEMNOTIFY_IOC_RELEASED, MEMNOTIFY_IOC_INJECT,
		MEMNOTIFY_IOC_GET_STATE,
	MEMNOTIFY_IOC_SET_THRESHOLDS, MEMNOTIFY_IOC_GET_THRESHOLDS,
};

/*
 * An ioctl number: a known command, one of ours with a random size and
 * direction, or anything at all except the few generic ones the VFS handles
 * itself for every file (FIBMAP/FIGETBSZ, 'T' FIONBIO/FIOASYNC...,
 * 'f' flags, 'X' freeze, 0x94 clone).
 */
static unsigned int pick_cmd(uint64_t *s)
{
	unsigned int cmd, type;

	switch (rnd(s) % 3) {
	case 0:
		return known_cmds[rnd(s) % ARRAY_SIZE(known_cmds)];
	case 1:
		return _IOC(rnd(s) % 4, MEMNOTIFY_IOC_MAGIC, rnd(s) % 32,
			    rnd(s) % 4 ? rnd(s) % 80 : rnd(s) % 16384);
	}
	do {
		cmd = (unsigned int)rnd(s);
		type = _IOC_TYPE(cmd);
	} while (type == 'T' || type == 'f' || type == 'X' || type == 0x94 ||
		 type == 0);
	return cmd;
}

static bool ours(unsigned int cmd)
{
	return _IOC_TYPE(cmd) == MEMNOTIFY_IOC_MAGIC;
}

/* Errors an ioctl of ours may return; anything else is a finding. */
static bool ioctl_errno_ok(int e)
{
	return e == ENOTTY || e == EINVAL || e == EFAULT || e == EPERM ||
	       e == EBADF || e == E2BIG || e == EAGAIN || e == ESRCH;
}

/* Counts of what the storm did, per process, summed by the parent. */
struct tally {
	uint64_t ops;
	uint64_t unexpected;
	uint64_t opens, open_fail, reads, records, read_fault, intr;
	uint64_t ioctls, ioctl_ok, injects, closes;
	char first[160];	/* the first unexpected result */
};

static void finding(struct tally *t, const char *what, long ret, int e)
{
	if (!t->unexpected++)
		snprintf(t->first, sizeof(t->first), "%s returned %ld, errno %d (%s)",
			 what, ret, e, strerror(e));
}

/*
 * Every test runs under the fixture for its timeout (the harness's default
 * of 30 s is far too short for a long FUZZ_OPS on a debug kernel; the init's
 * per-program timeout still bounds the whole program) and so that the global
 * thresholds, which garbage as root can validly set (low_permille 1000 puts
 * every later subscriber at LOW), are put back for the programs after this.
 */
FIXTURE(fuzz) {
	struct memnotify_thresholds thresholds;
};

FIXTURE_SETUP(fuzz)
{
	int fd = mn_open_nb();

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ioctl(fd, MEMNOTIFY_IOC_GET_THRESHOLDS, &self->thresholds));
	close(fd);
}

FIXTURE_TEARDOWN(fuzz)
{
	int fd = mn_open_nb();

	ASSERT_LE(0, fd);
	EXPECT_EQ(0, ioctl(fd, MEMNOTIFY_IOC_SET_THRESHOLDS, &self->thresholds));
	close(fd);
}

/* ---- single-threaded checks ---------------------------------------- */

TEST_F_TIMEOUT(fuzz, ioctl_garbage, 3600)
{
	uint64_t s = seed_for(1), i, n = env_u64("FUZZ_OPS", 200000) / 8;
	struct memnotify_thresholds th;
	struct arena a;
	struct memnotify_version v;
	struct tally t = { 0 };
	int fd = mn_open_nb();

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, arena_init(&a));
	for (i = 0; i < n; i++) {
		unsigned int cmd = pick_cmd(&s);
		void *arg = pick_ptr(&a, &s);
		long r;

		fill_random(a.rw, BUF_SIZE, &s);
		r = ioctl(fd, cmd, arg);
		t.ioctls++;
		if (r == 0)
			t.ioctl_ok++;
		else if (r != -1 || (ours(cmd) && !ioctl_errno_ok(errno)))
			finding(&t, "ioctl", r, errno);
		if (!ours(cmd) && r == 0)
			finding(&t, "foreign ioctl", r, 0);
	}
	EXPECT_EQ(0, t.unexpected) TH_LOG("%s", t.first);
	note("%llu ioctls, %llu succeeded\n",
		       (unsigned long long)t.ioctls, (unsigned long long)t.ioctl_ok);

	/* The fd still works, whatever the garbage did to its settings, and
	 * the thresholds it may have set are still ordered.
	 */
	ASSERT_EQ(0, ioctl(fd, MEMNOTIFY_IOC_GET_THRESHOLDS, &th));
	EXPECT_LT(0, th.critical_permille);
	EXPECT_LT(th.critical_permille, th.medium_permille);
	EXPECT_LT(th.medium_permille, th.low_permille);
	EXPECT_GE(1000, th.low_permille);
	ASSERT_EQ(0, ioctl(fd, MEMNOTIFY_IOC_GET_VERSION, &v));
	EXPECT_EQ(MEMNOTIFY_ABI_VERSION, v.abi_version);
	EXPECT_EQ(MN_REC, v.record_size);
	close(fd);
}

/* A read into memory the kernel cannot write fails with EFAULT and puts the
 * record back: nothing is lost, nothing is reordered (records are numbered
 * per fd, so the next one read must be the one after the last one read).
 */
TEST_F_TIMEOUT(fuzz, faulting_reads_lose_nothing, 3600)
{
	struct memnotify_event ev;
	uint64_t s = seed_for(2);
	struct arena a;
	__u64 last = 0;
	int fd = mn_open_nb(), i, faults = 0;

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, arena_init(&a));
	for (i = 0; i < 2000; i++) {
		char *p = pick_ptr(&a, &s);
		size_t len = rnd(&s) % 4 ? MN_REC * (1 + rnd(&s) % 4) :
					  (rnd(&s) % 2 ? rnd(&s) % MN_REC : SIZE_MAX);
		ssize_t r;

		ASSERT_EQ(0, mn_inject(fd, MEMNOTIFY_EVENT_PRESSURE,
				       MEMNOTIFY_LEVEL_LOW, 0, 0));
		r = read(fd, p, len);
		if (len < MN_REC) {
			/* The VFS checks the range before the module the size. */
			ASSERT_EQ(-1, r);
			ASSERT_TRUE(errno == EINVAL || errno == EFAULT);
		} else if (r < 0) {
			ASSERT_EQ(EFAULT, errno) TH_LOG("read(%p, %zu)", p, len);
			faults++;
		} else {
			ASSERT_EQ(0, r % MN_REC);
			memcpy(&ev, p, MN_REC);
			ASSERT_EQ(last + 1, ev.seq);
			last = ev.seq + r / MN_REC - 1;
		}
		while (read(fd, &ev, MN_REC) == MN_REC) {
			ASSERT_EQ(last + 1, ev.seq);
			ASSERT_EQ(0, ev.dropped);
			last = ev.seq;
		}
		ASSERT_EQ(EAGAIN, errno);
	}
	note("%d faulting reads, %llu records, none lost\n", faults,
		       (unsigned long long)last);
	close(fd);
}

/* Random masks, idle periods and caches, set and read back. */
TEST_F_TIMEOUT(fuzz, random_settings, 3600)
{
	uint64_t s = seed_for(3), total = (uint64_t)mem_total_pages() *
					   sysconf(_SC_PAGESIZE);
	int fd = mn_open_nb(), i;

	ASSERT_LE(0, fd);
	for (i = 0; i < 3000; i++) {
		__u32 mask = rnd(&s) % 4 ? rnd(&s) & MEMNOTIFY_EVENT_ALL :
					 (__u32)rnd(&s);
		struct memnotify_idle idle = {
			.period_ms = rnd(&s) % 2 ? 50 + rnd(&s) % 200 : (__u32)rnd(&s),
			.threshold_ppm = rnd(&s) % 2 ? 1 + rnd(&s) % 1000000 :
						       (__u32)rnd(&s),
		};
		__u64 cache = rnd(&s) % 2 ? rnd(&s) % (total + 1) : rnd(&s);
		bool mask_ok = !(mask & ~MEMNOTIFY_EVENT_ALL);
		bool idle_ok = idle.period_ms >= MEMNOTIFY_IDLE_PERIOD_MIN_MS &&
			       idle.period_ms <= MEMNOTIFY_IDLE_PERIOD_MAX_MS &&
			       idle.threshold_ppm && idle.threshold_ppm <= 1000000;
		struct memnotify_idle got;
		__u32 m;
		__u64 c;

		EXPECT_EQ(mask_ok ? 0 : -1, ioctl(fd, MEMNOTIFY_IOC_SET_MASK, &mask));
		ASSERT_EQ(0, ioctl(fd, MEMNOTIFY_IOC_GET_MASK, &m));
		if (mask_ok)
			EXPECT_EQ(mask, m);
		EXPECT_EQ(idle_ok ? 0 : -1, ioctl(fd, MEMNOTIFY_IOC_SET_IDLE, &idle));
		ASSERT_EQ(0, ioctl(fd, MEMNOTIFY_IOC_GET_IDLE, &got));
		if (idle_ok)
			EXPECT_EQ(idle.period_ms, got.period_ms);
		if (mn_set_cache(fd, cache)) {
			EXPECT_EQ(EINVAL, errno);
			EXPECT_TRUE(!(m & MEMNOTIFY_EVENT_RECLAIM) || cache > total);
		}
		ASSERT_EQ(0, mn_get_cache(fd, &c));
		EXPECT_LE(c, total);
		if (rnd(&s) % 8 == 0)
			mn_drain(fd);
		if (!_metadata->passed)
			break;
	}
	close(fd);
}

/* ---- the storm ----------------------------------------------------- */

struct storm {
	_Atomic int slots[STORM_SLOTS];
	_Atomic long long left;	/* operations still to do */
	_Atomic int stop;
	bool root;
	uint64_t salt;
	pthread_t threads[STORM_THREADS];
	struct tally tally[STORM_THREADS];
};

struct worker {
	struct storm *st;
	int id;
};

static void on_signal(int sig)
{
	(void)sig;
}

static int slot_fd(struct storm *st, uint64_t *s)
{
	return atomic_load(&st->slots[rnd(s) % STORM_SLOTS]);
}

static void storm_open(struct storm *st, struct tally *t, uint64_t *s)
{
	int flags = O_CLOEXEC | (rnd(s) % 2 ? O_NONBLOCK : 0) |
		    (rnd(s) % 4 ? O_RDONLY : O_RDWR);
	int fd = open(MN_DEV, flags), old;

	t->opens++;
	if (fd < 0) {
		t->open_fail++;
		if (errno != EMFILE && errno != ENFILE && errno != ENOMEM)
			finding(t, "open", fd, errno);
		return;
	}
	old = atomic_exchange(&st->slots[rnd(s) % STORM_SLOTS], fd);
	if (old >= 0)
		close(old);
}

static void storm_read(int fd, struct arena *a, struct tally *t, uint64_t *s)
{
	size_t len = rnd(s) % 8 ? MN_REC * (1 + rnd(s) % 8) : rnd(s) % 200;
	void *p = rnd(s) % 8 ? a->rw : pick_ptr(a, s);
	ssize_t r = read(fd, p, len);

	t->reads++;
	if (r >= 0) {
		if (r % MN_REC)
			finding(t, "read", r, 0);
		t->records += r / MN_REC;
	} else if (errno == EINTR) {
		t->intr++;
	} else if (errno == EFAULT) {
		t->read_fault++;
	} else if (errno != EAGAIN && errno != EBADF && errno != EINVAL) {
		finding(t, "read", r, errno);
	}
}

static void storm_inject(int fd, struct storm *st, struct tally *t,
			 uint64_t *s)
{
	static const __u32 types[] = {
		MEMNOTIFY_EVENT_PRESSURE, MEMNOTIFY_EVENT_RECLAIM,
		MEMNOTIFY_EVENT_IDLE, MEMNOTIFY_EVENT_ACTIVE,
		MEMNOTIFY_EVENT_EXITED,
	};
	__u32 type = types[rnd(s) % 5];
	__u32 level = type == MEMNOTIFY_EVENT_PRESSURE ? 1 + rnd(s) % 3 : 0;
	int r = mn_inject(fd, type, level, rnd(s) % 2 ? MEMNOTIFY_INJECT_ALL : 0,
			  type == MEMNOTIFY_EVENT_RECLAIM ? 1 + rnd(s) % 4096 : 0);

	t->injects++;
	if (r && !(errno == EBADF || (!st->root && errno == EPERM)))
		finding(t, "inject", r, errno);
	if (!r && !st->root)
		finding(t, "unprivileged inject", r, 0);
}

static void storm_op(struct storm *st, struct arena *a, struct tally *t,
		     uint64_t *s)
{
	int fd = slot_fd(st, s), r, old;
	struct pollfd pfd;

	switch (rnd(s) % 16) {
	case 0:
	case 1:
		storm_open(st, t, s);
		break;
	case 2:
		old = atomic_exchange(&st->slots[rnd(s) % STORM_SLOTS], -1);
		if (old >= 0) {
			t->closes++;
			if (close(old))
				finding(t, "close", -1, errno);
		}
		break;
	case 3:
		if (fd < 0)
			break;
		r = dup(fd);
		if (r >= 0) {
			old = atomic_exchange(&st->slots[rnd(s) % STORM_SLOTS], r);
			if (old >= 0)
				close(old);
		}
		break;
	case 4:
	case 5:
	case 6:
		if (fd >= 0)
			storm_read(fd, a, t, s);
		break;
	case 7:
		pfd = (struct pollfd){ .fd = fd, .events = POLLIN | POLLPRI };
		r = poll(&pfd, 1, rnd(s) % 3);
		if (r < 0 && errno != EINTR)
			finding(t, "poll", r, errno);
		break;
	case 8:
	case 9:
		if (fd >= 0)
			storm_inject(fd, st, t, s);
		break;
	case 10:
		if (fd >= 0 && (r = write(fd, a->rw, MN_REC)) != -1)
			finding(t, "write", r, 0);
		break;
	case 11:
		if (fd >= 0 && lseek(fd, 0, SEEK_SET) != -1)
			finding(t, "lseek", 0, 0);
		break;
	default:
		if (fd < 0)
			break;
		{
			unsigned int cmd = pick_cmd(s);

			/* Global thresholds stay as booted: other programs
			 * rely on them (random_settings covers the per-fd
			 * ones, abi and ioctl tests the global ones).
			 */
			if (cmd == MEMNOTIFY_IOC_SET_THRESHOLDS ||
			    (ours(cmd) && _IOC_NR(cmd) == _IOC_NR(MEMNOTIFY_IOC_SET_THRESHOLDS)))
				cmd = MEMNOTIFY_IOC_GET_THRESHOLDS;
			fill_random(a->rw, 64, s);
			r = ioctl(fd, cmd, rnd(s) % 4 ? (void *)a->rw : pick_ptr(a, s));
			t->ioctls++;
			if (!r)
				t->ioctl_ok++;
			else if (ours(cmd) && !ioctl_errno_ok(errno))
				finding(t, "ioctl", r, errno);
		}
	}
	t->ops++;
}

static void *storm_worker(void *arg)
{
	struct worker *w = arg;
	struct storm *st = w->st;
	struct tally *t = &st->tally[w->id];
	uint64_t s = seed_for(st->salt * 64 + w->id);
	struct arena a;

	if (arena_init(&a)) {
		finding(t, "mmap", -1, errno);
		return NULL;
	}
	while (atomic_fetch_sub(&st->left, 1) > 0)
		storm_op(st, &a, t, &s);
	return NULL;
}

/*
 * One process of the storm: STORM_THREADS workers share STORM_SLOTS fds;
 * the main thread keeps interrupting them with signals (blocked readers
 * return EINTR) and, as root, wakes every reader with broadcasts at the end.
 */
static int storm_process(struct storm *st, long long ops)
{
	struct sigaction sa = { .sa_handler = on_signal };	/* no SA_RESTART */
	struct worker w[STORM_THREADS];
	struct tally sum = { 0 };
	uint64_t s = seed_for(st->salt);
	int i, fd;

	sigaction(SIGUSR1, &sa, NULL);
	for (i = 0; i < STORM_SLOTS; i++)
		atomic_init(&st->slots[i], -1);
	atomic_init(&st->left, ops);
	for (i = 0; i < STORM_THREADS; i++) {
		w[i] = (struct worker){ .st = st, .id = i };
		if (pthread_create(&st->threads[i], NULL, storm_worker, &w[i]))
			return 2;
	}
	while (atomic_load(&st->left) > 0) {
		usleep(500 + rnd(&s) % 2000);
		pthread_kill(st->threads[rnd(&s) % STORM_THREADS], SIGUSR1);
	}
	for (i = 0; i < STORM_THREADS; i++) {
		/* A worker may still be blocked in read(): keep poking. */
		while (pthread_tryjoin_np(st->threads[i], NULL)) {
			pthread_kill(st->threads[i], SIGUSR1);
			usleep(1000);
		}
		sum.ops += st->tally[i].ops;
		sum.unexpected += st->tally[i].unexpected;
		sum.opens += st->tally[i].opens;
		sum.open_fail += st->tally[i].open_fail;
		sum.reads += st->tally[i].reads;
		sum.records += st->tally[i].records;
		sum.read_fault += st->tally[i].read_fault;
		sum.intr += st->tally[i].intr;
		sum.ioctls += st->tally[i].ioctls;
		sum.injects += st->tally[i].injects;
		sum.closes += st->tally[i].closes;
		if (st->tally[i].unexpected && !sum.first[0])
			memcpy(sum.first, st->tally[i].first, sizeof(sum.first));
	}
	for (i = 0; i < STORM_SLOTS; i++) {
		fd = atomic_load(&st->slots[i]);
		if (fd >= 0)
			close(fd);
	}
	printf("# storm %s pid %d: %llu ops: %llu opens (%llu refused), %llu closes, "
	       "%llu reads (%llu records, %llu EFAULT, %llu EINTR), %llu ioctls, %llu injects\n",
	       st->root ? "root" : "nobody", getpid(),
	       (unsigned long long)sum.ops, (unsigned long long)sum.opens,
	       (unsigned long long)sum.open_fail, (unsigned long long)sum.closes,
	       (unsigned long long)sum.reads, (unsigned long long)sum.records,
	       (unsigned long long)sum.read_fault, (unsigned long long)sum.intr,
	       (unsigned long long)sum.ioctls, (unsigned long long)sum.injects);
	if (sum.unexpected)
		printf("# storm pid %d: %llu unexpected results, first: %s\n", getpid(),
		       (unsigned long long)sum.unexpected, sum.first);
	fflush(stdout);
	return sum.unexpected ? 1 : 0;
}

/* Root processes inject; the nobody process finds every privileged call
 * refused.  Each process first raises its fd limit so the module's
 * subscriber cap, not RLIMIT_NOFILE, is what stops its opens.
 */
TEST_F_TIMEOUT(fuzz, storm, 3600)
{
	long long ops = env_u64("FUZZ_OPS", 200000);
	pid_t pids[STORM_PROCS];
	uint64_t t0 = now_ns();
	int i, st, bad = 0;

	for (i = 0; i < STORM_PROCS; i++) {
		pids[i] = fork();
		ASSERT_LE(0, pids[i]);
		if (pids[i] == 0) {
			static struct storm storm;
			struct rlimit rl;

			if (!getrlimit(RLIMIT_NOFILE, &rl)) {
				rl.rlim_cur = rl.rlim_max;
				setrlimit(RLIMIT_NOFILE, &rl);
			}
			storm.root = i != STORM_PROCS - 1;
			storm.salt = 100 + i;
			if (!storm.root && (setgroups(0, NULL) || setgid(NOBODY) ||
					    setuid(NOBODY)))
				_exit(3);
			_exit(storm_process(&storm, ops / STORM_PROCS));
		}
	}
	for (i = 0; i < STORM_PROCS; i++) {
		ASSERT_EQ(pids[i], waitpid(pids[i], &st, 0));
		if (!WIFEXITED(st) || WEXITSTATUS(st))
			bad++;
	}
	EXPECT_EQ(0, bad);
	note("storm: %lld operations in %.1f s\n", ops,
		       (now_ns() - t0) / 1e9);
	/* Every file of the storm is closed: the module counts none. */
	EXPECT_EQ(0, read_num(MN_STAT("subscribers")));
}

/* ---- unload racing with opens -------------------------------------- */

static _Atomic int race_stop;

static void *race_opener(void *arg)
{
	_Atomic long *opened = arg;
	int fd;

	while (!atomic_load(&race_stop)) {
		fd = open(MN_DEV, O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			atomic_fetch_add(opened, 1);
			ioctl(fd, MEMNOTIFY_IOC_GET_VERSION, &(struct memnotify_version){ 0 });
			close(fd);
		}
	}
	return NULL;
}

TEST_F_TIMEOUT(fuzz, unload_races_open, 3600)
{
	_Atomic long opened = 0;
	pthread_t th[3];
	int i, unloads = 0, busy = 0, r;

	for (i = 0; i < 3; i++)
		ASSERT_EQ(0, pthread_create(&th[i], NULL, race_opener, &opened));
	for (i = 0; i < 300; i++) {
		r = mn_delete_module();
		if (!r) {
			unloads++;
			ASSERT_EQ(0, mn_load_module()) TH_LOG("reload: %m");
		} else {
			ASSERT_TRUE(errno == EWOULDBLOCK || errno == EBUSY ||
				    errno == ENOENT) TH_LOG("delete_module: %m");
			if (errno == ENOENT)
				ASSERT_EQ(0, mn_load_module()) TH_LOG("reload: %m");
			busy++;
		}
		usleep(rnd(&(uint64_t){ seed_for(i) }) % 3000);
	}
	atomic_store(&race_stop, 1);
	for (i = 0; i < 3; i++)
		pthread_join(th[i], NULL);
	note("%d unloads, %d refused while open, %ld opens\n", unloads,
		       busy, (long)atomic_load(&opened));
	/* Loaded and working whatever happened above. */
	ASSERT_EQ(0, access(MN_DEV, F_OK));
	i = mn_open_nb();
	ASSERT_LE(0, i);
	EXPECT_EQ(0, mn_inject(i, MEMNOTIFY_EVENT_PRESSURE, MEMNOTIFY_LEVEL_LOW, 0, 0));
	close(i);
}

TEST_HARNESS_MAIN
