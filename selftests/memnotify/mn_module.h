/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Unloading and reloading memnotify from a selftest.  A reload passes the
 * memnotify.* parameters of the kernel command line, as the init did, so
 * later programs find the module configured as at boot.
 */
#ifndef MN_MODULE_H
#define MN_MODULE_H

#include "mn_common.h"

static inline int mn_delete_module(void)
{
	return syscall(SYS_delete_module, "memnotify", O_NONBLOCK);
}

/* "memnotify.a=1 memnotify.b=2" on the command line -> "a=1 b=2". */
static inline void mn_boot_params(char *out, size_t size)
{
	char cmdline[4096], *tok, *save;
	int fd = open("/proc/cmdline", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, cmdline, sizeof(cmdline) - 1);
	size_t len = 0;

	out[0] = '\0';
	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return;
	cmdline[n] = '\0';
	for (tok = strtok_r(cmdline, " \n", &save); tok;
	     tok = strtok_r(NULL, " \n", &save)) {
		if (strncmp(tok, "memnotify.", 10) || !strchr(tok, '='))
			continue;
		len += snprintf(out + len, size - len, "%s%s", len ? " " : "",
				tok + 10);
		if (len >= size)
			break;
	}
}

/* Load MN_KO with the boot parameters; 0, or -1 with errno set. */
static inline int mn_load_module(void)
{
	char params[1024];
	int fd = open(MN_KO, O_RDONLY | O_CLOEXEC), r, err;

	if (fd < 0)
		return -1;
	mn_boot_params(params, sizeof(params));
	r = syscall(SYS_finit_module, fd, params, 0);
	err = errno;
	close(fd);
	errno = err;
	return r;
}

#endif /* MN_MODULE_H */
