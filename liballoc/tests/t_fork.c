/* fork() from a multithreaded process while other threads allocate; the
 * child must be able to malloc/free (and start threads) without deadlock. */
#include <pthread.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include "common.h"

static atomic_int stop;

static void *churn(void *arg)
{
	uint64_t s = (uintptr_t)arg;
	void *v[256] = { 0 };
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		unsigned k = (unsigned)(rnd(&s) % 256);
		free(v[k]);
		size_t n = rnd(&s) % 4 ? rnd(&s) % 512 : rnd(&s) % 100000;
		v[k] = malloc(n);
		memset(v[k], 0x33, n);
	}
	for (int i = 0; i < 256; i++)
		free(v[i]);
	return NULL;
}

static void *child_thread(void *arg)
{
	(void)arg;
	for (int i = 0; i < 10000; i++)
		free(malloc((size_t)i % 2000 + 1));
	return NULL;
}

static int child_work(void)
{
	uint64_t s = 99;
	static void *v[512];
	static size_t n[512];
	for (int i = 0; i < 20000; i++) {
		unsigned k = (unsigned)(rnd(&s) % 512);
		if (v[k]) {
			if (!pat_check(v[k], n[k], k))
				return 1;
			free(v[k]);
		}
		n[k] = rnd(&s) % 5000 + 1;
		v[k] = malloc(n[k]);
		if (!v[k])
			return 2;
		pat_fill(v[k], n[k], k);
	}
	pthread_t t;
	if (pthread_create(&t, NULL, child_thread, NULL))
		return 3;
	pthread_join(t, NULL);
	for (int k = 0; k < 512; k++)
		free(v[k]);
	return 0;
}

TEST(fork_while_threads_allocate)
{
	enum { T = 3 };
	pthread_t th[T];
	for (int i = 0; i < T; i++)
		ASSERT_EQ(0, pthread_create(&th[i], NULL, churn, (void *)(uintptr_t)(i + 5)));
	double end = now_s() + LA_TEST_BUDGET_S;
	for (int f = 0; f < 30 && (f < 3 || now_s() < end); f++) {
		void *p = malloc(1000); /* parent keeps allocating too */
		pid_t pid = fork();
		ASSERT_GE(pid, 0);
		if (pid == 0)
			_exit(child_work());
		int status = -1;
		ASSERT_EQ(pid, waitpid(pid, &status, 0));
		ASSERT_TRUE(WIFEXITED(status)) TH_LOG("child %d died: status %d", f, status);
		ASSERT_EQ(0, WEXITSTATUS(status)) TH_LOG("child %d", f);
		free(p);
	}
	atomic_store(&stop, 1);
	for (int i = 0; i < T; i++)
		pthread_join(th[i], NULL);
}

/* fork while threads start, leave blocks behind and exit (their pages are
 * abandoned, adopted and reaped meanwhile): the child allocates every class
 * (adopting what it finds), frees the blocks the exited threads left, and
 * exits cleanly. */
#define LEFT_SLOTS 2048
static _Atomic(void *) left[LEFT_SLOTS];

static void *exit_leaving_blocks(void *arg)
{
	uint64_t s = (uintptr_t)arg;
	for (int i = 0; i < 200; i++) {
		size_t n = rnd(&s) % 3000 + 1;
		void *p = malloc(n);
		if (p)
			memset(p, 0x11, n);
		free(atomic_exchange(&left[rnd(&s) % LEFT_SLOTS], p));
	}
	return NULL;
}

static void *thread_churn(void *arg)
{
	uint64_t s = (uintptr_t)arg;
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		pthread_t t[4];
		for (int i = 0; i < 4; i++)
			if (pthread_create(&t[i], NULL, exit_leaving_blocks, (void *)(uintptr_t)(rnd(&s) | 1)))
				return (void *)1;
		for (int i = 0; i < 4; i++)
			pthread_join(t[i], NULL);
	}
	return NULL;
}

TEST(fork_during_thread_churn)
{
	pthread_t th[2];
	atomic_store(&stop, 0);
	for (int i = 0; i < 2; i++)
		ASSERT_EQ(0, pthread_create(&th[i], NULL, thread_churn, (void *)(uintptr_t)(i + 11)));
	double end = now_s() + LA_TEST_BUDGET_S / 2;
	for (int f = 0; f < 20 && (f < 3 || now_s() < end); f++) {
		pid_t pid = fork();
		ASSERT_GE(pid, 0);
		if (pid == 0) {
			for (int k = 0; k < LEFT_SLOTS; k++)
				free(atomic_exchange(&left[k], NULL));
			_exit(child_work());
		}
		int status = -1;
		ASSERT_EQ(pid, waitpid(pid, &status, 0));
		ASSERT_TRUE(WIFEXITED(status)) TH_LOG("child %d died: status %d", f, status);
		ASSERT_EQ(0, WEXITSTATUS(status)) TH_LOG("child %d", f);
	}
	atomic_store(&stop, 1);
	for (int i = 0; i < 2; i++) {
		void *r = (void *)1;
		pthread_join(th[i], &r);
		ASSERT_EQ(NULL, r);
	}
	for (int k = 0; k < LEFT_SLOTS; k++)
		free(atomic_exchange(&left[k], NULL));
}

TEST_HARNESS_MAIN
