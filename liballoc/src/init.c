/* Process and thread bootstrap. Nothing here allocates through malloc before
 * la_initialized is set: options come from environ, heaps from mmap, and TLS
 * is initial-exec (no __tls_get_addr, hence no allocation on first access).
 * Threads get a heap on their first slow-path allocation; a pthread key
 * destructor hands it back at thread exit; pthread_atfork makes fork safe. */
#include <sched.h>
#include "internal.h"
#include "monitor/monitor.h"

_Atomic(int) la_initialized;
static _Atomic(int) init_state; /* 0 none, 1 in progress, 2 done (key ready) */
static pthread_key_t heap_key;

static void thread_done(void *arg)
{
	la_heap_t *h = arg;
	la_tl_heap = &la_heap_empty;
	if (h)
		la_heap_detach(h);
}

/* fork: every lock liballoc owns is held across fork, so the child finds
 * each structure consistent and each lock free. The order is the global
 * lock order: the monitor's lock, the heap registry, every heap's cache
 * lock (registry order), the abandoned lock (the abandoned stacks are
 * lock-free; every push and take runs under a heap lock or this one, so no
 * chain is in flight at fork), the pool. Nothing takes them
 * in another order: the monitor reaches the others only from under its own
 * lock, and cache locks, abandoned and pool locks are never held while
 * taking a lock earlier in the list. */
static void fork_prepare(void)
{
	la_monitor_fork_prepare();
	pthread_mutex_lock(&la_heaps_lock);
	la_heaps_fork_prepare();
	pthread_mutex_lock(&la_abandoned_lock);
	pthread_mutex_lock(&la_pool_lock);
}

static void fork_parent(void)
{
	pthread_mutex_unlock(&la_pool_lock);
	pthread_mutex_unlock(&la_abandoned_lock);
	la_heaps_fork_parent();
	pthread_mutex_unlock(&la_heaps_lock);
	la_monitor_fork_parent();
}

static void fork_child(void)
{
	/* Other threads' heaps stay registered (their pages are simply never
	 * reused in the child); only the locks need fresh state. */
	pthread_mutex_init(&la_pool_lock, NULL);
	pthread_mutex_init(&la_abandoned_lock, NULL);
	la_heaps_fork_child();
	pthread_mutex_init(&la_heaps_lock, NULL);
	la_monitor_fork_child();
}

void la_init_slow(void)
{
	int expected = 0;
	if (atomic_compare_exchange_strong(&init_state, &expected, 1)) {
		la_secret_init();  /* before any segment, cookie or page key */
		la_segmap_init();
		la_classes_init();
		la_options_init();
		la_tcache_init();
		la_monitor_init();
		(void)la_os_page_size(); /* cache it before any thread can race on it */
		atomic_store_explicit(&la_initialized, 1, memory_order_release);
		/* From here malloc works; these two may allocate (they don't on
		 * glibc or musl, but recursion would be safe). */
		pthread_key_create(&heap_key, thread_done);
		pthread_atfork(fork_prepare, fork_parent, fork_child);
		atomic_store_explicit(&init_state, 2, memory_order_release);
		/* a heap attached by a recursive malloc above is handed back at
		 * this thread's exit like any other */
		if (la_tl_heap != &la_heap_empty)
			pthread_setspecific(heap_key, la_tl_heap);
		return;
	}
	while (!atomic_load_explicit(&la_initialized, memory_order_acquire))
		sched_yield();
}

la_heap_t *la_thread_heap_slow(void)
{
	la_ensure_init();
	la_heap_t *h = la_heap_attach();
	if (!h)
		return NULL;
	la_tl_heap = h;
	if (atomic_load_explicit(&init_state, memory_order_acquire) == 2)
		pthread_setspecific(heap_key, h);
	/* else: the initialising thread during key creation; la_init_slow
	 * registers it once the key exists. */
	la_monitor_heap_attached();
	return h;
}

__attribute__((constructor)) static void la_ctor(void)
{
	la_ensure_init();
}

__attribute__((destructor)) static void la_dtor(void)
{
	if (la_opt.show_stats)
		la_print_stats();
}
