// SPDX-License-Identifier: GPL-2.0
/*
 * cache-service: a toy service built against liballoc with pkg-config.
 * It serves bursts of "requests" (allocations of mixed sizes kept in a
 * table, then dropped), and between bursts uses liballoc's API the way a
 * real service would:
 *   - la_flush_thread() after a burst: the worker's cached pages go to the
 *     pool;
 *   - la_trim(0) when it decides to idle: free memory goes back to the OS;
 *   - the memory-pressure monitor (la_monitor_start): it reacts to memnotify
 *     or PSI events by itself; here one CRITICAL event is handed to it with
 *     la_monitor_inject() and the service waits for la_stats to show it.
 * Prints one "name value" line per figure and exits 1 if an API did not do
 * what its contract says.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <liballoc.h>
#include <linux/memnotify.h>

#define SLOTS 4096

static void *slot[SLOTS];
static int failures;

static struct la_stats snap(void)
{
	struct la_stats st = { .version = LA_STATS_VERSION, .size = sizeof(st) };

	if (la_stats(&st)) {
		fprintf(stderr, "cache-service: la_stats failed\n");
		exit(1);
	}
	return st;
}

static uint64_t cached(const struct la_stats *st)
{
	uint64_t c = st->bytes_pool_dirty;

	for (int t = 0; t < LA_TIER_COUNT; t++)
		c += st->bytes_thread_cached[t] + st->bytes_abandoned_cached[t];
	return c;
}

static void check(int ok, const char *what)
{
	printf("check %s %s\n", what, ok ? "ok" : "FAILED");
	failures += !ok;
}

/* One burst: fill every slot with a request buffer, touch it, drop it. */
static void burst(unsigned seed)
{
	for (int i = 0; i < SLOTS; i++) {
		size_t n = 64 + (size_t)((seed * 2654435761u + (unsigned)i * 40503u) % 16384);

		slot[i] = malloc(n);
		if (!slot[i]) {
			fprintf(stderr, "cache-service: out of memory\n");
			exit(1);
		}
		memset(slot[i], (int)i, n);
	}
	for (int i = 0; i < SLOTS; i++)
		free(slot[i]);
}

int main(void)
{
	struct la_stats st;
	struct timespec tick = { 0, 10 * 1000 * 1000 };
	uint64_t before;
	size_t released;
	int source = la_monitor_start();

	printf("monitor_source %d\n", source);
	for (unsigned b = 1; b <= 4; b++)
		burst(b);
	st = snap();
	printf("after_bursts bytes_in_use %llu cached %llu resident %llu\n",
	       (unsigned long long)st.bytes_in_use, (unsigned long long)cached(&st),
	       (unsigned long long)st.bytes_resident);
	check(st.bytes_in_use < ((uint64_t)1 << 20), "all_requests_freed");

	la_flush_thread();
	st = snap();
	printf("after_flush_thread thread_cached %llu pool_dirty %llu\n",
	       (unsigned long long)(st.bytes_thread_cached[0] + st.bytes_thread_cached[1] +
				    st.bytes_thread_cached[2]),
	       (unsigned long long)st.bytes_pool_dirty);

	before = st.bytes_resident;
	released = la_trim(0);
	st = snap();
	printf("after_trim released %zu resident %llu\n", released,
	       (unsigned long long)st.bytes_resident);
	check(released > 0 && st.bytes_resident < before, "la_trim_released_memory");

	/* Monitor: fill the caches again and let it react to a CRITICAL event. */
	burst(5);
	if (source > 0) {
		uint64_t events = snap().monitor_events;

		if (la_monitor_inject(MEMNOTIFY_EVENT_PRESSURE, MEMNOTIFY_LEVEL_CRITICAL, 0)) {
			check(0, "monitor_inject");
		} else {
			for (int i = 0; i < 500 && snap().monitor_events == events; i++)
				nanosleep(&tick, NULL);
			st = snap();
			printf("after_critical monitor_events %llu monitor_released %llu\n",
			       (unsigned long long)st.monitor_events,
			       (unsigned long long)st.monitor_released);
			check(st.monitor_events > events, "monitor_handled_event");
		}
	}
	printf("result %s\n", failures ? "FAILED" : "ok");
	return failures ? 1 : 0;
}
