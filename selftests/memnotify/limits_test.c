// SPDX-License-Identifier: GPL-2.0
/*
 * Resource bounds: what any user can make the module hold.
 *  - one user's open files stop at max_subscribers_per_user (EMFILE), while
 *    other users can still subscribe, each up to its own cap;
 *  - unprivileged users together stop reserved_subscribers short of
 *    max_subscribers, and a privileged opener gets those slots;
 *  - a user namespace's root is charged to the namespace's owner, and
 *    nested namespaces add no slots (where the kernel has user namespaces);
 *  - each open file costs one bounded allocation (the memory_bytes
 *    statistic, which the slab's growth agrees with), freed on close;
 *  - a subscriber that never reads costs the same however many events come;
 *  - a reported cache beyond RAM is refused and the report stays as it was.
 */
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>

#include "memnotify_test.h"

/*
 * One open file holds at most this much: the subscriber structure (under
 * 2 KiB, lock debugging included) and its ring of queue_len records,
 * rounded up to the allocator's power-of-two size classes.
 */
static long long per_fd_bound(void)
{
	long long need = 2048 + read_num(MN_PARAM("queue_len")) * (long long)MN_REC;
	long long b = 4096;

	while (b < need)
		b <<= 1;
	return b;
}

/* The kernel's unreclaimable slab, in bytes. */
static long long slab_bytes(void)
{
	char line[128];
	long long kb = -1;
	FILE *f = fopen("/proc/meminfo", "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "SUnreclaim: %lld kB", &kb) == 1)
			break;
	}
	fclose(f);
	return kb * 1024;
}

struct hoard {
	int opened;		/* files the child got */
	int err;		/* errno of the open that failed */
	long long mem;		/* memory_bytes with all of them open */
	long long slab;		/* SUnreclaim likewise */
};

/*
 * As nobody, with the fd limit raised as far as it goes, open until the
 * module says no; report, then hold the files until told to exit.
 */
static void hoard_files(int report, int go)
{
	struct hoard h = { 0 };
	struct rlimit rl;
	char c;

	if (setgroups(0, NULL) || setgid(NOBODY) || setuid(NOBODY))
		_exit(100);
	if (!getrlimit(RLIMIT_NOFILE, &rl)) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	while (mn_open() >= 0)
		h.opened++;
	h.err = errno;
	h.mem = read_num(MN_STAT("memory_bytes"));
	h.slab = slab_bytes();
	if (write(report, &h, sizeof(h)) != sizeof(h))
		_exit(101);
	_exit(read(go, &c, 1) == 1 ? 0 : 102);
}

TEST(one_user_cannot_hoard)
{
	long long cap = read_num(MN_PARAM("max_subscribers_per_user"));
	long long bound = per_fd_bound();
	long long mem0 = read_num(MN_STAT("memory_bytes"));
	long long subs0 = read_num(MN_STAT("subscribers"));
	long long slab0 = slab_bytes();
	int report[2], go[2], st, fd;
	struct hoard h;
	pid_t pid;

	ASSERT_LT(0, cap);
	ASSERT_LE(0, mem0);
	ASSERT_EQ(0, pipe(report));
	ASSERT_EQ(0, pipe(go));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0)
		hoard_files(report[1], go[0]);
	ASSERT_EQ(sizeof(h), read(report[0], &h, sizeof(h)));

	EXPECT_EQ(cap, h.opened);
	EXPECT_EQ(EMFILE, h.err);
	/* Exactly one bounded allocation per file. */
	EXPECT_EQ(0, (h.mem - mem0) % h.opened);
	EXPECT_GE(h.opened * bound, h.mem - mem0);
	/*
	 * The slab grew by no more than twice that (a debug kernel's redzones
	 * and tracking metadata), the VFS's own struct file and a margin for
	 * unrelated activity: nothing else is allocated per open.
	 */
	EXPECT_GE(h.opened * (2 * bound + 2048) + (1 << 20), h.slab - slab0);
	note("%d files of one user: %lld bytes held (%lld each, bound %lld), slab +%lld KiB\n",
		       h.opened, h.mem - mem0, (h.mem - mem0) / h.opened, bound,
		       (h.slab - slab0) / 1024);

	/* Another user (root here) can still subscribe. */
	fd = mn_open();
	EXPECT_LE(0, fd);
	close(fd);

	ASSERT_EQ(1, write(go[1], "x", 1));
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	EXPECT_EQ(subs0, read_num(MN_STAT("subscribers")));
	EXPECT_EQ(mem0, read_num(MN_STAT("memory_bytes")));
}

TEST(per_user_cap_param)
{
	long long old = read_num(MN_PARAM("max_subscribers_per_user"));

	ASSERT_LT(0, old);
	EXPECT_NE(0, write_num(MN_PARAM("max_subscribers_per_user"), 0));
	EXPECT_NE(0, write_num(MN_PARAM("max_subscribers_per_user"), 65537));
	EXPECT_EQ(old, read_num(MN_PARAM("max_subscribers_per_user")));
}

/* A subscriber that never reads: its queue overflows, nothing grows. */
TEST(silent_reader_costs_a_fixed_amount)
{
	long long qlen = read_num(MN_PARAM("queue_len"));
	long long mem0, slab0, dropped0 = read_num(MN_STAT("dropped"));
	struct memnotify_event ev;
	int fd = mn_open_nb(), i, n = 0;

	ASSERT_LE(0, fd);
	ASSERT_LT(0, qlen);
	mem0 = read_num(MN_STAT("memory_bytes"));
	slab0 = slab_bytes();
	for (i = 0; i < 20 * qlen; i++)
		ASSERT_EQ(0, mn_inject(fd, MEMNOTIFY_EVENT_PRESSURE,
				       MEMNOTIFY_LEVEL_LOW, 0, 0));
	EXPECT_EQ(mem0, read_num(MN_STAT("memory_bytes")));
	EXPECT_GE(256 * 1024, slab_bytes() - slab0);
	EXPECT_EQ(dropped0 + 19 * qlen, read_num(MN_STAT("dropped")));
	while (read(fd, &ev, sizeof(ev)) == sizeof(ev))
		n++;
	EXPECT_EQ(qlen, n);
	EXPECT_EQ(19 * qlen, ev.dropped);
	close(fd);
}

/*
 * A report larger than RAM (an overflowed computation, a negative delta
 * taken as unsigned) is refused with EINVAL and the previous report stays;
 * the reports of many files are summed without overflow, and what the
 * files of one process claim together is clamped to the anonymous memory
 * that process holds (plus the slack for the kernel's approximate
 * counters).
 */
TEST(cache_reports_bounded)
{
	long page = sysconf(_SC_PAGESIZE);
	__u64 total = (__u64)mem_total_pages() * page;
	__u64 good = 1 << 20, got, bad[] = { total + 1, ~0ull, ~0ull - (1 << 20),
					     1ull << 63, -(__s64)page };
	long long pages0 = read_num(MN_STAT("cache_pages")), sum, anon;
	size_t hold = 24 << 20;
	void *held = hold_anon(hold);
	int fds[16], i;

	ASSERT_NE(NULL, held);
	for (i = 0; i < 16; i++) {
		fds[i] = mn_open();
		ASSERT_LE(0, fds[i]);
		ASSERT_EQ(0, mn_set_cache(fds[i], good));
	}
	for (i = 0; i < (int)(sizeof(bad) / sizeof(bad[0])); i++) {
		EXPECT_EQ(-1, mn_set_cache(fds[0], bad[i]));
		EXPECT_EQ(EINVAL, errno);
		ASSERT_EQ(0, mn_get_cache(fds[0], &got));
		EXPECT_EQ(good, got);
	}
	EXPECT_EQ(pages0 + 16 * (long long)(good / page), read_num(MN_STAT("cache_pages")));
	/*
	 * Every file claims all of RAM: together they get what the process
	 * holds, at least the 24 MB held here, and no more.
	 */
	for (i = 0; i < 16; i++)
		ASSERT_EQ(0, mn_set_cache(fds[i], total));
	anon = rss_anon_bytes(0);
	sum = read_num(MN_STAT("cache_pages")) - pages0;
	EXPECT_LE(sum, anon / page + read_num(MN_STAT("claim_slack_pages")));
	EXPECT_LE((long long)(hold / page), sum);
	for (i = 0; i < 16; i++)
		close(fds[i]);
	EXPECT_EQ(pages0, read_num(MN_STAT("cache_pages")));
	munmap(held, hold);
}

/*
 * Admission.  An actor is a child process with an identity of its own (a
 * uid, or root of a user namespace) that opens files when told and holds
 * them until it is stopped; its exit closes them.
 */
#define ACTOR_MAX_FDS	512	/* files an actor holds at most */
#define ACTORS		6
#define UNUSED_UID	41000	/* the uids below are UNUSED_UID + 1.. */
#define CT_UID		43000	/* a container's uids and gids 0..7 are CT_UID.. */
#define USERNS_CLONE	"/proc/sys/kernel/unprivileged_userns_clone"

struct actor {
	pid_t pid;
	int cmd;	/* files to open, 0: exit */
	int rep;	/* struct opened per command */
};

struct opened {
	int n;		/* files opened by this command */
	int err;	/* errno of the open that failed, 0 if none did */
};

static void actor_serve(int cmd, int rep)
{
	struct opened o;
	int held = 0, want;

	/* The files stay open until exit closes them. */
	while (read(cmd, &want, sizeof(want)) == sizeof(want) && want > 0) {
		o.n = 0;
		o.err = 0;
		while (o.n < want && held < ACTOR_MAX_FDS) {
			if (mn_open() < 0) {
				o.err = errno;
				break;
			}
			held++;
			o.n++;
		}
		if (write(rep, &o, sizeof(o)) != sizeof(o))
			_exit(101);
	}
	_exit(0);
}

static int become_user(unsigned int uid)
{
	if (setgroups(0, NULL) || setresgid(uid, uid, uid) ||
	    setresuid(uid, uid, uid))
		return errno;
	return 0;
}

/*
 * Enter a new user namespace in which uid and gid 0..count-1 are lower..
 * of the current one, and become its uid and gid 0 (a creator's gid must
 * be mapped too, or a nested namespace cannot be created).  The namespace is owned by @owner
 * (this process becomes that uid first; -1: stay as it is).  The map is
 * written by a forked helper that stays in the current namespace with its
 * capabilities, which writing a map of other ids needs.  0, minus the
 * errno of unshare() (the kernel does not let us have one), or the errno
 * of another step.
 */
static int userns_enter(int owner, unsigned int lower, unsigned int count)
{
	int go[2], r = 0, st;
	pid_t self = getpid(), helper;
	char path[2][64], map[64], c;

	if (prctl(PR_SET_DUMPABLE, 1) || pipe(go))
		return errno;
	helper = fork();
	if (helper < 0)
		return errno;
	if (helper == 0) {
		close(go[1]);
		if (read(go[0], &c, 1) != 1 || c != 'y')
			_exit(0);
		snprintf(path[0], sizeof(path[0]), "/proc/%d/uid_map", (int)self);
		snprintf(path[1], sizeof(path[1]), "/proc/%d/gid_map", (int)self);
		snprintf(map, sizeof(map), "0 %u %u", lower, count);
		if (write_file(path[0], map) || write_file(path[1], map))
			_exit(errno ? errno : EIO);
		_exit(0);
	}
	close(go[0]);
	if (owner >= 0)
		r = become_user(owner);
	if (!r && unshare(CLONE_NEWUSER))
		r = -errno;
	if (write(go[1], r ? "n" : "y", 1) != 1 && !r)
		r = EIO;
	close(go[1]);
	if (waitpid(helper, &st, 0) != helper || !WIFEXITED(st))
		return r ? r : EIO;
	if (r)
		return r;
	if (WEXITSTATUS(st))
		return WEXITSTATUS(st);
	if (setresgid(0, 0, 0) || setresuid(0, 0, 0))
		return errno;
	/* The uid change made us undumpable; a nested helper needs our /proc. */
	return prctl(PR_SET_DUMPABLE, 1) ? errno : 0;
}

struct identity {
	int uid;		/* become this uid (-1: stay root) */
	int ct_lower;		/* then root of a namespace mapped here (-1: none) */
	int nested_lower;	/* then root of one below it, mapped here (-1) */
};

static int identity_setup(const struct identity *id)
{
	int r = 0;

	if (id->ct_lower < 0)
		return id->uid >= 0 ? become_user(id->uid) : 0;
	r = userns_enter(id->uid, id->ct_lower, 8);
	if (!r && id->nested_lower >= 0)
		r = userns_enter(-1, id->nested_lower, 1);
	return r;
}

/* Start an actor; 0, or what its identity setup returned (it is gone). */
static int actor_start(struct actor *a, const struct identity *id)
{
	int cmd[2], rep[2], r = EIO;

	if (pipe(cmd) || pipe(rep))
		return errno;
	a->pid = fork();
	if (a->pid < 0)
		return errno;
	if (a->pid == 0) {
		close(cmd[1]);
		close(rep[0]);
		r = identity_setup(id);
		if (write(rep[1], &r, sizeof(r)) != sizeof(r) || r)
			_exit(100);
		actor_serve(cmd[0], rep[1]);
	}
	close(cmd[0]);
	close(rep[1]);
	a->cmd = cmd[1];
	a->rep = rep[0];
	if (read(a->rep, &r, sizeof(r)) != sizeof(r))
		r = EIO;
	if (r) {
		close(a->cmd);
		close(a->rep);
		waitpid(a->pid, NULL, 0);
		a->pid = 0;
	}
	return r;
}

/* Ask the actor to open up to @want files; what it got. */
static struct opened actor_open(struct actor *a, int want)
{
	struct opened o = { -1, EIO };

	if (write(a->cmd, &want, sizeof(want)) != sizeof(want) ||
	    read(a->rep, &o, sizeof(o)) != sizeof(o))
		o.n = -1;
	return o;
}

/* Stop the actor, closing its files. */
static void actor_stop(struct actor *a)
{
	int zero = 0;

	if (!a->pid)
		return;
	if (write(a->cmd, &zero, sizeof(zero)) != sizeof(zero))
		kill(a->pid, SIGKILL);
	waitpid(a->pid, NULL, 0);
	close(a->cmd);
	close(a->rep);
	a->pid = 0;
}

/* Parameters as found, put back in an order every intermediate state allows. */
FIXTURE(admit) {
	long long max, per_user, reserved, userns_clone;
	long long subs0, users0;
	struct actor actor[ACTORS];
};

FIXTURE_SETUP(admit)
{
	self->max = read_num(MN_PARAM("max_subscribers"));
	self->per_user = read_num(MN_PARAM("max_subscribers_per_user"));
	self->reserved = read_num(MN_PARAM("reserved_subscribers"));
	self->userns_clone = read_num(USERNS_CLONE);
	self->subs0 = read_num(MN_STAT("subscribers"));
	self->users0 = read_num(MN_STAT("users"));
	ASSERT_LT(0, self->max);
	ASSERT_LT(0, self->per_user);
	ASSERT_LE(0, self->reserved);
	ASSERT_LE(0, self->subs0);
	ASSERT_LE(0, self->users0);
}

FIXTURE_TEARDOWN(admit)
{
	for (int i = 0; i < ACTORS; i++)
		actor_stop(&self->actor[i]);
	EXPECT_EQ(0, write_num(MN_PARAM("max_subscribers"), self->max));
	EXPECT_EQ(0, write_num(MN_PARAM("reserved_subscribers"), self->reserved));
	EXPECT_EQ(0, write_num(MN_PARAM("max_subscribers_per_user"), self->per_user));
	if (self->userns_clone >= 0)
		write_num(USERNS_CLONE, self->userns_clone);
	/* Every charge went with its file. */
	EXPECT_EQ(self->subs0, read_num(MN_STAT("subscribers")));
	EXPECT_EQ(self->users0, read_num(MN_STAT("users")));
}

static const struct identity *as_uid(int uid)
{
	static struct identity id;

	id = (struct identity){ uid, -1, -1 };
	return &id;
}

/* Lines an LSM or the audit subsystem logs for a capability check. */
static int kmsg_capability_lines(int kmsg)
{
	char rec[2048];
	int n = 0;
	ssize_t len;

	for (;;) {
		len = read(kmsg, rec, sizeof(rec) - 1);
		if (len < 0 && errno == EPIPE)
			continue;
		if (len <= 0)
			break;
		rec[len] = '\0';
		if (strstr(rec, "capability") || strstr(rec, "audit:") ||
		    strstr(rec, "apparmor=") || strstr(rec, "avc:")) {
			printf("# kernel: %s", rec);
			n++;
		}
	}
	return n;
}

/*
 * Two users each get their own max_subscribers_per_user.  Their opens log
 * no capability check: the module asks for CAP_SYS_RESOURCE without an
 * audit record.  (Only a kernel whose LSM logs capability denials of the
 * process could show one; the test kernels log none either way.)
 */
TEST_F(admit, cap_is_per_user)
{
	int kmsg = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	struct opened o;

	if (kmsg >= 0)
		lseek(kmsg, 0, SEEK_END);
	ASSERT_EQ(0, write_num(MN_PARAM("max_subscribers_per_user"), 4));
	for (int i = 0; i < 2; i++) {
		ASSERT_EQ(0, actor_start(&self->actor[i], as_uid(UNUSED_UID + 1 + i)));
		o = actor_open(&self->actor[i], ACTOR_MAX_FDS);
		EXPECT_EQ(4, o.n) TH_LOG("uid %d", UNUSED_UID + 1 + i);
		EXPECT_EQ(EMFILE, o.err);
	}
	EXPECT_EQ(self->subs0 + 8, read_num(MN_STAT("subscribers")));
	EXPECT_EQ(self->users0 + 2, read_num(MN_STAT("users")));
	/* Closing a user's files gives that user its slots back. */
	actor_stop(&self->actor[0]);
	ASSERT_EQ(0, actor_start(&self->actor[0], as_uid(UNUSED_UID + 1)));
	o = actor_open(&self->actor[0], ACTOR_MAX_FDS);
	EXPECT_EQ(4, o.n);
	if (kmsg >= 0) {
		EXPECT_EQ(0, kmsg_capability_lines(kmsg));
		close(kmsg);
	}
}

/*
 * Unprivileged users at their per-user cap can no longer fill the table:
 * they stop reserved_subscribers short of max_subscribers, and root (with
 * CAP_SYS_RESOURCE) gets exactly those slots, then EMFILE too.
 */
TEST_F(admit, privileged_slots_reserved)
{
	const int reserved = 3, share = 10;
	int fds[3 + 1], i, expect[] = { 4, 4, 2, 0 };
	struct opened o;

	ASSERT_EQ(0, write_num(MN_PARAM("max_subscribers_per_user"), 4));
	ASSERT_EQ(0, write_num(MN_PARAM("max_subscribers"),
			       self->subs0 + share + reserved));
	ASSERT_EQ(0, write_num(MN_PARAM("reserved_subscribers"), reserved));
	for (i = 0; i < 4; i++) {
		ASSERT_EQ(0, actor_start(&self->actor[i], as_uid(UNUSED_UID + 1 + i)));
		o = actor_open(&self->actor[i], ACTOR_MAX_FDS);
		EXPECT_EQ(expect[i], o.n) TH_LOG("user %d", i);
		EXPECT_EQ(EMFILE, o.err);
	}
	EXPECT_EQ(self->subs0 + share, read_num(MN_STAT("subscribers")));
	for (i = 0; i < reserved; i++) {
		fds[i] = mn_open();
		EXPECT_LE(0, fds[i]) TH_LOG("reserved slot %d: %m", i);
	}
	fds[i] = mn_open();
	EXPECT_EQ(-1, fds[i]);
	EXPECT_EQ(EMFILE, errno);
	/* A reserved slot freed again is not for the unprivileged. */
	close(fds[0]);
	fds[0] = -1;
	o = actor_open(&self->actor[3], 1);
	EXPECT_EQ(0, o.n);
	EXPECT_EQ(EMFILE, o.err);
	for (i = 0; i <= reserved; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

/*
 * The same with the parameters as loaded (by default 1024 files, 256 per
 * user, 16 reserved): four users at their cap, which used to fill the
 * whole table, leave root the reserved slots.
 */
TEST_F(admit, defaults_leave_reserved_slots)
{
	long long share = self->max - self->reserved - self->subs0, got = 0;
	int fds[64], i, n;
	struct opened o;

	if (self->per_user > ACTOR_MAX_FDS || self->reserved > 64 ||
	    share < 0 || 4 * self->per_user < share)
		SKIP(return, "parameters changed from the defaults");
	for (i = 0; i < 4; i++) {
		ASSERT_EQ(0, actor_start(&self->actor[i], as_uid(UNUSED_UID + 1 + i)));
		o = actor_open(&self->actor[i], ACTOR_MAX_FDS);
		EXPECT_EQ(EMFILE, o.err);
		EXPECT_GE(self->per_user, o.n);
		got += o.n;
	}
	EXPECT_EQ(share, got);
	for (n = 0; n < self->reserved; n++) {
		fds[n] = mn_open();
		if (fds[n] < 0)
			break;
	}
	EXPECT_EQ(self->reserved, n) TH_LOG("root: %m");
	EXPECT_EQ(self->max, read_num(MN_STAT("subscribers")));
	for (i = 0; i < n; i++)
		close(fds[i]);
}

/*
 * reserved_subscribers is at most max_subscribers when written; all of the
 * table reserved leaves unprivileged users none, and so does lowering
 * max_subscribers below the reservation.
 */
TEST_F(admit, reserved_param_bounded)
{
	long long max = read_num(MN_PARAM("max_subscribers"));
	struct opened o;
	int fd;

	EXPECT_NE(0, write_num(MN_PARAM("reserved_subscribers"), max + 1));
	EXPECT_NE(0, write_num(MN_PARAM("reserved_subscribers"), 65537));
	EXPECT_NE(0, write_file(MN_PARAM("reserved_subscribers"), "-1"));
	EXPECT_NE(0, write_file(MN_PARAM("reserved_subscribers"), "x"));
	EXPECT_EQ(self->reserved, read_num(MN_PARAM("reserved_subscribers")));

	ASSERT_EQ(0, write_num(MN_PARAM("reserved_subscribers"), max));
	ASSERT_EQ(0, actor_start(&self->actor[0], as_uid(UNUSED_UID + 1)));
	o = actor_open(&self->actor[0], 1);
	EXPECT_EQ(0, o.n);
	EXPECT_EQ(EMFILE, o.err);
	fd = mn_open();
	EXPECT_LE(0, fd);
	close(fd);

	ASSERT_EQ(0, write_num(MN_PARAM("reserved_subscribers"), 8));
	o = actor_open(&self->actor[0], 1);
	EXPECT_EQ(1, o.n);
	ASSERT_EQ(0, write_num(MN_PARAM("max_subscribers"), self->subs0 + 4));
	o = actor_open(&self->actor[0], 1);
	EXPECT_EQ(0, o.n);
	EXPECT_EQ(EMFILE, o.err);
	fd = mn_open();
	EXPECT_LE(0, fd);
	close(fd);
}

/*
 * Skip when unshare(CLONE_NEWUSER) is refused (a kernel without user
 * namespaces: the project's own test kernels); fail on any other error.
 */
#define NEED_USERNS(r) do { \
	if ((r) < 0) \
		SKIP(return, "no user namespaces here (%s)", strerror(-(r))); \
	ASSERT_EQ(0, (r)) TH_LOG("user namespace: %s", strerror(r)); \
} while (0)

/*
 * The root of a user namespace (another kuid outside) owned by user U is
 * charged to U as well: U and the container share U's cap.
 */
TEST_F(admit, userns_root_charged_to_owner)
{
	const struct identity ct = { UNUSED_UID + 1, CT_UID, -1 };
	struct opened o;
	int r;

	if (self->userns_clone >= 0)
		write_num(USERNS_CLONE, 1);
	ASSERT_EQ(0, write_num(MN_PARAM("max_subscribers_per_user"), 4));
	r = actor_start(&self->actor[0], &ct);
	NEED_USERNS(r);
	o = actor_open(&self->actor[0], ACTOR_MAX_FDS);
	EXPECT_EQ(4, o.n);
	EXPECT_EQ(EMFILE, o.err);
	/* Charged to its own kuid and its owner's: two users. */
	EXPECT_EQ(self->users0 + 2, read_num(MN_STAT("users")));
	ASSERT_EQ(0, actor_start(&self->actor[1], as_uid(UNUSED_UID + 1)));
	o = actor_open(&self->actor[1], 1);
	EXPECT_EQ(0, o.n) TH_LOG("the owner got a slot its container used");
	EXPECT_EQ(EMFILE, o.err);
	/* Another user's container is not affected. */
	ASSERT_EQ(0, actor_start(&self->actor[2], as_uid(UNUSED_UID + 2)));
	o = actor_open(&self->actor[2], 1);
	EXPECT_EQ(1, o.n);
	/* The container's files gone, the owner has its cap again. */
	actor_stop(&self->actor[0]);
	o = actor_open(&self->actor[1], ACTOR_MAX_FDS);
	EXPECT_EQ(4, o.n);
}

/*
 * A namespace inside a namespace owned by U: its root (a third kuid) is
 * charged to itself, the outer root and U, so U's files, the outer
 * container's and the nested one's together stay within U's cap.
 */
TEST_F(admit, nested_userns_adds_no_slots)
{
	const struct identity ct = { UNUSED_UID + 1, CT_UID, -1 };
	const struct identity nested = { UNUSED_UID + 1, CT_UID, 1 };
	struct opened o;
	int r;

	if (self->userns_clone >= 0)
		write_num(USERNS_CLONE, 1);
	ASSERT_EQ(0, write_num(MN_PARAM("max_subscribers_per_user"), 6));
	ASSERT_EQ(0, actor_start(&self->actor[0], as_uid(UNUSED_UID + 1)));
	o = actor_open(&self->actor[0], 2);
	EXPECT_EQ(2, o.n);
	r = actor_start(&self->actor[1], &ct);
	NEED_USERNS(r);
	o = actor_open(&self->actor[1], 2);
	EXPECT_EQ(2, o.n);
	r = actor_start(&self->actor[2], &nested);
	NEED_USERNS(r);
	o = actor_open(&self->actor[2], ACTOR_MAX_FDS);
	EXPECT_EQ(2, o.n);
	EXPECT_EQ(EMFILE, o.err);
	/* U, CT_UID (the containers' root) and CT_UID + 1 (nested root). */
	EXPECT_EQ(self->users0 + 3, read_num(MN_STAT("users")));
	for (int i = 0; i < 3; i++) {
		o = actor_open(&self->actor[i], 1);
		EXPECT_EQ(0, o.n) TH_LOG("actor %d", i);
		EXPECT_EQ(EMFILE, o.err);
	}
}

TEST_HARNESS_MAIN
