/* run_switch.c — `bulkhead run --net switch=SEGMENT`: make each such NIC's
 * port before the VM is built. Per NIC: a SOCK_SEQPACKET socketpair; one end
 * is registered with the bulkhead switch (ADD_PORT over its control socket,
 * ctl/switch_ctl.h: segment, MAC, ip, rate, pps), the other goes into the
 * VMM's named-fd table as "swnetN" and becomes the NIC's port= (net-dev's
 * switch-port backend). The switch is the one at --switch PATH, or one this
 * command starts (`bulkhead switch --ctl-fd`, exec'd from /proc/self/exe:
 * its own process and jail); a switch we start ends once we have hung up
 * and the VM's ports are gone; `--uplink SEG` passes on to it as
 * `bulkhead switch --uplink SEG` (passt for that segment). A NIC without
 * mac= gets a random locally administered one here, so the switch and the
 * device agree on it. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/run_switch.h"
#include "common/log.h"
#include "common/proc_child.h"
#include "config/args.h"
#include "ctl/switch_ctl.h"

static int spawn_switch(bool sandbox, const char *uplink, char *err, size_t errlen)
{
	int sv[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		snprintf(err, errlen, "switch: socketpair: %s", strerror(errno));
		return -errno;
	}
	pid = fork();
	if (pid < 0) {
		int e = errno;
		close(sv[0]);
		close(sv[1]);
		snprintf(err, errlen, "switch: fork: %s", strerror(e));
		return -e;
	}
	if (pid == 0) {
		/* the child keeps only stdio and its control socket as fd 3 */
		int c = fcntl(sv[1], F_DUPFD_CLOEXEC, 64);
		static char a0[] = "bulkhead", a1[] = "switch", a2[] = "--ctl-fd", a3[] = "3",
			    a4[] = "--no-sandbox", a5[] = "--uplink";
		char *argv[8] = { a0, a1, a2, a3 }, **a = argv + 4;
		if (uplink) {
			*a++ = a5;
			*a++ = (char *)(uintptr_t)uplink;
		}
		if (!sandbox)
			*a++ = a4;
		*a = NULL;
		if (c < 0 || dup2(c, 3) != 3)
			proc_child_exit(127);
		syscall(SYS_close_range, 4u, ~0u, 0u);
		proc_child_execv("/proc/self/exe", argv, 127);
	}
	close(sv[1]);
	return sv[0];
}

static int connect_switch(const char *path, char *err, size_t errlen)
{
	int fd = cli_unix_connect(path, SOCK_SEQPACKET);

	if (fd == -ENAMETOOLONG)
		snprintf(err, errlen, "--switch %s: path too long", path);
	else if (fd < 0)
		snprintf(err, errlen, "--switch %s: %s (is `bulkhead switch --listen %s` running?)",
			 path, strerror(-fd), path);
	return fd;
}

static int random_mac(struct vm_net *n)
{
	uint8_t m[6];

	if (getrandom(m, sizeof(m), 0) != (ssize_t)sizeof(m))
		return -EIO;
	m[0] = (uint8_t)((m[0] & 0xfc) | 0x02);
	snprintf(n->mac, sizeof(n->mac), "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3],
		 m[4], m[5]);
	return 0;
}

/* ADD_PORT for NIC i with the switch's end `peer`; 0 or -errno. */
static int add_port(int ctl, const struct vm_net *n, unsigned i, int peer, char *err,
	size_t errlen)
{
	struct swctl_port *rec = calloc(1, sizeof(*rec));
	char reply[256];
	int32_t status;
	int ret;

	if (!rec)
		return -ENOMEM;
	snprintf(rec->name, sizeof(rec->name), "run%d-net%u", (int)getpid(), i);
	snprintf(rec->segment, sizeof(rec->segment), "%s", n->switch_seg);
	if ((ret = args_parse_mac("mac", n->mac, rec->mac, err, errlen)))
		goto out;
	if (n->ip && inet_pton(AF_INET, n->ip, rec->ip4) == 1)
		rec->flags |= SWCTL_F_IP4;
	else if (n->ip && inet_pton(AF_INET6, n->ip, rec->ip6) == 1)
		rec->flags |= SWCTL_F_IP6;
	rec->rate_bytes = n->rate;
	rec->rate_packets = n->pps;
	rec->period_ns = 100000000ull; /* burst: 100 ms of the rate */
	ret = swctl_call(ctl, SWCTL_ADD_PORT, rec, sizeof(*rec), peer, &status, reply,
			 sizeof(reply));
	if (ret) {
		snprintf(err, errlen, "--net switch=%s: the switch did not answer: %s",
			 n->switch_seg, strerror(-ret));
		goto out;
	}
	if (status) {
		snprintf(err, errlen, "--net switch=%s: the switch refused the port: %s",
			 n->switch_seg, reply);
		ret = status < 0 ? status : -EINVAL;
		goto out;
	}
	bh_info("net%u: port %s on segment %s of the switch (mac %s%s%s)", i, rec->name,
		rec->segment, n->mac, n->ip ? ", ip " : "", n->ip ? n->ip : "");
out:
	free(rec);
	return ret;
}

int run_switch_ports(struct vm_config *cfg, const char *switch_path, const char *uplink,
	bool sandbox, struct fd_table *fds, char names[][BH_FD_NAME_MAX + 1], char *err,
	size_t errlen)
{
	int ctl = -1, ret = 0;

	if (uplink) {
		bool found = false;
		if (switch_path) {
			snprintf(err, errlen, "--uplink %s: the switch at --switch %s has its own "
				 "uplinks (`bulkhead switch --uplink %s`)", uplink, switch_path, uplink);
			return -EINVAL;
		}
		for (unsigned i = 0; i < cfg->nnets; i++)
			found |= cfg->nets[i].switch_seg && !strcmp(cfg->nets[i].switch_seg, uplink);
		if (!found) {
			snprintf(err, errlen, "--uplink %s: no --net switch=%s NIC to give it to", uplink,
				 uplink);
			return -EINVAL;
		}
	}

	for (unsigned i = 0; i < cfg->nnets && !ret; i++) {
		struct vm_net *n = &cfg->nets[i];
		int sv[2];
		char why[300];

		if (!n->switch_seg)
			continue;
		if (ctl < 0) {
			ctl = switch_path ? connect_switch(switch_path, err, errlen)
					  : spawn_switch(sandbox, uplink, err, errlen);
			if (ctl < 0)
				return ctl;
		}
		if (!n->mac[0] && random_mac(n)) {
			snprintf(err, errlen, "--net switch=%s: no random MAC (getrandom)", n->switch_seg);
			ret = -EIO;
			break;
		}
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
			ret = -errno;
			snprintf(err, errlen, "--net switch=%s: socketpair: %s", n->switch_seg,
				 strerror(errno));
			break;
		}
		ret = add_port(ctl, n, i, sv[1], err, errlen);
		close(sv[1]);
		if (ret) {
			close(sv[0]);
			break;
		}
		snprintf(names[i], BH_FD_NAME_MAX + 1, "swnet%u", i);
		if (fd_table_add(fds, names[i], sv[0], why, sizeof(why))) {
			snprintf(err, errlen, "--net switch=%s: %s", n->switch_seg, why);
			close(sv[0]);
			ret = -EINVAL;
			break;
		}
		n->port = names[i];
		n->switch_seg = NULL; /* a port NIC from here on (config_validate) */
		n->switch_made = true;
	}
	/* The switch keeps the ports; a switch we started ends once they are
	 * gone too. */
	if (ctl >= 0)
		close(ctl);
	return ret;
}
