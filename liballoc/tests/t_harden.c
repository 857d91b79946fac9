/* A hardened heap: every misuse of free/realloc/malloc_usable_size that is
 * cheap to recognise aborts with one line on stderr, and a write after free
 * cannot make malloc hand out memory outside the heap.
 *
 * Each misuse runs in a forked child with its stderr captured; the parent
 * asserts SIGABRT and the exact line (call, kind of misuse, the pointer).
 * Works in a static musl binary (fork, pipe, no shell). */
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include "common.h"

#define MiB ((size_t)1 << 20)

/* Hide a pointer from the compiler's use-after-free/free-nonheap checks. */
static void *hide(void *p)
{
	__asm__ volatile("" : "+r"(p));
	return p;
}

struct outcome {
	int status;
	char err[2048];
};

/* Run fn in a child; collect its exit status and stderr. */
static struct outcome run_child(void (*fn)(void))
{
	struct outcome o;
	int fd[2];
	memset(&o, 0, sizeof o);
	if (pipe(fd))
		abort();
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid < 0)
		abort();
	if (pid == 0) {
		struct rlimit no_core = { 0, 0 };
		setrlimit(RLIMIT_CORE, &no_core);
		dup2(fd[1], 2);
		close(fd[0]);
		close(fd[1]);
		fn();
		_exit(0);
	}
	close(fd[1]);
	size_t len = 0;
	ssize_t r;
	while (len < sizeof o.err - 1 && (r = read(fd[0], o.err + len, sizeof o.err - 1 - len)) > 0)
		len += (size_t)r;
	o.err[len] = 0;
	close(fd[0]);
	while (waitpid(pid, &o.status, 0) < 0 && errno == EINTR)
		;
	return o;
}

/* The pointer the child names in its message (shared through a pipe-free
 * channel: a MAP_SHARED page set up before fork). */
static uintptr_t *named;

static void name_ptr(const void *p)
{
	*named = (uintptr_t)p;
}

/* The child must die of SIGABRT after printing exactly one line
 * "liballoc: <call>(): <what> 0x<named pointer>..." */
#define EXPECT_ABORT(fn, call_what)                                                       \
	do {                                                                              \
		*named = 0;                                                               \
		struct outcome o_ = run_child(fn);                                        \
		char want_[160];                                                          \
		snprintf(want_, sizeof want_, "liballoc: %s 0x%lx", call_what,            \
			 (unsigned long)*named);                                          \
		TH_LOG("child stderr: %s", o_.err);                                       \
		ASSERT_TRUE(WIFSIGNALED(o_.status));                                      \
		ASSERT_EQ(SIGABRT, WTERMSIG(o_.status));                                  \
		ASSERT_NE(0, *named);                                                     \
		ASSERT_TRUE(strncmp(o_.err, want_, strlen(want_)) == 0);                  \
		ASSERT_TRUE(o_.err[strlen(want_)] == ' ' || o_.err[strlen(want_)] == '\n'); \
		char *nl_ = strchr(o_.err, '\n');                                         \
		ASSERT_TRUE(nl_ != NULL && nl_[1] == 0); /* one line */                   \
	} while (0)

/* ---- double frees ---- */
static void df_local(void)
{
	char *p = malloc(32);
	name_ptr(p);
	free(p);
	free(hide(p));
}

/* not the list head any more: found by walking the page's free list */
static void df_local_buried(void)
{
	char *p = malloc(48), *q = malloc(48), *r = malloc(48);
	name_ptr(p);
	free(p);
	free(q);
	free(r);
	free(hide(p));
}

static void df_medium(void)
{
	char *p = malloc(20000), *q = malloc(20000);
	name_ptr(p);
	free(p);
	free(q);
	free(hide(p));
}

static void *free_it(void *p)
{
	free(p);
	return NULL;
}

static void *free_it_twice(void *p)
{
	free(p);
	free(hide(p));
	return NULL;
}

static void in_thread(void *(*fn)(void *), void *arg)
{
	pthread_t t;
	if (pthread_create(&t, NULL, fn, arg) || pthread_join(t, NULL))
		abort();
}

/* freed twice by a thread that does not own the page */
static void df_remote(void)
{
	char *p = malloc(64);
	name_ptr(p);
	in_thread(free_it_twice, p);
}

/* freed by another thread, then by the owner */
static void df_remote_then_owner(void)
{
	char *p = malloc(80), *q = malloc(80);
	name_ptr(p);
	in_thread(free_it, q);
	in_thread(free_it, p);
	free(hide(p));
}

/* freed by two other threads */
static void df_two_remote(void)
{
	char *p = malloc(96);
	name_ptr(p);
	in_thread(free_it, p);
	in_thread(free_it, hide(p));
}

static void df_large(void)
{
	char *p = malloc(200000);
	name_ptr(p);
	free(p);
	free(hide(p)); /* the span sits in this thread's large cache */
}

static void df_huge(void)
{
	char *p = malloc(8 * MiB);
	name_ptr(p);
	free(p); /* cached: out of the segment map, with no live block */
	free(hide(p));
}

TEST(double_free_local) { EXPECT_ABORT(df_local, "free(): double free of"); }
TEST(double_free_local_not_head) { EXPECT_ABORT(df_local_buried, "free(): double free of"); }
TEST(double_free_medium) { EXPECT_ABORT(df_medium, "free(): double free of"); }
TEST(double_free_remote) { EXPECT_ABORT(df_remote, "free(): double free of"); }
TEST(double_free_remote_then_owner) { EXPECT_ABORT(df_remote_then_owner, "free(): double free of"); }
TEST(double_free_two_remote) { EXPECT_ABORT(df_two_remote, "free(): double free of"); }
TEST(double_free_large) { EXPECT_ABORT(df_large, "free(): double free of"); }
TEST(double_free_huge) { EXPECT_ABORT(df_huge, "free(): invalid pointer"); }

/* a large span given back to the pool: its slices are free */
static void df_large_pooled(void)
{
	char *p = malloc(300000);
	name_ptr(p);
	free(p);
	la_flush_thread();
	free(hide(p));
}
TEST(double_free_large_pooled) { EXPECT_ABORT(df_large_pooled, "free(): invalid pointer"); }

/* ---- pointers that are not a block start ---- */
static void in_small(void)
{
	char *p = malloc(64);
	name_ptr(p + 16);
	free(p + 16);
}

static void in_medium(void)
{
	char *p = malloc(30000);
	name_ptr(p + 4096);
	free(p + 4096);
}

static void in_large(void)
{
	char *p = malloc(500000);
	name_ptr(p + 65536);
	free(p + 65536);
}

static void in_huge(void)
{
	char *p = malloc(6 * MiB);
	name_ptr(p + 64);
	free(p + 64);
}

/* the header slice of a segment */
static void in_header(void)
{
	char *p = malloc(64);
	char *h = (char *)(((uintptr_t)p - 1) & ~(uintptr_t)(4 * MiB - 1)) + 256;
	name_ptr(h);
	free(h);
}

static void in_realloc(void)
{
	char *p = malloc(200);
	name_ptr(p + 8);
	p = realloc(p + 8, 300);
}

static void in_usable(void)
{
	char *p = malloc(1000);
	name_ptr(p + 100);
	(void)malloc_usable_size(p + 100);
}

TEST(interior_small) { EXPECT_ABORT(in_small, "free(): invalid pointer"); }
TEST(interior_medium) { EXPECT_ABORT(in_medium, "free(): invalid pointer"); }
TEST(interior_large) { EXPECT_ABORT(in_large, "free(): invalid pointer"); }
TEST(interior_huge) { EXPECT_ABORT(in_huge, "free(): invalid pointer"); }
TEST(segment_header) { EXPECT_ABORT(in_header, "free(): invalid pointer"); }
TEST(interior_realloc) { EXPECT_ABORT(in_realloc, "realloc(): invalid pointer"); }
TEST(interior_usable_size) { EXPECT_ABORT(in_usable, "malloc_usable_size(): invalid pointer"); }

/* ---- use of a freed block by realloc / malloc_usable_size ---- */
static void uaf_realloc(void)
{
	char *p = malloc(100), *q = malloc(100);
	name_ptr(p);
	free(p);
	free(q);
	p = realloc(hide(p), 50);
}

static void *usable_size_of(void *p)
{
	return (void *)malloc_usable_size(p);
}

static void uaf_usable_remote(void)
{
	char *p = malloc(100);
	name_ptr(p);
	free(p);
	in_thread(usable_size_of, hide(p));
}
TEST(freed_block_realloc) { EXPECT_ABORT(uaf_realloc, "realloc(): use after free of"); }
TEST(freed_block_usable_size) { EXPECT_ABORT(uaf_usable_remote, "malloc_usable_size(): use after free of"); }

/* ---- foreign pointers ---- */
static void fo_stack(void)
{
	char buf[64];
	name_ptr(buf + 16);
	free(hide(buf + 16));
}

static void fo_mmap(void)
{
	char *m = mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		abort();
	name_ptr(m + 64);
	free(m + 64);
}

/* A segment-aligned mapping dressed up as a segment: every word of its first
 * 64 KiB set to 1 (kind NORMAL in the old layout, slice_back 1, ...). */
static void fo_fake_segment(void)
{
	size_t seg = 4 * MiB;
	char *m = mmap(NULL, 3 * seg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		abort();
	char *s = (char *)(((uintptr_t)m + seg - 1) & ~(uintptr_t)(seg - 1));
	for (size_t i = 0; i < 65536 / sizeof(uint64_t); i++)
		((uint64_t *)s)[i] = 1;
	name_ptr(s + 65536 + 64);
	free(s + 65536 + 64);
}

/* A segment of ours, emptied and unmapped after this thread's last free
 * went into it, then mapped again by the program with an exact copy of its
 * header (cookie and page descriptors included): a free into it must be
 * reported, not served from the thread's memory of the segment. */
static void fo_reused_segment(void)
{
	size_t seg = 4 * MiB, n = 20 * MiB / 64;
	char **v = mmap(NULL, n * sizeof *v, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (v == MAP_FAILED)
		abort();
	for (size_t i = 0; i < n; i++)
		if (!(v[i] = malloc(64)))
			abort();
	uintptr_t s = (uintptr_t)v[n / 2] & ~(uintptr_t)(seg - 1);
	static char hdr[65536];
	memcpy(hdr, (void *)s, sizeof hdr);
	char *victim = NULL;
	for (size_t i = 0; i < n; i++)
		if (((uintptr_t)v[i] & ~(uintptr_t)(seg - 1)) != s)
			free(v[i]);
	for (size_t i = 0; i < n; i++)
		if (((uintptr_t)v[i] & ~(uintptr_t)(seg - 1)) == s)
			free(victim = v[i]); /* the last free goes into s */
	malloc_trim(0);
	char *m = mmap((void *)s, seg, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (m != (char *)s)
		_exit(3); /* s was not unmapped: the scenario did not happen */
	memcpy(m, hdr, sizeof hdr);
	name_ptr(victim);
	free(hide(victim));
}

static void fo_static(void)
{
	static char data[256];
	name_ptr(data + 32);
	free(hide(data + 32));
}

/* below the first 4 MiB (a static binary's data on riscv64 and arm64 lies
 * there): its segment would be NULL, which no lookup may take for ours */
static void fo_low(void)
{
	char *p = (char *)(uintptr_t)0x10040;
	name_ptr(p);
	free(hide(p));
}

TEST(foreign_stack) { EXPECT_ABORT(fo_stack, "free(): invalid pointer"); }
TEST(foreign_low_address) { EXPECT_ABORT(fo_low, "free(): invalid pointer"); }
TEST(foreign_mmap) { EXPECT_ABORT(fo_mmap, "free(): invalid pointer"); }
TEST(foreign_segment_aligned) { EXPECT_ABORT(fo_fake_segment, "free(): invalid pointer"); }
TEST(foreign_static) { EXPECT_ABORT(fo_static, "free(): invalid pointer"); }
TEST(foreign_reused_segment) { EXPECT_ABORT(fo_reused_segment, "free(): invalid pointer"); }

/* ---- a write after free never steers malloc outside the heap ----
 * The child overwrites a freed block's first word with an address of the
 * attacker's choice, then allocates that class many times. Allowed: an
 * abort with a liballoc line, or pointers that all lie in the heap (same
 * 4 MiB segment as the blocks of this page and accepted by
 * malloc_usable_size). Exit 3 = it returned the attacker's address or one
 * outside the heap. */
static uintptr_t target;

static void uaf_spin(char *p, size_t n)
{
	uintptr_t seg = (uintptr_t)p & ~(uintptr_t)(4 * MiB - 1);
	for (int i = 0; i < 5000; i++) {
		char *r = malloc(n);
		if (!r || (uintptr_t)r == target || ((uintptr_t)r & ~(uintptr_t)(4 * MiB - 1)) != seg)
			_exit(3);
		(void)malloc_usable_size(r);
	}
}

static void uaf_owner(void)
{
	char *p = malloc(64), *q = malloc(64);
	(void)q;
	name_ptr(p);
	free(p);
	memcpy(hide(p), &target, sizeof target);
	uaf_spin(p, 64);
}

static void uaf_remote(void)
{
	char *p = malloc(64), *q = malloc(64);
	name_ptr(p);
	in_thread(free_it, q);
	in_thread(free_it, p); /* p heads the page's remote-free list */
	memcpy(hide(p), &target, sizeof target);
	uaf_spin(p, 64);
}

static void check_uaf(struct __test_metadata *_metadata, void (*fn)(void), uintptr_t t)
{
	target = t;
	*named = 0;
	struct outcome o = run_child(fn);
	TH_LOG("target %#lx: child status %#x, stderr: %s", (unsigned long)t, o.status, o.err);
	ASSERT_FALSE(WIFEXITED(o.status) && WEXITSTATUS(o.status) == 3);
	if (WIFSIGNALED(o.status)) {
		ASSERT_EQ(SIGABRT, WTERMSIG(o.status));
		ASSERT_TRUE(strstr(o.err, "liballoc: ") == o.err);
		ASSERT_TRUE(strstr(o.err, "corrupted") != NULL);
	} else {
		ASSERT_TRUE(WIFEXITED(o.status) && WEXITSTATUS(o.status) == 0);
	}
}

TEST(write_after_free_owner)
{
	char local;
	check_uaf(_metadata, uaf_owner, 0x4141414141414141ULL);
	check_uaf(_metadata, uaf_owner, (uintptr_t)&local);
	check_uaf(_metadata, uaf_owner, 0);
}

TEST(write_after_free_remote)
{
	char local;
	check_uaf(_metadata, uaf_remote, 0x4141414141414141ULL);
	check_uaf(_metadata, uaf_remote, (uintptr_t)&local);
	check_uaf(_metadata, uaf_remote, 0);
}

/* ---- no false alarms ----
 * Live blocks whose first word is never written, is zero, or holds pointers
 * into the same page (a linked structure) are freed normally, by the owner
 * and by other threads, and realloc/malloc_usable_size accept them. */
#define NB 4000
static char *blk[NB];

static void *free_half(void *arg)
{
	(void)arg;
	for (int i = 1; i < NB; i += 2)
		free(blk[i]);
	return NULL;
}

TEST(no_false_alarms)
{
	for (int round = 0; round < 4; round++) {
		for (int i = 0; i < NB; i++) {
			blk[i] = malloc(16 + (size_t)(i % 7) * 16);
			ASSERT_NE(NULL, blk[i]);
		}
		for (int i = 0; i < NB; i++) {
			switch (round) {
			case 0: /* untouched */
				break;
			case 1:
				memset(blk[i], 0, 8);
				break;
			case 2: /* pointer to a neighbour, likely in the same page */
				memcpy(blk[i], &blk[(i + 1) % NB], sizeof(char *));
				break;
			case 3: /* pointer to itself */
				memcpy(blk[i], &blk[i], sizeof(char *));
				break;
			}
			ASSERT_GE(malloc_usable_size(blk[i]), 16);
		}
		for (int i = 0; i < NB; i += 3)
			blk[i] = realloc(blk[i], 16 + (size_t)(i % 7) * 16);
		pthread_t t;
		ASSERT_EQ(0, pthread_create(&t, NULL, free_half, NULL));
		ASSERT_EQ(0, pthread_join(t, NULL));
		for (int i = 0; i < NB; i += 2)
			free(blk[i]);
	}
	/* every tier, freed by the owner */
	static const size_t sz[] = { 8, 1024, 9000, 65536, 70000, 2 * MiB, 3 * MiB, 9 * MiB };
	for (size_t k = 0; k < sizeof sz / sizeof *sz; k++) {
		char *p = malloc(sz[k]);
		ASSERT_NE(NULL, p);
		ASSERT_GE(malloc_usable_size(p), sz[k]);
		free(p);
	}
	/* aligned large and huge blocks start inside their span */
	static void *a;
	ASSERT_EQ(0, posix_memalign(&a, 1 * MiB, 300000));
	ASSERT_GE(malloc_usable_size(a), 300000);
	free(a);
	ASSERT_EQ(0, posix_memalign(&a, 8 * MiB, 5 * MiB));
	ASSERT_GE(malloc_usable_size(a), 5 * MiB);
	free(a);
}

int main(int argc, char **argv)
{
	named = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (named == MAP_FAILED)
		return 1;
	return test_harness_run(argc, argv);
}
