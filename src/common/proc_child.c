/* proc_child.c — the end of a forked child (see proc_child.h: the only
 * _exit() below main, and why it is _exit). */
#include "common/proc_child.h"

#include <unistd.h>

void proc_child_exit(int status)
{
	_exit(status);
}

void proc_child_execv(const char *path, char *const argv[], int status)
{
	execv(path, argv);
	proc_child_exit(status);
}
