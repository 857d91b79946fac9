/* LD_PRELOAD=liballoc.so with real programs (glibc host only): output must be
 * identical to the run without it, and liballoc must really be serving. */
#include <spawn.h>
#include <sys/wait.h>
#include "common.h"

extern char **environ;
#define LIB LA_BUILD_DIR "/liballoc.so"
#define OUTMAX (4 << 20)

/* Run argv (PATH lookup) with optional LD_PRELOAD; capture stdout and stderr
 * separately. Returns the exit status or -1. */
static int run(char *const argv[], int preload, char *out, char *err)
{
	int po[2], pe[2];
	if (pipe(po) || pipe(pe))
		return -1;
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, po[1], 1);
	posix_spawn_file_actions_adddup2(&fa, pe[1], 2);
	posix_spawn_file_actions_addclose(&fa, po[0]);
	posix_spawn_file_actions_addclose(&fa, pe[0]);
	char *envp[256];
	int n = 0;
	for (char **e = environ; *e && n < 250; e++)
		if (strncmp(*e, "LD_PRELOAD=", 11) && strncmp(*e, "LIBALLOC_", 9))
			envp[n++] = *e;
	if (preload)
		envp[n++] = "LD_PRELOAD=" LIB;
	envp[n] = NULL;
	pid_t pid;
	if (posix_spawnp(&pid, argv[0], &fa, NULL, argv, envp))
		return -1;
	close(po[1]);
	close(pe[1]);
	size_t lo = 0, le = 0;
	int open_o = 1, open_e = 1;
	while (open_o || open_e) { /* simple alternating drain; outputs are small */
		ssize_t r;
		if (open_o) {
			r = read(po[0], out + lo, OUTMAX - 1 - lo);
			if (r <= 0)
				open_o = 0;
			else
				lo += (size_t)r;
		}
		if (open_e) {
			r = read(pe[0], err + le, OUTMAX - 1 - le);
			if (r <= 0)
				open_e = 0;
			else
				le += (size_t)r;
		}
	}
	out[lo] = err[le] = 0;
	close(po[0]);
	close(pe[0]);
	posix_spawn_file_actions_destroy(&fa);
	int st;
	if (waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int have(const char *prog)
{
	char *argv[] = { (char *)prog, "--version", NULL };
	static char o[OUTMAX], e[OUTMAX];
	return run(argv, 0, o, e) == 0;
}

FIXTURE(out) { char *o1, *o2, *e1, *e2; };
FIXTURE_SETUP(out)
{
	self->o1 = malloc(OUTMAX);
	self->o2 = malloc(OUTMAX);
	self->e1 = malloc(OUTMAX);
	self->e2 = malloc(OUTMAX);
}
FIXTURE_TEARDOWN(out)
{
	free(self->o1);
	free(self->o2);
	free(self->e1);
	free(self->e2);
}

TEST_F(out, probe_liballoc_is_serving)
{
	char *argv[] = { LA_BUILD_DIR "/tests/probe_prog", NULL };
	ASSERT_EQ(0, run(argv, 1, self->o1, self->e1)) TH_LOG("%s%s", self->o1, self->e1);
	ASSERT_NE(NULL, strstr(self->o1, "liballoc serves allocations"));
	/* and without the preload the probe notices the difference */
	ASSERT_EQ(1, run(argv, 0, self->o2, self->e2));
}

TEST_F(out, python3_workload_same_output)
{
	if (!have("python3"))
		SKIP(return, "python3 not installed");
	char *argv[] = { "python3", "-c",
		"import json, collections, re\n"
		"d = {str(i): [i] * (i % 7) for i in range(200000)}\n"
		"s = json.dumps(d, sort_keys=True)\n"
		"c = collections.Counter(re.findall(r'[0-9]+', s[:2000000]))\n"
		"l = sorted(d.items(), key=lambda kv: (len(kv[1]), kv[0]))\n"
		"print(len(s), c.most_common(3), l[-1][0], sum(map(len, d.values())))\n",
		NULL };
	ASSERT_EQ(0, run(argv, 0, self->o1, self->e1));
	ASSERT_EQ(0, run(argv, 1, self->o2, self->e2)) TH_LOG("%s", self->e2);
	ASSERT_GT(strlen(self->o1), 10);
	ASSERT_STREQ(self->o1, self->o2);
	ASSERT_STREQ(self->e1, self->e2);
}

TEST_F(out, gcc_compile_same_output)
{
	if (!have("gcc"))
		SKIP(return, "gcc not installed");
	char *argv[] = { "gcc", "-O2", "-S", "-o", "-", "-I" LA_TESTS_SRC "/../../include",
			 "-I" LA_TESTS_SRC "/../src", LA_TESTS_SRC "/../src/heap.c", NULL };
	ASSERT_EQ(0, run(argv, 0, self->o1, self->e1)) TH_LOG("%s", self->e1);
	ASSERT_EQ(0, run(argv, 1, self->o2, self->e2)) TH_LOG("%s", self->e2);
	ASSERT_GT(strlen(self->o1), 1000);
	ASSERT_STREQ(self->o1, self->o2);
}

TEST_F(out, cxx_new_delete_through_liballoc)
{
	char *argv[] = { LA_BUILD_DIR "/tests/cxx_prog", NULL };
	ASSERT_EQ(0, run(argv, 0, self->o1, self->e1));
	ASSERT_EQ(0, run(argv, 1, self->o2, self->e2)) TH_LOG("%s", self->e2);
	ASSERT_STREQ(self->o1, self->o2);
	ASSERT_STREQ("served 0\n", self->e1);
	ASSERT_STREQ("served 1\n", self->e2);
}

TEST_F(out, bad_env_warns_under_preload)
{
	char *argv[] = { "env", "LIBALLOC_TCACHE_PAGES=-3", "true", NULL };
	ASSERT_EQ(0, run(argv, 1, self->o1, self->e1));
	ASSERT_NE(NULL, strstr(self->e1, "liballoc: warning: ignoring invalid LIBALLOC_TCACHE_PAGES='-3'"))
	TH_LOG("stderr: %s", self->e1);
}

TEST_HARNESS_MAIN
