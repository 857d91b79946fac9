/* Configuration: LIBALLOC_* environment variables, read once at init straight
 * from environ (no getenv, no allocation). A bad value prints one warning line
 * on stderr and keeps the default. Also the two helpers that write to stderr
 * without allocating (la_write_err, la_fmt_u64). */
#include <string.h>
#include <unistd.h>
#include "internal.h"

extern char **environ;

la_options_t la_opt;

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

char *la_fmt_u64(char *p, uint64_t v)
{
	char tmp[24];
	int n = 0;
	do
		tmp[n++] = (char)('0' + v % 10);
	while ((v /= 10));
	while (n)
		*p++ = tmp[--n];
	return p;
}


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

/* ---- parsers: text -> value, false if malformed ---- */

/* Decimal, no sign, no suffix. */
static bool parse_uint(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	if (!*s)
		return false;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (v > (UINT64_MAX - 9) / 10)
			return false;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = v;
	return !*s;
}

/* Decimal with an optional k/m/g suffix (powers of 1024). */
static bool parse_size(const char *s, uint64_t *out)
{
	char num[24];
	size_t n = strlen(s);
	unsigned shift = 0;
	if (n && (s[n - 1] == 'k' || s[n - 1] == 'K'))
		shift = 10;
	else if (n && (s[n - 1] == 'm' || s[n - 1] == 'M'))
		shift = 20;
	else if (n && (s[n - 1] == 'g' || s[n - 1] == 'G'))
		shift = 30;
	if (shift)
		n--;
	if (!n || n >= sizeof num)
		return false;
	memcpy(num, s, n);
	num[n] = 0;
	uint64_t v;
	if (!parse_uint(num, &v) || v > (UINT64_MAX >> shift))
		return false;
	*out = v << shift;
	return true;
}

/* Milliseconds, or -1 (stored as UINT64_MAX) for "never". */
static bool parse_ms(const char *s, uint64_t *out)
{
	if (!strcmp(s, "-1")) {
		*out = UINT64_MAX;
		return true;
	}
	return parse_uint(s, out);
}

static const char *const monitor_modes[] = { "off", "auto", "memnotify", "psi" };

static bool parse_mode(const char *s, uint64_t *out)
{
	for (uint64_t m = 0; m < sizeof monitor_modes / sizeof monitor_modes[0]; m++)
		if (!strcmp(s, monitor_modes[m])) {
			*out = m;
			return true;
		}
	return false;
}

/* ---- the options: one row each (README.md's configuration table is this
 * table). A value is accepted if it parses and lies in [lo, hi]; parse_ms's
 * -1 is accepted besides the range. ---- */
struct la_option {
	const char *name;
	const char *def;      /* default, as it would be written in the environment */
	uint64_t lo, hi;
	bool (*parse)(const char *s, uint64_t *out);
	size_t off, width;    /* field of la_opt */
	const char *help;
};

#define FIELD(f) offsetof(la_options_t, f), sizeof(((la_options_t *)0)->f)
static const struct la_option options[] = {
	{ "LIBALLOC_TCACHE_PAGES", "1", 0, 1000, parse_uint, FIELD(tcache_pages),
	  "empty 64 KiB pages a thread keeps per size class; classes on 512 KiB pages keep none" },
	{ "LIBALLOC_HUGE_THRESHOLD", "2M", LA_MEDIUM_MAX, LA_LARGE_MAX_LIMIT, parse_size,
	  FIELD(large_max), "sizes above go directly to mmap" },
	{ "LIBALLOC_LARGE_CACHE", "4M", 0, (uint64_t)1 << 30, parse_size, FIELD(large_cache),
	  "bytes of freed large spans (at most 8) a thread keeps for reuse without the pool lock" },
	{ "LIBALLOC_HUGE_CACHE", "64M", 0, (uint64_t)1 << 40, parse_size, FIELD(huge_cache),
	  "bytes of freed huge blocks (at most 8) kept for reuse; returned on decay and every pressure event" },
	{ "LIBALLOC_MONITOR", "auto", LA_MODE_OFF, LA_MODE_PSI, parse_mode, FIELD(monitor),
	  "event source of the memory-pressure monitor: off, auto, memnotify or psi" },
	{ "LIBALLOC_DECAY_MS", "5000", 0, 3600000, parse_ms, FIELD(decay_ms),
	  "quiet time after which cached memory is returned gradually; -1 disables" },
	{ "LIBALLOC_ADAPTIVE", "1", 0, 1, parse_uint, FIELD(adaptive),
	  "1: the monitor adapts per-class thread-cache capacity to refill rates" },
	{ "LIBALLOC_URING", "1", 0, 1, parse_uint, FIELD(uring),
	  "0: the monitor waits with poll(2) instead of io_uring" },
	{ "LIBALLOC_VERBOSE", "0", 0, 1, parse_uint, FIELD(verbose),
	  "1: the monitor logs its source and each event to stderr" },
	{ "LIBALLOC_SHOW_STATS", "0", 0, 1, parse_uint, FIELD(show_stats),
	  "1: print la_stats to stderr at exit" },
};
#undef FIELD

static bool option_value(const struct la_option *o, const char *s, uint64_t *v)
{
	if (!o->parse(s, v))
		return false;
	return (o->parse == parse_ms && *v == UINT64_MAX) || (*v >= o->lo && *v <= o->hi);
}

/* Store v into the option's field (integer of 4 or 8 bytes; -1 for
 * parse_ms's UINT64_MAX). */
static void option_store(const struct la_option *o, uint64_t v)
{
	char *f = (char *)&la_opt + o->off;
	if (o->width == sizeof(uint64_t)) {
		memcpy(f, &v, sizeof v);
	} else {
		uint32_t w = (uint32_t)v;
		memcpy(f, &w, sizeof w);
	}
}

static void warn_bad(const char *name, const char *val)
{
	la_write_err("liballoc: warning: ignoring invalid ");
	la_write_err(name);
	la_write_err("='");
	la_write_err(val);
	la_write_err("', keeping the default\n");
}

void la_options_init(void)
{
	for (size_t i = 0; i < sizeof options / sizeof options[0]; i++) {
		const struct la_option *o = &options[i];
		uint64_t v;
		bool ok = option_value(o, o->def, &v);
		LA_ASSERT(ok);
		(void)ok;
		option_store(o, v);
		const char *e = env_lookup(o->name);
		if (!e)
			continue;
		if (option_value(o, e, &v))
			option_store(o, v);
		else
			warn_bad(o->name, e);
	}

}
