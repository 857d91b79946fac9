// SPDX-License-Identifier: GPL-2.0
/*
 * One binary per selftest suite in the images.  Every program of the suite
 * is compiled with -Dmain=ksft_main_NAME and linked in here, and
 * /tests/SUITE/NAME is a symlink to this binary, which runs the program its
 * name says.  A static musl program carries its own libc and harness
 * (about 30 KB compressed each), so this keeps the minimal image under its
 * 1 MB budget; each program still runs in its own process with its own test
 * list (the harness keeps its state in static variables).
 *
 * PROGRAMS is given on the command line as "X(name) X(name)...".
 */
#include <stdio.h>
#include <string.h>

#define X(name) int ksft_main_##name(int argc, char **argv);
PROGRAMS
#undef X

static const struct {
	const char *name;
	int (*main)(int argc, char **argv);
} programs[] = {
#define X(name) { #name, ksft_main_##name },
	PROGRAMS
#undef X
};

int main(int argc, char **argv)
{
	const char *name = strrchr(argv[0], '/');
	size_t i;

	name = name ? name + 1 : argv[0];
	for (i = 0; i < sizeof(programs) / sizeof(programs[0]); i++) {
		if (!strcmp(name, programs[i].name))
			return programs[i].main(argc, argv);
	}
	fprintf(stderr, "%s: not a program of this suite; it has:", name);
	for (i = 0; i < sizeof(programs) / sizeof(programs[0]); i++)
		fprintf(stderr, " %s", programs[i].name);
	fputc('\n', stderr);
	return 127;
}
