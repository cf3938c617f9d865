/* netpair.c — run two commands joined by one AF_UNIX SOCK_SEQPACKET
 * socketpair, the wire a bulkhead switch port uses (src/ctl/net_port.h), so
 * two VMs can exchange frames with no switch in between:
 *   netpair [-t SECS] CMD_A ARGS... -- CMD_B ARGS...
 * Every argument "@FD@" (or containing it, e.g. "p0=@FD@") gets the number of
 * that command's end. Both run at once; netpair waits for both (SECS, default
 * 120: then both are killed), prints "netpair: A exit N, B exit M" and exits
 * 0 if both exited 0, else 1 (2: usage / setup failure). Used by
 * tests/e2e/kvm_tests.sh (no socketpair in a POSIX shell). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static pid_t start(char **argv, int fd, int other)
{
	char num[16];
	pid_t pid;

	snprintf(num, sizeof(num), "%d", fd);
	for (char **a = argv; *a; a++) {
		char *at = strstr(*a, "@FD@");

		if (at) {
			size_t n = strlen(*a) + sizeof(num);
			char *s = malloc(n);

			if (!s)
				return -1;
			snprintf(s, n, "%.*s%s%s", (int)(at - *a), *a, num, at + 4);
			*a = s;
		}
	}
	pid = fork();
	if (pid == 0) {
		close(other);
		execvp(argv[0], argv);
		fprintf(stderr, "netpair: %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	return pid;
}

int main(int argc, char **argv)
{
	int sv[2], st[2] = { -1, -1 }, secs = 120, i = 1, sep;
	pid_t pid[2];
	time_t end;

	if (argc > 2 && !strcmp(argv[1], "-t")) {
		secs = atoi(argv[2]);
		i = 3;
	}
	for (sep = i; sep < argc && strcmp(argv[sep], "--"); sep++)
		;
	if (sep == i || sep >= argc - 1 || secs <= 0) {
		fprintf(stderr, "usage: netpair [-t SECS] CMD_A ARGS... -- CMD_B ARGS...\n");
		return 2;
	}
	argv[sep] = NULL;
	/* Inheritable on purpose: each child keeps its end across exec. */
	if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) < 0) {
		perror("netpair: socketpair");
		return 2;
	}
	pid[0] = start(argv + i, sv[0], sv[1]);
	pid[1] = start(argv + sep + 1, sv[1], sv[0]);
	close(sv[0]);
	close(sv[1]);
	if (pid[0] < 0 || pid[1] < 0) {
		fprintf(stderr, "netpair: cannot start the commands\n");
		return 2;
	}
	end = time(NULL) + secs;
	for (int left = 2; left > 0;) {
		int status;
		pid_t p = waitpid(-1, &status, WNOHANG);

		if (p > 0) {
			for (int k = 0; k < 2; k++)
				if (p == pid[k])
					st[k] = WIFEXITED(status) ? WEXITSTATUS(status)
								  : 128 + WTERMSIG(status);
			left--;
			continue;
		}
		if (time(NULL) > end) {
			fprintf(stderr, "netpair: timeout after %d s: killing both\n", secs);
			for (int k = 0; k < 2; k++)
				if (st[k] < 0)
					kill(pid[k], SIGKILL);
			end = time(NULL) + 3600;
		}
		usleep(20000);
	}
	printf("netpair: A exit %d, B exit %d\n", st[0], st[1]);
	return st[0] == 0 && st[1] == 0 ? 0 : 1;
}
