/* API semantics and edge cases of the malloc family, la_stats, options. */
#include <spawn.h>
#include <sys/wait.h>
#include "common.h"

extern char **environ;

/* Hide constant sizes from the compiler's alloc-size checks. */
static size_t H(size_t x)
{
	volatile size_t v = x;
	return v;
}

TEST(malloc_zero_and_free_null)
{
	void *a = malloc(0), *b = malloc(0);
	ASSERT_NE(NULL, a);
	ASSERT_NE(NULL, b);
	ASSERT_NE(a, b);
	free(a);
	free(b);
	free(NULL);
}

TEST(malloc_huge_fails_enomem)
{
	errno = 0;
	ASSERT_EQ(NULL, malloc(H(SIZE_MAX)));
	ASSERT_EQ(ENOMEM, errno);
	errno = 0;
	ASSERT_EQ(NULL, malloc(H(SIZE_MAX / 2 + 1)));
	ASSERT_EQ(ENOMEM, errno);
	errno = 0;
	ASSERT_EQ(NULL, realloc(NULL, H(SIZE_MAX - 100)));
	ASSERT_EQ(ENOMEM, errno);
}

TEST(calloc_overflow)
{
	errno = 0;
	ASSERT_EQ(NULL, calloc(H(SIZE_MAX / 2), 3));
	ASSERT_EQ(ENOMEM, errno);
	errno = 0;
	ASSERT_EQ(NULL, calloc(H((size_t)1 << 33), (size_t)1 << 33));
	ASSERT_EQ(ENOMEM, errno);
	void *p = calloc(0, 10);
	ASSERT_NE(NULL, p);
	free(p);
}

TEST(reallocarray_overflow_keeps_block)
{
	char *p = malloc(64);
	ASSERT_NE(NULL, p);
	pat_fill(p, 64, 7);
	errno = 0;
	ASSERT_EQ(NULL, reallocarray(p, H(SIZE_MAX / 4), 8));
	ASSERT_EQ(ENOMEM, errno);
	ASSERT_TRUE(pat_check(p, 64, 7));
	p = reallocarray(p, 100, 10);
	ASSERT_NE(NULL, p);
	ASSERT_TRUE(pat_check(p, 64, 7));
	free(p);
}

TEST(posix_memalign_bad_alignment)
{
	void *p = (void *)1;
	size_t bad[] = { 0, 1, 2, 3, 4, 12, 24, 48, 100, sizeof(void *) + 1, (size_t)3 << 20 };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ASSERT_EQ(EINVAL, posix_memalign(&p, bad[i], 16)) TH_LOG("align %zu", bad[i]);
		ASSERT_EQ((void *)1, p);
	}
	ASSERT_EQ(ENOMEM, posix_memalign(&p, 64, H(SIZE_MAX - 10)));
	errno = 0;
	ASSERT_EQ(NULL, aligned_alloc(H(24), 48));
	ASSERT_EQ(EINVAL, errno);
}

TEST(realloc_semantics)
{
	/* NULL behaves as malloc, 0 frees and returns NULL (glibc) */
	char *p = realloc(NULL, 100);
	ASSERT_NE(NULL, p);
	ASSERT_EQ(NULL, realloc(p, 0));
	/* shrink in place inside a size class */
	p = malloc(1000);
	pat_fill(p, 1000, 3);
	ASSERT_EQ(p, realloc(p, 900));
	ASSERT_TRUE(pat_check(p, 900, 3));
	/* grow within usable size stays in place */
	size_t us = malloc_usable_size(p);
	ASSERT_GE(us, 900);
	ASSERT_EQ(p, realloc(p, us));
	free(p);
	/* large span: grow in place into free slices that follow */
	char *a = malloc(1 << 20);
	ASSERT_NE(NULL, a);
	free(a);
	p = malloc(128 << 10);
	ASSERT_NE(NULL, p);
	pat_fill(p, 128 << 10, 9);
	char *q = realloc(p, 512 << 10);
	ASSERT_EQ(p, q) TH_LOG("large block did not grow in place");
	ASSERT_TRUE(pat_check(q, 128 << 10, 9));
	pat_fill(q, 512 << 10, 10);
	ASSERT_EQ(q, realloc(q, 200 << 10)); /* shrink in place */
	ASSERT_TRUE(pat_check(q, 200 << 10, 10));
	free(q);
	/* huge: mremap keeps contents */
	p = malloc(5 << 20);
	pat_fill(p, 5 << 20, 11);
	p = realloc(p, 40 << 20);
	ASSERT_NE(NULL, p);
	ASSERT_TRUE(pat_check(p, 5 << 20, 11));
	p = realloc(p, 3 << 20);
	ASSERT_TRUE(pat_check(p, 3 << 20, 11));
	p = realloc(p, 100); /* huge -> small copies */
	ASSERT_TRUE(pat_check(p, 100, 11));
	free(p);
}

TEST(realloc_grow_shrink_chain)
{
	/* every tier in both directions, contents preserved throughout */
	size_t sizes[] = { 1, 7, 16, 100, 1000, 5000, 70000, 300000, 2100000, 9000000,
			   200000, 3000, 24, 1 };
	char *p = NULL;
	size_t prev = 0;
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		p = realloc(p, sizes[i]);
		ASSERT_NE(NULL, p);
		size_t keep = prev < sizes[i] ? prev : sizes[i];
		ASSERT_TRUE(pat_check(p, keep, 42)) TH_LOG("step %zu", i);
		pat_fill(p, sizes[i], 42);
		prev = sizes[i];
	}
	free(p);
}

TEST(usable_size_covers_request)
{
	for (size_t n = 1; n < (3 << 20); n = n * 5 / 4 + 1) {
		unsigned char *p = malloc(n);
		ASSERT_NE(NULL, p);
		size_t us = malloc_usable_size(p);
		ASSERT_GE(us, n);
		ASSERT_LE(us, n < 64 ? 64 : n * 2 + 65536);
		memset(p, 0x5a, us); /* whole usable size is writable */
		if (n > 8)
			ASSERT_TRUE(is_aligned(p, 16));
		free(p);
	}
	ASSERT_EQ(0, malloc_usable_size(NULL));
}

TEST(calloc_zeroes_reused_memory)
{
	size_t sizes[] = { 8, 24, 100, 1024, 4000, 40000, 200000, 1500000, 6000000 };
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		for (int r = 0; r < 4; r++) {
			unsigned char *p = malloc(sizes[i]);
			ASSERT_NE(NULL, p);
			memset(p, 0xAA, sizes[i]);
			free(p);
			unsigned char *q = calloc(1, sizes[i]);
			ASSERT_NE(NULL, q);
			size_t k = 0;
			while (k < sizes[i] && q[k] == 0)
				k++;
			ASSERT_EQ(sizes[i], k) TH_LOG("size %zu: byte %zu not zero", sizes[i], k);
			free(q);
		}
	}
}

TEST(valloc_pvalloc)
{
	long ps = sysconf(_SC_PAGESIZE);
	void *p = valloc(10);
	ASSERT_TRUE(is_aligned(p, (size_t)ps));
	free(p);
	p = pvalloc(ps + 1);
	ASSERT_TRUE(is_aligned(p, (size_t)ps));
	ASSERT_GE(malloc_usable_size(p), (size_t)(2 * ps));
	free(p);
	p = pvalloc(0);
	ASSERT_NE(NULL, p);
	free(p);
	ASSERT_GE(malloc_trim(0), 0);
}

/* Proves allocations are served by liballoc (no silent fallback to libc). */
TEST(liballoc_serves_allocations)
{
	struct la_stats st = stats_now();
	ASSERT_EQ(LA_STATS_VERSION, st.version);
	ASSERT_EQ(sizeof st, st.size);
	void *v[1000];
	for (int i = 0; i < 1000; i++)
		v[i] = malloc(1000);
	struct la_stats st2 = stats_now();
	ASSERT_GE(st2.bytes_in_use, st.bytes_in_use + 1000 * 1000);
	ASSERT_GE(st2.segments, 1);
	for (int i = 0; i < 1000; i++)
		free(v[i]);
	struct la_stats st3 = stats_now();
	ASSERT_LE(st3.bytes_in_use, st.bytes_in_use + 4096);
	/* the C library's own allocations come here too (musl: __libc_malloc) */
	posix_spawn_file_actions_t fa;
	char path[600];
	memset(path, 'x', sizeof path - 1);
	path[0] = '/';
	path[sizeof path - 1] = 0;
	ASSERT_EQ(0, posix_spawn_file_actions_init(&fa));
	st = stats_now();
	for (int i = 0; i < 500; i++)
		ASSERT_EQ(0, posix_spawn_file_actions_addopen(&fa, 3, path, O_RDONLY, 0));
	st2 = stats_now();
	ASSERT_GE(st2.bytes_in_use, st.bytes_in_use + 500 * 500);
	posix_spawn_file_actions_destroy(&fa);
	st3 = stats_now();
	ASSERT_LE(st3.bytes_in_use, st.bytes_in_use + 4096);
}

TEST(stats_versioning)
{
	struct la_stats st;
	memset(&st, 0xff, sizeof st);
	ASSERT_EQ(-1, la_stats(NULL));
	st.size = 4;
	ASSERT_EQ(-1, la_stats(&st));
	/* an older, shorter struct: only its prefix is written */
	memset(&st, 0xee, sizeof st);
	st.version = 1;
	st.size = 16;
	ASSERT_EQ(0, la_stats(&st));
	ASSERT_EQ(16, st.size);
	unsigned char *c = (unsigned char *)&st;
	for (size_t i = 16; i < sizeof st; i++)
		ASSERT_EQ(0xee, c[i]);
}

/* Child mode: allocate a little and exit (used by bad_env_value_warns). */
static int child_main(void)
{
	void *p = malloc(100);
	free(p);
	return 0;
}

TEST(bad_env_value_warns_once)
{
	int fds[2];
	ASSERT_EQ(0, pipe(fds));
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
	posix_spawn_file_actions_addclose(&fa, fds[0]);
	char *argv[] = { "t_api", "--child", NULL };
	char *envp[] = { "LIBALLOC_TCACHE_PAGES=lots", "LIBALLOC_HUGE_THRESHOLD=1k",
			 "LIBALLOC_SHOW_STATS=0", NULL };
	pid_t pid;
	ASSERT_EQ(0, posix_spawn(&pid, "/proc/self/exe", &fa, NULL, argv, envp));
	close(fds[1]);
	char buf[1024];
	size_t len = 0;
	ssize_t n;
	while ((n = read(fds[0], buf + len, sizeof buf - 1 - len)) > 0)
		len += (size_t)n;
	buf[len] = 0;
	close(fds[0]);
	int status;
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_EQ(0, status);
	int lines = 0;
	for (char *c = buf; *c; c++)
		lines += *c == '\n';
	ASSERT_EQ(2, lines) TH_LOG("stderr was: %s", buf);
	ASSERT_NE(NULL, strstr(buf, "LIBALLOC_TCACHE_PAGES='lots'"));
	ASSERT_NE(NULL, strstr(buf, "LIBALLOC_HUGE_THRESHOLD='1k'"));
	posix_spawn_file_actions_destroy(&fa);
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "--child"))
		return child_main();
	return test_harness_run(argc, argv);
}
