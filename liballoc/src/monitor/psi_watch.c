/* Choosing and opening the PSI trigger (see psi_watch.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include "psi_watch.h"

#define TRIGGER_MAX 256

/* liballoc's own trigger: 100 ms of "some" stall in a 1 s window;
 * unprivileged writers may only use 2 s multiples, so then a 2 s window. */
static const char *const own_trigger[] = { "some 100000 1000000", "some 200000 2000000" };

static char path_buf[PATH_MAX];
static char line_buf[4096];

/* Standard base64 (RFC 4648, '=' padding) into out; -1 if not base64 or
 * longer than max. */
static ssize_t base64_decode(const char *in, unsigned char *out, size_t max)
{
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	uint32_t acc = 0;
	unsigned bits = 0;
	size_t n = 0;
	for (; *in && *in != '='; in++) {
		const char *p = strchr(alphabet, *in);
		if (!p)
			return -1;
		acc = acc << 6 | (uint32_t)(p - alphabet);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (n == max)
				return -1;
			out[n++] = (unsigned char)(acc >> bits);
		}
	}
	while (*in == '=')
		in++;
	return *in ? -1 : (ssize_t)n;
}

/* A PSI file with a trigger written: data if given, else our own. */
static int open_psi_file(const char *path, const void *data, size_t len)
{
	unsigned tries = data ? 1 : 2;
	for (unsigned i = 0; i < tries; i++) {
		int fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0)
			return -1;
		const void *t = data ? data : own_trigger[i];
		size_t l = data ? len : strlen(own_trigger[i]) + 1;
		if (write(fd, t, l) > 0)
			return fd;
		close(fd);
	}
	return -1;
}

static int open_socket(const char *path, const void *data, size_t len)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof sa.sun_path)
		return -1;
	strcpy(sa.sun_path, path);
	static const int types[] = { SOCK_STREAM, SOCK_SEQPACKET };
	for (unsigned i = 0; i < 2; i++) {
		int fd = socket(AF_UNIX, types[i] | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd < 0)
			return -1;
		if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
		    (!len || send(fd, data, len, MSG_NOSIGNAL) == (ssize_t)len))
			return fd;
		int err = errno;
		close(fd);
		if (err != EPROTOTYPE)
			return -1;
	}
	return -1;
}

/* $MEMORY_PRESSURE_WATCH: 1 opened, 0 not set or unusable, -1 "/dev/null". */
static int open_service_watch(la_psi_watch_t *w)
{
	const char *path = getenv("MEMORY_PRESSURE_WATCH");
	if (!path || !*path)
		return 0;
	if (!strcmp(path, "/dev/null"))
		return -1;
	static unsigned char data[TRIGGER_MAX];
	const char *enc = getenv("MEMORY_PRESSURE_WRITE");
	ssize_t len = 0;
	if (enc && *enc && (len = base64_decode(enc, data, sizeof data)) < 0)
		return 0; /* unreadable: fall through to our own choice */
	struct stat st;
	if (path[0] != '/' || stat(path, &st))
		return 0;
	if (S_ISREG(st.st_mode)) {
		/* the kernel takes the last byte written for the terminator */
		if (len > 0 && data[len - 1] && data[len - 1] != '\n') {
			if ((size_t)len == sizeof data)
				return 0;
			data[len++] = 0;
		}
		w->fd = open_psi_file(path, len > 0 ? data : NULL, (size_t)len);
		w->events = POLLPRI;
	} else if (S_ISFIFO(st.st_mode)) {
		w->fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
		w->events = POLLIN;
	} else if (S_ISSOCK(st.st_mode)) {
		w->fd = open_socket(path, data, (size_t)len);
		w->events = POLLIN;
	}
	if (w->fd < 0)
		return 0;
	w->scope = LA_SCOPE_SERVICE_WATCH;
	return 1;
}

/* The line of the file at path for which match() returns non-NULL: that
 * result, pointing into line_buf; NULL if none. Lines longer than the buffer
 * are skipped. */
static const char *find_line(const char *path, const char *(*match)(char *line))
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	size_t have = 0;
	bool skipping = false;
	const char *found = NULL;
	for (;;) {
		ssize_t r = read(fd, line_buf + have, sizeof line_buf - 1 - have);
		if (r <= 0)
			break;
		have += (size_t)r;
		line_buf[have] = 0;
		char *start = line_buf, *nl;
		while (!found && (nl = strchr(start, '\n'))) {
			*nl = 0;
			if (!skipping)
				found = match(start);
			skipping = false;
			start = nl + 1;
		}
		if (found) {
			memmove(line_buf, found, strlen(found) + 1);
			found = line_buf;
			break;
		}
		have = (size_t)(line_buf + have - start);
		memmove(line_buf, start, have);
		if (have == sizeof line_buf - 1) { /* a line longer than the buffer */
			have = 0;
			skipping = true;
		}
	}
	close(fd);
	return found;
}

/* /proc/self/cgroup: the cgroup2 line "0::/path". */
static const char *match_cgroup2(char *line)
{
	return strncmp(line, "0::/", 4) ? NULL : line + 3;
}

/* /proc/self/mountinfo: "ID PARENT MAJ:MIN ROOT MOUNTPOINT ... - cgroup2 ...";
 * returns "ROOT MOUNTPOINT" of the first cgroup2 mount (escaped names, with
 * a backslash, are not used). */
static const char *match_cgroup2_mount(char *line)
{
	char *sep = strstr(line, " - cgroup2 ");
	if (!sep || strchr(line, '\\'))
		return NULL;
	*sep = 0;
	char *p = line;
	for (int field = 0; field < 3 && p; field++) {
		p = strchr(p, ' ');
		p = p ? p + 1 : NULL;
	}
	if (!p)
		return NULL;
	char *end = strchr(p, ' ');
	end = end ? strchr(end + 1, ' ') : NULL;
	if (end)
		*end = 0;
	return p;
}

/* The process's own cgroup's memory.pressure, unless it is the root. */
static bool open_cgroup(la_psi_watch_t *w)
{
	const char *cg = find_line("/proc/self/cgroup", match_cgroup2);
	if (!cg || !strcmp(cg, "/") || strlen(cg) >= sizeof path_buf)
		return false;
	char cgroup[PATH_MAX];
	strcpy(cgroup, cg);
	const char *mnt = find_line("/proc/self/mountinfo", match_cgroup2_mount);
	if (!mnt)
		return false;
	const char *space = strchr(mnt, ' ');
	if (!space)
		return false;
	/* the mount shows the hierarchy from its ROOT down: strip that prefix */
	size_t root_len = (size_t)(space - mnt);
	const char *rel = cgroup;
	if (!(root_len == 1 && mnt[0] == '/')) {
		if (strncmp(cgroup, mnt, root_len) || (cgroup[root_len] && cgroup[root_len] != '/'))
			return false;
		rel = cgroup + root_len;
	}
	size_t mnt_len = strlen(space + 1), rel_len = strlen(rel);
	if (mnt_len + rel_len + sizeof "/memory.pressure" > sizeof path_buf)
		return false;
	memcpy(path_buf, space + 1, mnt_len);
	memcpy(path_buf + mnt_len, rel, rel_len + 1);
	struct stat st;
	if (stat(path_buf, &st) || !S_ISDIR(st.st_mode))
		return false;
	strcat(path_buf, "/memory.pressure");
	w->fd = open_psi_file(path_buf, NULL, 0);
	if (w->fd < 0)
		return false;
	w->events = POLLPRI;
	w->scope = LA_SCOPE_CGROUP;
	w->cgroup_id = (uint64_t)st.st_ino;
	return true;
}

void la_psi_open(la_psi_watch_t *w)
{
	*w = (la_psi_watch_t){ .fd = -1, .scope = LA_SCOPE_NONE };
	int r = open_service_watch(w);
	if (r)
		return; /* opened, or turned off with /dev/null */
	if (open_cgroup(w))
		return;
	w->fd = open_psi_file("/proc/pressure/memory", NULL, 0);
	w->events = POLLPRI;
	if (w->fd >= 0)
		w->scope = LA_SCOPE_SYSTEM;
}
