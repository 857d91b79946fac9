/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Quiet console around tests that drive the machine into the OOM killer.
 *
 * An OOM kill prints a report with a stack dump ("Call Trace:") on the
 * console, which the QEMU runner treats as a kernel failure.  While such a
 * test runs, the console log level is lowered to 3 so that the expected
 * report stays in the kernel log only, and afterwards the test reads every
 * kernel message logged meanwhile from /dev/kmsg and fails on anything
 * that is not part of an OOM report: WARNING, BUG, Oops, KASAN, panic.
 */
#ifndef MN_KMSG_H
#define MN_KMSG_H

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

struct quiet_console {
	char printk[64];
	int kmsg;
};

static inline void quiet_console_begin(struct quiet_console *q)
{
	int fd = open("/proc/sys/kernel/printk", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, q->printk, sizeof(q->printk) - 1);

	q->printk[n > 0 ? n : 0] = '\0';
	if (fd >= 0)
		close(fd);
	q->kmsg = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (q->kmsg >= 0)
		lseek(q->kmsg, 0, SEEK_END);
	fd = open("/proc/sys/kernel/printk", O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (write(fd, "3", 1) != 1)
			perror("printk");
		close(fd);
	}
}

/* Restores the console; returns the number of bad kernel messages. */
static inline int quiet_console_end(struct quiet_console *q)
{
	static const char *const bad[] = {
		"WARNING:", "BUG:", "Oops", "KASAN", "Kernel panic",
		"general protection",
	};
	char rec[2048];
	int fd, nbad = 0;
	ssize_t n;

	fd = open("/proc/sys/kernel/printk", O_WRONLY | O_CLOEXEC);
	if (fd >= 0 && q->printk[0]) {
		if (write(fd, q->printk, strlen(q->printk)) < 0)
			perror("printk");
	}
	if (fd >= 0)
		close(fd);
	if (q->kmsg < 0)
		return 0;
	for (;;) {
		n = read(q->kmsg, rec, sizeof(rec) - 1);
		if (n < 0 && errno == EPIPE)
			continue;	/* overwritten records: go on */
		if (n <= 0)
			break;
		rec[n] = '\0';
		for (unsigned int i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			if (strstr(rec, bad[i])) {
				printf("# kernel: %s", rec);
				nbad++;
				break;
			}
		}
	}
	close(q->kmsg);
	return nbad;
}

#endif /* MN_KMSG_H */
