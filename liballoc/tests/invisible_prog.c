/* The t_invisible scenarios as a plain program (no liballoc linked in), run
 * with and without LD_PRELOAD=liballoc.so. liballoc's hooks are looked up
 * with dlsym, so they are used only when it is preloaded. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include "invisible.h"

int main(int argc, char **argv)
{
	scn_monitor_start = (int (*)(void))dlsym(RTLD_DEFAULT, "la_monitor_start");
	scn_inject = (int (*)(uint32_t, uint32_t, uint64_t))dlsym(RTLD_DEFAULT, "la_monitor_inject");
	if (argc < 2)
		return 2;
	return scn_run(argv[1]);
}
