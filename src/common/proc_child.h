/* proc_child.h — the end of a forked child: the one place below main() where
 * a process ends (docs/architecture.md rule 3, "no exit() below main";
 * scripts/check-layers.py fails the build on exit/_exit/_Exit/abort in any
 * other file of src/ that is not a program's main).
 *
 * Contract. A process made by fork() that does not become a program of its
 * own by execve — a fork-then-exec child whose setup or execve failed, or a
 * forked worker whose job is done (the jail's cgroup cleaner, the daemon's
 * open-as-the-caller child) — ends here and nowhere else:
 *   - it must not return: that would run its parent's code on a copy of the
 *     parent's stack (a second daemon loop, a second VM supervisor);
 *   - it must not exit(): that would run the parent's atexit handlers and
 *     flush stdio buffers the parent copied to it and flushes itself;
 *   - _exit(2) is the only correct end, and it is async-signal-safe, so the
 *     child of a threaded parent may call it between fork and exec.
 * The parent observes the child's failure by its exit status (127 or 125 by
 * the callers' conventions, documented at each fork) and, where it has one,
 * a report pipe written before this call.
 *
 * Async-signal-safe; no state; any process. */
#ifndef BH_PROC_CHILD_H
#define BH_PROC_CHILD_H

/* End this forked child with `status` (see the contract above). */
__attribute__((noreturn)) void proc_child_exit(int status);

/* execv(path, argv); when that returns (it failed: errno says why, and the
 * parent sees only the status), end this forked child with `status`. */
__attribute__((noreturn)) void proc_child_execv(const char *path, char *const argv[],
						int status);

#endif
