/* Runs under LD_PRELOAD=liballoc.so: checks that liballoc, not glibc, serves
 * malloc, libc-internal allocations (fopen, strdup) and aligned allocations.
 * Exits 0 if so; prints what failed otherwise. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "liballoc.h"

static uint64_t in_use(int (*fn)(struct la_stats *))
{
	struct la_stats st = { .version = LA_STATS_VERSION, .size = sizeof st };
	fn(&st);
	return st.bytes_in_use;
}

int main(void)
{
	int (*fn)(struct la_stats *) = (int (*)(struct la_stats *))dlsym(RTLD_DEFAULT, "la_stats");
	if (!fn) {
		puts("la_stats not found: liballoc is not loaded");
		return 1;
	}
	uint64_t a = in_use(fn);
	void *v[4096];
	for (int i = 0; i < 4096; i++)
		v[i] = malloc(1024);
	uint64_t b = in_use(fn);
	if (b < a + 4096 * 1024) {
		printf("malloc not served by liballoc: %llu -> %llu\n", (unsigned long long)a,
		       (unsigned long long)b);
		return 1;
	}
	for (int i = 0; i < 4096; i++)
		free(v[i]);
	/* glibc-internal allocations: FILE buffers and strdup */
	a = in_use(fn);
	FILE *f[64];
	char *s[64];
	for (int i = 0; i < 64; i++) {
		f[i] = fopen("/proc/self/stat", "r");
		s[i] = strdup("liballoc probe string that is long enough to matter .......");
	}
	b = in_use(fn);
	if (b < a + 64 * 400) {
		printf("glibc internal allocations not served: %llu -> %llu\n",
		       (unsigned long long)a, (unsigned long long)b);
		return 1;
	}
	for (int i = 0; i < 64; i++) {
		fclose(f[i]);
		free(s[i]);
	}
	void *p = aligned_alloc(4096, 100000);
	if (!p || (uintptr_t)p % 4096) {
		puts("aligned_alloc");
		return 1;
	}
	free(p);
	puts("liballoc serves allocations");
	return 0;
}
