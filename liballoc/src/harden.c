/* Hardening support: the process secret behind free-list keys and segment
 * cookies, and the one-line reports of misuse (bad free, double free,
 * corrupted free list, failed debug assertion). Nothing here allocates:
 * reports are formatted on the stack and written with one write(2) before
 * abort(). */
#define _GNU_SOURCE
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "internal.h"

uintptr_t la_secret;
static uint64_t key_secret[2]; /* page keys: a second, independent secret */

/* splitmix64's finaliser: a bijective mix, so distinct inputs stay distinct */
static uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* getrandom(2) when the kernel has entropy ready (GRND_NONBLOCK: never block
 * a process that allocates early in boot); otherwise the kernel's per-exec
 * AT_RANDOM bytes (the half glibc does not use for its stack guard), mixed
 * with ASLR'd addresses and the clock. Called once, before any block exists. */
void la_secret_init(void)
{
	uint64_t v[3] = { 0, 0, 0 };
#ifdef SYS_getrandom
	if (syscall(SYS_getrandom, v, sizeof v, 1 /* GRND_NONBLOCK */) != (long)sizeof v)
		v[0] = v[1] = v[2] = 0;
#endif
	if (!(v[0] | v[1] | v[2])) {
		const unsigned char *r = (const unsigned char *)getauxval(AT_RANDOM);
		struct timespec ts = { 0, 0 };
		clock_gettime(CLOCK_MONOTONIC, &ts);
		uint64_t seed = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32);
		if (r)
			memcpy(&v[0], r + 8, sizeof v[0]);
		seed ^= mix64(v[0] ^ (uint64_t)(uintptr_t)&v) ^ (uint64_t)(uintptr_t)&la_secret;
		for (int i = 0; i < 3; i++)
			v[i] = mix64(seed += 0x9e3779b97f4a7c15ULL);
	}
	la_secret = (uintptr_t)v[0];
	key_secret[0] = v[1];
	key_secret[1] = v[2];
}

/* A fresh free-list key for a span (caller holds the pool lock). Two rounds
 * keyed by two secrets, so one page's key, if learnt, does not give away the
 * others. The top bit is set so that a cleared first word (0) never looks
 * like a link. */
uintptr_t la_page_key_next(void)
{
	static uint64_t ctr;
	uint64_t k = mix64(mix64(key_secret[0] ^ ++ctr) + key_secret[1]);
	return (uintptr_t)(k | (1ULL << 63));
}

/* huge_mac binds a huge header's size and block to the secret: changing
 * either without knowing it changes the mac unpredictably. */
uintptr_t la_huge_mac(const la_segment_t *s)
{
	return (uintptr_t)(mix64(la_secret ^ s->map_size ^ ((uint64_t)(uintptr_t)s << 7)) ^
			   s->huge_block);
}

static char *put_str(char *p, char *end, const char *s)
{
	while (*s && p < end)
		*p++ = *s++;
	return p;
}

static char *put_hex(char *p, char *end, uintptr_t v)
{
	char tmp[2 * sizeof v];
	int n = 0;
	do {
		tmp[n++] = "0123456789abcdef"[v & 15];
		v >>= 4;
	} while (v);
	p = put_str(p, end, "0x");
	while (n && p < end)
		*p++ = tmp[--n];
	return p;
}

static __attribute__((noreturn)) void die(const char *buf, size_t len)
{
	while (len) {
		ssize_t w = write(2, buf, len);
		if (w <= 0)
			break;
		buf += w;
		len -= (size_t)w;
	}
	abort();
}

void la_fatal(const char *who, const char *what, const void *p, const char *why)
{
	char buf[256], *q = buf, *end = buf + sizeof buf - 1;
	q = put_str(q, end, "liballoc: ");
	if (who) {
		q = put_str(q, end, who);
		q = put_str(q, end, "(): ");
	}
	q = put_str(q, end, what);
	q = put_str(q, end, " ");
	q = put_hex(q, end, (uintptr_t)p);
	if (why) {
		q = put_str(q, end, " ");
		q = put_str(q, end, why);
	}
	*q++ = '\n';
	die(buf, (size_t)(q - buf));
}

void la_assert_fail(const char *cond, const char *file, int line)
{
	char buf[256], *q = buf, *end = buf + sizeof buf - 1;
	q = put_str(q, end, "liballoc: assertion failed: ");
	q = put_str(q, end, cond);
	q = put_str(q, end, " at ");
	q = put_str(q, end, file);
	q = put_str(q, end, ":");
	char num[12];
	int n = 0;
	unsigned u = (unsigned)line;
	do {
		num[n++] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	while (n && q < end)
		*q++ = num[--n];
	*q++ = '\n';
	die(buf, (size_t)(q - buf));
}
