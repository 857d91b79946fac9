// SPDX-License-Identifier: GPL-2.0
/*
 * The state page: mmap() of one read-only page that follows the fd's
 * state (the same values as MEMNOTIFY_IOC_GET_STATE), stays valid and keeps
 * the subscription alive after close(), and can never be made writable.
 */
#include "memnotify_test.h"

#define KB 1024ull

FIXTURE(page) {
	int fd;
	size_t len;
	const struct memnotify_state_page *st;
};

FIXTURE_SETUP(page)
{
	void *p;

	self->len = (size_t)sysconf(_SC_PAGESIZE);
	self->fd = mn_open_nb();
	ASSERT_LE(0, self->fd);
	p = mmap(NULL, self->len, PROT_READ, MAP_SHARED, self->fd, 0);
	ASSERT_NE(MAP_FAILED, p);
	self->st = p;
}

FIXTURE_TEARDOWN(page)
{
	munmap((void *)self->st, self->len);
	if (self->fd >= 0)
		close(self->fd);
}

/* A consistent copy of the page (seqcount-style reader). */
static struct memnotify_state_page snapshot(const struct memnotify_state_page *p)
{
	struct memnotify_state_page s;
	__u64 g;

	do {
		g = __atomic_load_n(&p->generation, __ATOMIC_ACQUIRE);
		memcpy(&s, (const void *)p, sizeof(s));
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
	} while ((g & 1) || g != __atomic_load_n(&p->generation, __ATOMIC_RELAXED));
	s.generation = g;
	return s;
}

static void expect_matches(struct __test_metadata *_metadata, int fd,
			   const struct memnotify_state_page *p)
{
	struct memnotify_state_page s = snapshot(p);
	struct memnotify_state st;

	ASSERT_EQ(0, mn_get_state(fd, &st));
	EXPECT_EQ(st.generation, s.generation);
	EXPECT_EQ(st.level, s.level);
	EXPECT_EQ(st.level_ns, s.level_ns);
	EXPECT_EQ(st.pending_bytes, s.pending_bytes);
	EXPECT_EQ(st.request_seq, s.request_seq);
}

TEST_F(page, values_match_get_state)
{
	struct memnotify_event ev;
	__u64 g0;

	EXPECT_EQ(sizeof(struct memnotify_state_page), self->st->size);
	EXPECT_EQ(MEMNOTIFY_ABI_VERSION, self->st->version);
	EXPECT_EQ(0, self->st->reserved);
	expect_matches(_metadata, self->fd, self->st);
	g0 = snapshot(self->st).generation;
	EXPECT_EQ(0, g0 & 1);

	ASSERT_EQ(0, mn_inject(self->fd, MEMNOTIFY_EVENT_PRESSURE,
			       MEMNOTIFY_LEVEL_CRITICAL, 0, 0));
	EXPECT_EQ(g0 + 2, snapshot(self->st).generation);
	EXPECT_EQ(MEMNOTIFY_LEVEL_CRITICAL, self->st->level);
	expect_matches(_metadata, self->fd, self->st);

	ASSERT_EQ(0, mn_inject(self->fd, MEMNOTIFY_EVENT_RECLAIM, 0, 0, 24 * KB));
	EXPECT_EQ(g0 + 4, snapshot(self->st).generation);
	EXPECT_EQ(24 * KB, self->st->pending_bytes);
	EXPECT_EQ(1, self->st->request_seq);
	expect_matches(_metadata, self->fd, self->st);

	/* Reading the request empties the counter, and the page says so. */
	ASSERT_EQ((ssize_t)MN_REC, read(self->fd, &ev, sizeof(ev)));
	ASSERT_EQ(MEMNOTIFY_EVENT_RECLAIM, ev.type);
	EXPECT_EQ(0, self->st->pending_bytes);
	EXPECT_EQ(g0 + 6, snapshot(self->st).generation);
	expect_matches(_metadata, self->fd, self->st);
	/* Reading a queued record changes nothing on the page. */
	ASSERT_EQ((ssize_t)MN_REC, read(self->fd, &ev, sizeof(ev)));
	EXPECT_EQ(g0 + 6, snapshot(self->st).generation);
}

/* A second mapping of the same fd shows the same page. */
TEST_F(page, two_mappings_one_page)
{
	const struct memnotify_state_page *b;

	b = mmap(NULL, self->len, PROT_READ, MAP_PRIVATE, self->fd, 0);
	ASSERT_NE(MAP_FAILED, b);
	ASSERT_EQ(0, mn_inject(self->fd, MEMNOTIFY_EVENT_RECLAIM, 0, 0, 4 * KB));
	EXPECT_EQ(snapshot(self->st).generation, snapshot(b).generation);
	EXPECT_EQ(4 * KB, b->pending_bytes);
	munmap((void *)b, self->len);
}

/*
 * After close() the mapping keeps the subscription: events still reach it
 * and the page follows them; munmap() ends it.
 */
TEST_F(page, survives_close)
{
	long long subs = read_num(MN_STAT("subscribers"));
	__u64 g0 = snapshot(self->st).generation;
	int other = mn_open();

	ASSERT_LE(0, other);
	ASSERT_EQ(subs + 1, read_num(MN_STAT("subscribers")));
	ASSERT_EQ(0, close(self->fd));
	self->fd = -1;
	EXPECT_EQ(subs + 1, read_num(MN_STAT("subscribers")));
	ASSERT_EQ(0, mn_inject(other, MEMNOTIFY_EVENT_RECLAIM, 0,
			       MEMNOTIFY_INJECT_ALL, 8 * KB));
	EXPECT_EQ(g0 + 2, snapshot(self->st).generation);
	EXPECT_EQ(8 * KB, self->st->pending_bytes);
	ASSERT_EQ(0, mn_inject(other, MEMNOTIFY_EVENT_PRESSURE,
			       MEMNOTIFY_LEVEL_LOW, MEMNOTIFY_INJECT_ALL, 0));
	EXPECT_EQ(MEMNOTIFY_LEVEL_LOW, self->st->level);
	EXPECT_EQ(g0 + 4, snapshot(self->st).generation);
	ASSERT_EQ(0, munmap((void *)self->st, self->len));
	self->st = mmap(NULL, self->len, PROT_READ, MAP_SHARED, other, 0);
	ASSERT_NE(MAP_FAILED, self->st);
	/* The fixture's subscription ended with its last mapping. */
	EXPECT_EQ(subs, read_num(MN_STAT("subscribers")));
	self->fd = other;
}

TEST_F(page, writable_refused)
{
	int rw = open(MN_DEV, O_RDWR | O_CLOEXEC);
	void *p;

	/* A file opened read-only: mmap() itself refuses shared writing. */
	p = mmap(NULL, self->len, PROT_READ | PROT_WRITE, MAP_SHARED, self->fd, 0);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EACCES, errno);
	/* Opened read-write: memnotify refuses it. */
	ASSERT_LE(0, rw);
	p = mmap(NULL, self->len, PROT_READ | PROT_WRITE, MAP_SHARED, rw, 0);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EPERM, errno);
	p = mmap(NULL, self->len, PROT_READ, MAP_SHARED, rw, 0);
	ASSERT_NE(MAP_FAILED, p);
	EXPECT_EQ(-1, mprotect(p, self->len, PROT_READ | PROT_WRITE));
	EXPECT_EQ(EACCES, errno);
	munmap(p, self->len);
	close(rw);
	p = mmap(NULL, self->len, PROT_READ | PROT_WRITE, MAP_PRIVATE, self->fd, 0);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EPERM, errno);
	EXPECT_EQ(-1, mprotect((void *)self->st, self->len, PROT_READ | PROT_WRITE));
	EXPECT_EQ(EACCES, errno);
	p = mmap(NULL, self->len, PROT_READ, MAP_PRIVATE, self->fd, 0);
	ASSERT_NE(MAP_FAILED, p);
	EXPECT_EQ(-1, mprotect(p, self->len, PROT_READ | PROT_WRITE));
	EXPECT_EQ(EACCES, errno);
	munmap(p, self->len);
	/* The page still reads, and still matches. */
	expect_matches(_metadata, self->fd, self->st);
}

TEST_F(page, wrong_offset_or_size_refused)
{
	void *p;

	p = mmap(NULL, self->len, PROT_READ, MAP_SHARED, self->fd, self->len);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EINVAL, errno);
	p = mmap(NULL, 2 * self->len, PROT_READ, MAP_SHARED, self->fd, 0);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EINVAL, errno);
}

/* The page is counted in memory_bytes while its subscriber lives. */
TEST(page_memory_accounted)
{
	size_t len = (size_t)sysconf(_SC_PAGESIZE);
	long long before;
	void *p;
	int fd = mn_open();

	ASSERT_LE(0, fd);
	before = read_num(MN_STAT("memory_bytes"));
	p = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, p);
	EXPECT_EQ(before + (long long)len, read_num(MN_STAT("memory_bytes")));
	munmap(p, len);
	close(fd);
}

TEST_HARNESS_MAIN
