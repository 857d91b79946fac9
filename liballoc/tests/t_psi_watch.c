/* Which PSI trigger the monitor watches when it uses PSI (LIBALLOC_MONITOR=psi):
 * systemd's $MEMORY_PRESSURE_WATCH (a FIFO, an AF_UNIX socket that is sent
 * the decoded $MEMORY_PRESSURE_WRITE, a PSI file, "/dev/null" for none, and
 * an unreadable $MEMORY_PRESSURE_WRITE falling through), and the process's
 * own cgroup's memory.pressure, with la_stats naming the scope and the
 * cgroup. Each case runs in a child started with its environment (the
 * options and the source are read once); the child answers over pipes:
 *   'g' make sure the source is open (liballoc may have opened it at its
 *       first allocation already), reply "source scope cgroup_id"
 *   'm' mark the number of monitor events so far, reply "0"
 *   'e' wait up to 10 s for more events than marked, reply "1" or "0"
 *   's' reply "source scope cgroup_id" again
 *   'q' exit. */
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include "common.h"

#define TRIGGER "some 150000 2000000"
/* as systemd encodes it: with the terminating NUL */
#define TRIGGER_B64 "c29tZSAxNTAwMDAgMjAwMDAwMAA="
/* without it: liballoc terminates it for a PSI file */
#define TRIGGER_B64_NO_NUL "c29tZSAxNTAwMDAgMjAwMDAwMA=="

static void reply_source(void)
{
	struct la_stats st = stats_now();
	printf("%lu %lu %lu\n", (unsigned long)st.monitor_source, (unsigned long)st.monitor_scope,
	       (unsigned long)st.monitor_cgroup_id);
	fflush(stdout);
}

static int child_main(void)
{
	uint64_t mark = 0;
	char c;
	while (read(0, &c, 1) == 1) {
		if (c == 'g') {
			/* something to give back when an event comes */
			for (int i = 0; i < 64; i++)
				free(malloc(64 << 10));
			la_monitor_start();
			reply_source();
		} else if (c == 's') {
			reply_source();
		} else if (c == 'm') {
			mark = stats_now().monitor_events;
			printf("0\n");
			fflush(stdout);
		} else if (c == 'e') {
			int seen = 0;
			for (int i = 0; i < 1000 && !seen; i++) {
				seen = stats_now().monitor_events > mark;
				usleep(10 * 1000);
			}
			printf("%d\n", seen);
			fflush(stdout);
		} else {
			break;
		}
	}
	return 0;
}

struct child {
	pid_t pid;
	int to, from;
};

/* Start this program as a child with the environment given (NULL-ended),
 * first moved into the cgroup whose cgroup.procs is at procs if that is not
 * NULL: liballoc may open its source at its first allocation, which comes
 * before any command. */
static int child_start_in(struct child *c, char **env, const char *procs)
{
	int in[2], out[2];
	char *argv[] = { "t_psi_watch", "--child", NULL };
	if (pipe(in) || pipe(out))
		return -1;
	c->pid = fork();
	if (c->pid == 0) {
		char pid[16];
		int fd = procs ? open(procs, O_WRONLY | O_CLOEXEC) : -1;
		int n = snprintf(pid, sizeof pid, "%d", (int)getpid());
		if (procs && (fd < 0 || write(fd, pid, (size_t)n) != n))
			_exit(3);
		dup2(in[0], 0);
		dup2(out[1], 1);
		execve("/proc/self/exe", argv, env);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	c->to = in[1];
	c->from = out[0];
	return c->pid < 0 ? -1 : 0;
}

static int child_start(struct child *c, char **env)
{
	return child_start_in(c, env, NULL);
}

/* Send a command, read one line of reply (10 s at most). */
static int child_ask(struct child *c, char cmd, char *buf, size_t size)
{
	size_t n = 0;
	if (write(c->to, &cmd, 1) != 1)
		return -1;
	while (n + 1 < size) {
		struct pollfd p = { .fd = c->from, .events = POLLIN };
		if (poll(&p, 1, 15000) != 1 || read(c->from, buf + n, 1) != 1)
			return -1;
		if (buf[n] == '\n')
			break;
		n++;
	}
	buf[n] = 0;
	return 0;
}

static int child_source(struct child *c, char cmd, unsigned long v[3])
{
	char line[128];
	if (child_ask(c, cmd, line, sizeof line) ||
	    sscanf(line, "%lu %lu %lu", &v[0], &v[1], &v[2]) != 3)
		return -1;
	return 0;
}

static int child_mark(struct child *c)
{
	char line[16];
	return child_ask(c, 'm', line, sizeof line);
}

static int child_event(struct child *c)
{
	char line[16];
	return child_ask(c, 'e', line, sizeof line) ? -1 : atoi(line);
}

static int child_end(struct child *c)
{
	int st = -1;
	if (write(c->to, "q", 1) != 1)
		kill(c->pid, SIGKILL);
	close(c->to);
	close(c->from);
	waitpid(c->pid, &st, 0);
	return st;
}

static char env_watch[256], env_write[256];
static char *env[] = { "LIBALLOC_MONITOR=psi", "LIBALLOC_DECAY_MS=-1", env_watch, env_write, NULL };

static void set_watch(const char *path, const char *write_b64)
{
	snprintf(env_watch, sizeof env_watch, "MEMORY_PRESSURE_WATCH=%s", path);
	snprintf(env_write, sizeof env_write, "MEMORY_PRESSURE_WRITE=%s", write_b64);
}

static bool have_psi(void)
{
	int fd = open("/proc/pressure/memory", O_RDWR | O_CLOEXEC);
	if (fd >= 0)
		close(fd);
	return fd >= 0;
}

TEST(fifo_events)
{
	char path[64];
	unsigned long v[3];
	struct child c;
	snprintf(path, sizeof path, "/tmp/la-psi-fifo-%d", (int)getpid());
	unlink(path);
	ASSERT_EQ(0, mkfifo(path, 0600));
	set_watch(path, "");
	ASSERT_EQ(0, child_start(&c, env));
	ASSERT_EQ(0, child_source(&c, 'g', v));
	EXPECT_EQ(LA_MONITOR_PSI, v[0]);
	EXPECT_EQ(LA_SCOPE_SERVICE_WATCH, v[1]);
	EXPECT_EQ(0, v[2]);
	/* Each writer comes and goes: the FIFO never hangs up on liballoc. */
	for (int i = 0; i < 2; i++) {
		int w = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
		ASSERT_LE(0, w);
		ASSERT_EQ(0, child_mark(&c));
		ASSERT_EQ(1, write(w, "x", 1));
		close(w);
		EXPECT_EQ(1, child_event(&c)) TH_LOG("write %d", i);
	}
	ASSERT_EQ(0, child_source(&c, 's', v));
	EXPECT_EQ(LA_MONITOR_PSI, v[0]);
	EXPECT_EQ(0, child_end(&c));
	unlink(path);
}

TEST(socket_gets_trigger_then_events)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	unsigned long v[3];
	char got[64] = "";
	struct child c;
	snprintf(sa.sun_path, sizeof sa.sun_path, "/tmp/la-psi-sock-%d", (int)getpid());
	unlink(sa.sun_path);
	int l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (l < 0)
		SKIP(return, "no AF_UNIX sockets here: %s", strerror(errno));
	ASSERT_EQ(0, bind(l, (struct sockaddr *)&sa, sizeof sa));
	ASSERT_EQ(0, listen(l, 1));
	set_watch(sa.sun_path, TRIGGER_B64);
	ASSERT_EQ(0, child_start(&c, env));
	ASSERT_EQ(0, child_source(&c, 'g', v));
	EXPECT_EQ(LA_MONITOR_PSI, v[0]);
	EXPECT_EQ(LA_SCOPE_SERVICE_WATCH, v[1]);
	int s = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	ASSERT_LE(0, s);
	/* What $MEMORY_PRESSURE_WRITE said, decoded, and nothing else. */
	ssize_t n = 0, r;
	while (n < (ssize_t)sizeof TRIGGER && (r = read(s, got + n, sizeof got - 1 - n)) > 0)
		n += r;
	EXPECT_EQ((ssize_t)sizeof TRIGGER, n);
	EXPECT_STREQ(TRIGGER, got);
	ASSERT_EQ(0, child_mark(&c));
	ASSERT_EQ(1, write(s, "x", 1));
	EXPECT_EQ(1, child_event(&c));
	/* The peer goes away: the source is dropped (no spinning on it). */
	close(s);
	for (int i = 0; i < 500; i++) {
		ASSERT_EQ(0, child_source(&c, 's', v));
		if (v[0] == LA_MONITOR_DECAY)
			break;
		usleep(10 * 1000);
	}
	EXPECT_EQ(LA_MONITOR_DECAY, v[0]);
	EXPECT_EQ(LA_SCOPE_NONE, v[1]);
	EXPECT_EQ(0, child_end(&c));
	close(l);
	unlink(sa.sun_path);
}

/* The source and scope a child opens with this watch and trigger: 0, or -1
 * if the child did not answer or did not exit cleanly. */
static int source_for(const char *watch, const char *write_b64, unsigned long v[3])
{
	struct child c;
	set_watch(watch, write_b64);
	if (child_start(&c, env))
		return -1;
	int r = child_source(&c, 'g', v);
	return child_end(&c) == 0 ? r : -1;
}

TEST(dev_null_turns_psi_off)
{
	unsigned long v[3];
	ASSERT_EQ(0, source_for("/dev/null", "", v));
	EXPECT_EQ(LA_MONITOR_DECAY, v[0]);
	EXPECT_EQ(LA_SCOPE_NONE, v[1]);
}

TEST(psi_file_with_the_services_trigger)
{
	static const char *const triggers[] = { TRIGGER_B64, TRIGGER_B64_NO_NUL };
	unsigned long v[3];
	if (!have_psi())
		SKIP(return, "no writable /proc/pressure/memory");
	for (int i = 0; i < 2; i++) {
		ASSERT_EQ(0, source_for("/proc/pressure/memory", triggers[i], v));
		EXPECT_EQ(LA_MONITOR_PSI, v[0]);
		EXPECT_EQ(LA_SCOPE_SERVICE_WATCH, v[1]) TH_LOG("%s", triggers[i]);
	}
}

TEST(unreadable_write_falls_through)
{
	unsigned long v[3];
	ASSERT_EQ(0, source_for("/proc/pressure/memory", "not*base64", v));
	EXPECT_NE(LA_SCOPE_SERVICE_WATCH, v[1]);
	if (have_psi())
		EXPECT_EQ(LA_MONITOR_PSI, v[0]);
}

/* The cgroup2 mount point (the first one whose root is "/"), or NULL. */
static const char *cgroup2_mount(void)
{
	static char mnt[256];
	char line[1024];
	FILE *f = fopen("/proc/self/mountinfo", "re");
	const char *found = NULL;
	while (f && !found && fgets(line, sizeof line, f)) {
		char root[256], point[256];
		if (strstr(line, " - cgroup2 ") &&
		    sscanf(line, "%*s %*s %*s %255s %255s", root, point) == 2 &&
		    !strcmp(root, "/")) {
			strcpy(mnt, point);
			found = mnt;
		}
	}
	if (f)
		fclose(f);
	return found;
}

TEST(own_cgroup)
{
	const char *mnt = cgroup2_mount();
	char dir[320], procs[340];
	unsigned long v[3];
	struct stat st;
	struct child c;
	if (!mnt || !have_psi())
		SKIP(return, "no cgroup2 mount or no PSI");
	snprintf(dir, sizeof dir, "%s/la-psi-%d", mnt, (int)getpid());
	if (mkdir(dir, 0755))
		SKIP(return, "cannot create a cgroup in %s: %s", mnt, strerror(errno));
	ASSERT_EQ(0, stat(dir, &st));
	snprintf(procs, sizeof procs, "%s/cgroup.procs", dir);
	char *plain_env[] = { "LIBALLOC_MONITOR=psi", "LIBALLOC_DECAY_MS=-1", NULL };
	ASSERT_EQ(0, child_start_in(&c, plain_env, procs));
	ASSERT_EQ(0, child_source(&c, 'g', v));
	EXPECT_EQ(LA_MONITOR_PSI, v[0]);
	EXPECT_EQ(LA_SCOPE_CGROUP, v[1]);
	EXPECT_EQ((unsigned long)st.st_ino, v[2]);
	EXPECT_EQ(0, child_end(&c));
	EXPECT_EQ(0, rmdir(dir));
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "--child"))
		return child_main();
	return test_harness_run(argc, argv);
}
