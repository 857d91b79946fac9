/* Configuration: LIBALLOC_* environment variables, read once at init straight
 * from environ (no getenv, no allocation). A bad value prints one warning line
 * on stderr and keeps the default. */
#include <string.h>
#include <unistd.h>
#include "internal.h"

extern char **environ;

la_options_t la_opt = {
	.large_max = LA_LARGE_MAX_DEFAULT,
	.tcache_pages = 1,
	.show_stats = 0,
	.large_cache = (size_t)4 << 20,
	.monitor = LA_MODE_AUTO,
	.uring = 1,
	.verbose = 0,
	.decay_ms = 5000,
	.adaptive = 1,
};

_Atomic(uint16_t) la_tcache_cap[LA_NCLASSES];

void la_write_err(const char *s)
{
	size_t n = strlen(s);
	while (n) {
		ssize_t w = write(2, s, n);
		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

#ifdef LA_DEBUG
void la_assert_fail(const char *what, const char *file, int line)
{
	char num[24];
	*la_fmt_u64(num, (uint64_t)line) = 0;
	la_write_err("liballoc: internal invariant failed: ");
	la_write_err(what);
	la_write_err(" (");
	la_write_err(file);
	la_write_err(":");
	la_write_err(num);
	la_write_err(")\n");
	abort();
}
#endif

static const char *env_lookup(const char *name)
{
	size_t len = strlen(name);
	if (!environ)
		return NULL;
	for (char **e = environ; *e; e++)
		if (!strncmp(*e, name, len) && (*e)[len] == '=')
			return *e + len + 1;
	return NULL;
}

/* Parse a decimal size with optional k/m/g suffix (powers of 1024). */
static bool parse_size(const char *s, size_t *out)
{
	size_t v = 0;
	if (!*s)
		return false;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (v > (SIZE_MAX - 9) / 10)
			return false;
		v = v * 10 + (size_t)(*s - '0');
	}
	unsigned shift = 0;
	if (*s == 'k' || *s == 'K')
		shift = 10, s++;
	else if (*s == 'm' || *s == 'M')
		shift = 20, s++;
	else if (*s == 'g' || *s == 'G')
		shift = 30, s++;
	if (*s)
		return false;
	if (shift && v > (SIZE_MAX >> shift))
		return false;
	*out = v << shift;
	return true;
}

static void warn_bad(const char *name, const char *val)
{
	la_write_err("liballoc: warning: ignoring invalid ");
	la_write_err(name);
	la_write_err("='");
	la_write_err(val);
	la_write_err("', keeping the default\n");
}

/* Read NAME into *out if set and within [lo, hi]. */
static void opt_size(const char *name, size_t lo, size_t hi, size_t *out)
{
	const char *v = env_lookup(name);
	size_t x;
	if (!v)
		return;
	if (!parse_size(v, &x) || x < lo || x > hi)
		warn_bad(name, v);
	else
		*out = x;
}

void la_options_init(void)
{
	size_t x;

	x = la_opt.large_max;
	opt_size("LIBALLOC_HUGE_THRESHOLD", LA_MEDIUM_MAX, LA_LARGE_MAX_LIMIT, &x);
	la_opt.large_max = x;

	x = la_opt.tcache_pages;
	opt_size("LIBALLOC_TCACHE_PAGES", 0, 1000, &x);
	la_opt.tcache_pages = (unsigned)x;

	x = la_opt.large_cache;
	opt_size("LIBALLOC_LARGE_CACHE", 0, (size_t)1 << 30, &x);
	la_opt.large_cache = x;

	const char *v = env_lookup("LIBALLOC_MONITOR");
	if (v) {
		static const char *const modes[] = { "off", "auto", "memnotify", "psi" };
		unsigned m = 0;
		while (m < 4 && strcmp(v, modes[m]))
			m++;
		if (m < 4)
			la_opt.monitor = (int)m;
		else
			warn_bad("LIBALLOC_MONITOR", v);
	}
	v = env_lookup("LIBALLOC_DECAY_MS");
	if (v) {
		if (!strcmp(v, "-1"))
			la_opt.decay_ms = -1;
		else if (parse_size(v, &x) && x <= 3600000)
			la_opt.decay_ms = (long)x;
		else
			warn_bad("LIBALLOC_DECAY_MS", v);
	}
	x = (size_t)la_opt.uring;
	opt_size("LIBALLOC_URING", 0, 1, &x);
	la_opt.uring = (int)x;
	x = (size_t)la_opt.verbose;
	opt_size("LIBALLOC_VERBOSE", 0, 1, &x);
	la_opt.verbose = (int)x;
	x = (size_t)la_opt.adaptive;
	opt_size("LIBALLOC_ADAPTIVE", 0, 1, &x);
	la_opt.adaptive = (int)x;

	x = (size_t)la_opt.show_stats;
	opt_size("LIBALLOC_SHOW_STATS", 0, 1, &x);
	la_opt.show_stats = (int)x;

	atomic_store_explicit(&la_monitor_pending, la_opt.monitor != LA_MODE_OFF,
			      memory_order_relaxed);

	/* Classes on 512 KiB pages retain none: their queue head already keeps
	 * one page per class, and each extra one would pin half a MiB. */
	for (unsigned c = 0; c < LA_NCLASSES; c++)
		atomic_store_explicit(&la_tcache_cap[c],
				      (uint16_t)(la_class_size[c] <= LA_SMALL_PAGE_MAX ?
						 la_opt.tcache_pages : 0),
				      memory_order_relaxed);
}
