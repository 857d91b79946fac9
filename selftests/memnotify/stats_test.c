// SPDX-License-Identifier: GPL-2.0
/* Statistics in /sys/module/memnotify/stats/. */
#include "memnotify_test.h"

static const char *const stat_names[] = {
	"pressure_low", "pressure_medium", "pressure_critical", "reclaim",
	"idle", "active", "delivered", "coalesced", "dropped", "rate_limited",
	"shrinker_count", "shrinker_scan", "reclaim_pages", "oom", "threshold",
	"injected", "opens", "subscribers", "subscribers_peak", "cache_pages",
	"memory_bytes", "shrinker_scan_visits", "shrinker_scan_ns",
	"shrinker_handoffs", "claims_clamped", "shrinker_batch",
	"claim_slack_pages", "samples", "requested_bytes", "released_bytes",
	"releases", "release_latency_lt_1ms", "release_latency_lt_10ms",
	"release_latency_lt_100ms", "release_latency_lt_1s",
	"release_latency_ge_1s", "users",
};

static long long st_get(const char *name)
{
	char path[128];

	snprintf(path, sizeof(path), MN_STAT("%s"), name);
	return read_num(path);
}

TEST(all_present_and_read_only)
{
	char path[128];

	for (unsigned int i = 0; i < sizeof(stat_names) / sizeof(stat_names[0]); i++) {
		snprintf(path, sizeof(path), MN_STAT("%s"), stat_names[i]);
		EXPECT_LE(0, read_num(path)) TH_LOG("%s", path);
		EXPECT_NE(0, write_file(path, "0")) TH_LOG("%s", path);
	}
}

TEST(counters_move)
{
	long long inj = st_get("injected"), low = st_get("pressure_low");
	long long crit = st_get("pressure_critical"), del = st_get("delivered");
	long long req = st_get("requested_bytes"), rec = st_get("reclaim");
	long long opens = st_get("opens");
	struct memnotify_event ev;
	int fd = mn_open_nb();

	ASSERT_LE(0, fd);
	EXPECT_EQ(opens + 1, st_get("opens"));
	EXPECT_LE(st_get("subscribers"), st_get("subscribers_peak"));
	ASSERT_EQ(0, mn_inject(fd, MEMNOTIFY_EVENT_PRESSURE,
			       MEMNOTIFY_LEVEL_LOW, 0, 0));
	ASSERT_EQ(0, mn_inject(fd, MEMNOTIFY_EVENT_PRESSURE,
			       MEMNOTIFY_LEVEL_CRITICAL, 0, 0));
	ASSERT_EQ(0, mn_inject(fd, MEMNOTIFY_EVENT_RECLAIM, 0, 0, 1));
	ASSERT_EQ(0, mn_inject(fd, MEMNOTIFY_EVENT_RECLAIM, 0, 0, 1));
	EXPECT_EQ(inj + 4, st_get("injected"));
	EXPECT_LE(low + 1, st_get("pressure_low"));
	EXPECT_LE(crit + 1, st_get("pressure_critical"));
	EXPECT_LE(rec + 2, st_get("reclaim"));
	/* Requests are counted, not queued: two records delivered. */
	EXPECT_LE(del + 2, st_get("delivered"));
	EXPECT_LE(req + 2, st_get("requested_bytes"));
	while (read(fd, &ev, sizeof(ev)) > 0)
		;
	close(fd);
}

TEST(cache_pages)
{
	long long page = sysconf(_SC_PAGESIZE), before = st_get("cache_pages");
	__u64 bytes = 100 * page + 1;
	void *held = hold_anon(1 << 20);	/* a claim must be held */
	int fd = mn_open();

	ASSERT_NE(NULL, held);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, mn_set_cache(fd, bytes));
	EXPECT_EQ(before + 100, st_get("cache_pages"));
	close(fd);
	EXPECT_EQ(before, st_get("cache_pages"));
	munmap(held, 1 << 20);
}

/*
 * The available-memory sampler runs only while a file is open: no wakeups
 * for nobody, and a first sample as soon as someone subscribes.
 */
TEST(sampler_only_while_subscribed)
{
	long long ms = read_num(MN_PARAM("sample_ms")), s0;
	uint64_t t0;
	int fd;

	ASSERT_LT(0, ms);
	if (st_get("subscribers"))
		SKIP(return, "another process holds /dev/memnotify open");
	s0 = st_get("samples");
	usleep(2 * ms * 1000 + 200000);
	EXPECT_EQ(s0, st_get("samples"));
	fd = mn_open();
	ASSERT_LE(0, fd);
	t0 = now_ns();
	while (st_get("samples") == s0 && now_ns() - t0 < 2000000000ull)
		usleep(10000);
	EXPECT_LT(s0, st_get("samples"));
	close(fd);
}

TEST_HARNESS_MAIN
