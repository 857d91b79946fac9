/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The LIBALLOC_STATS_SIGNAL syntax, shared by liballoc-stat (which sends the
 * signal) and its preload helper (which catches it): USR1, USR2, RTMIN+N or
 * a number, with or without "SIG".  parse_signal() returns 0 for anything
 * else, and for SIGKILL and SIGSTOP.
 */
#ifndef LIBALLOC_STAT_SIGNAL_H
#define LIBALLOC_STAT_SIGNAL_H

#include <signal.h>
#include <stdlib.h>
#include <string.h>

static int parse_signal(const char *s)
{
	char *end;
	long n;

	if (!strncmp(s, "SIG", 3))
		s += 3;
	if (!strcmp(s, "USR1"))
		return SIGUSR1;
	if (!strcmp(s, "USR2"))
		return SIGUSR2;
	if (!strncmp(s, "RTMIN+", 6)) {
		n = strtol(s + 6, &end, 10);
		return (!*end && end != s + 6 && n >= 0 && SIGRTMIN + n <= SIGRTMAX) ?
			(int)(SIGRTMIN + n) : 0;
	}
	n = strtol(s, &end, 10);
	if (*end || end == s || n <= 0 || n > SIGRTMAX || n == SIGKILL || n == SIGSTOP)
		return 0;
	return (int)n;
}

#endif
