/* net.c — bhbench's network group (issue 11): guest/net_guest.c over
 * virtio-net, bulkhead next to QEMU in the same rounds.
 *
 *   VM↔VM    bulkhead: two VMs on one segment of a `bulkhead switch` (its own
 *            jailed process, port security on, ip= set on both ports);
 *            QEMU: two VMs on taps joined by a Linux bridge (-netdev tap,
 *            vhost=off: this host has no /dev/vhost-net, and bulkhead has no
 *            vhost either)
 *   VM↔host  one VM on a tap whose host side (10.0.2.1) is the kernel of the
 *            network namespace: it answers the guest's ICMP echo requests
 * Each run gives two figures from the ping guest's markers: the round-trip
 * time of 60-byte frames one at a time ("R[" → "R]") and the throughput of
 * 1514-byte frames echoed with 8 in flight ("T[" → "T]"), each way; both VMs
 * with 1, then 2 vCPUs. And the price of the switch's port security: each
 * round then runs bulkhead's 1-vCPU VM↔VM pair four times, through the
 * switch as shipped, through one started with --no-port-security, that one
 * again and the first again (ABBA), and reads the switch's CPU time; and
 * --net-check's program (net_check.c) times the check alone per frame.
 *
 * Everything runs in a network namespace of its own (unshare by the calling
 * thread, put back with setns at the end): the taps, the bridge and the
 * switch's socket exist only there; processes are ended by PID. Needs root
 * (taps) and `ip`; otherwise the group prints a skip line. A bulkhead run
 * reports its outcome before its jailed child has closed everything, so a
 * run first waits until the tap takes a new user and the switch's log shows
 * every port of the last run gone.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bhbench.h"

#define MAC_PING "02:00:00:00:09:01"
#define MAC_ECHO "02:00:00:00:09:02"
#define SEG "bench"
#define WIN 8
#define FRAME 1514

static bool __attribute__((format(printf, 1, 2))) sh(const char *fmt, ...)
{
	char cmd[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	int rc = system(cmd);
	if (rc != 0)
		printf("# net: '%s' failed (status %d)\n", cmd, rc);
	return rc == 0;
}

static bool wait_path(const char *path, double secs)
{
	struct stat st;
	double end = proc_now() + secs;
	while (proc_now() < end) {
		if (stat(path, &st) == 0)
			return true;
		usleep(20000);
	}
	return false;
}

/* Wait (at most `secs`) until nobody holds the persistent tap: a bulkhead
 * run reports its outcome before its jailed child has closed everything,
 * and a tap takes one user at a time. */
static bool tap_free(const char *name, double secs)
{
	double end = proc_now() + secs;
	for (;;) {
		struct ifreq ifr;
		int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC), e = 0;
		memset(&ifr, 0, sizeof(ifr));
		snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
		ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
		if (fd < 0 || ioctl(fd, TUNSETIFF, &ifr) < 0)
			e = errno;
		if (fd >= 0)
			close(fd);
		if (!e)
			return true;
		if (e != EBUSY || proc_now() > end) {
			printf("# net: tap %s: %s\n", name, strerror(e));
			return false;
		}
		usleep(20000);
	}
}

/* Count a string's occurrences in a file (the switch's log). */
static int count_in(const char *path, const char *what)
{
	char line[512];
	int n = 0;
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		n += strstr(line, what) != NULL;
	fclose(f);
	return n;
}

/* Wait (at most `secs`) until every port that joined the switch has left
 * (its log says so): the VMs of the last run may outlive their outcome by a
 * moment, and their MACs and addresses are taken until then. */
static bool switch_idle(const char *log, double secs)
{
	double end = proc_now() + secs;
	for (;;) {
		int j = count_in(log, " joined segment "), l = count_in(log, " left segment ");
		if (j >= 0 && j == l)
			return true;
		if (proc_now() > end) {
			printf("# net: the switch still has %d port(s) of an earlier run (%s)\n", j - l, log);
			return false;
		}
		usleep(20000);
	}
}

static void switch_log(char *buf, size_t len, bool portsec)
{
	snprintf(buf, len, "%s/stderr-switch%s.log", cfg.tmp, portsec ? "" : "-noportsec");
}

/* SIGTERM (the switch stops cleanly on it), then SIGKILL after 3 s. */
static void stop_proc(struct proc *p)
{
	if (p->pid > 0 && !p->reaped) {
		kill(p->pid, SIGTERM);
		proc_wait(p, proc_now() + 3);
	}
	proc_close(p);
}

static bool start_switch(struct proc *p, const char *sock, bool portsec)
{
	char err[512];
	char a_sw[] = "switch", a_l[] = "--listen", a_np[] = "--no-port-security";
	char *argv[] = { (char *)(uintptr_t)cfg.bulkhead, a_sw, a_l, (char *)(uintptr_t)sock,
			 portsec ? NULL : a_np, NULL };
	switch_log(err, sizeof(err), portsec);
	unlink(sock);
	if (proc_start(p, argv, false, err) < 0)
		return false;
	if (!wait_path(sock, 10)) {
		printf("# net: the switch did not create %s\n", sock);
		stop_proc(p);
		return false;
	}
	return true;
}

struct netrun {
	double rtt_us, mbit;
	double sw_ns; /* the switch's CPU time per frame it forwarded, or -1 */
};

/* CPU time (ns) the process has run: /proc/PID/schedstat's first field (the
 * switch is one thread). -1 if unreadable. */
static double cpu_ns(pid_t pid)
{
	char path[64];
	unsigned long long ns;
	snprintf(path, sizeof(path), "/proc/%d/schedstat", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	int ok = fscanf(f, "%llu", &ns) == 1;
	fclose(f);
	return ok ? (double)ns : -1;
}

/* The VM's NIC options: `peer` selects VM↔VM (echo or ping side) or host. */
enum side { PING_VM, ECHO_VM, PING_HOST };

static void nic(struct vmspec *s, enum vmm v, enum side side, const char *sock, char *b1, char *b2,
		size_t len)
{
	const char *mac = side == ECHO_VM ? MAC_ECHO : MAC_PING;
	const char *tap = side == PING_HOST ? "bht0" : side == PING_VM ? "bhv0" : "bhv1";
	if (v == VMM_BH) {
		s->bh_extra[0] = "--net";
		if (side == PING_HOST) {
			snprintf(b1, len, "tap=%s,mac=%s", tap, mac);
		} else {
			snprintf(b1, len, "switch=%s,mac=%s,ip=%s", SEG, mac,
				 side == ECHO_VM ? "10.0.9.2" : "10.0.9.1");
			s->bh_extra[2] = "--switch";
			s->bh_extra[3] = sock;
		}
		s->bh_extra[1] = b1;
		return;
	}
	snprintf(b1, len, "tap,id=n0,ifname=%s,script=no,downscript=no,vhost=off", tap);
	/* no option ROM (iPXE): bulkhead runs none either */
	snprintf(b2, len, "virtio-net-pci,netdev=n0,disable-legacy=on,mac=%s,romfile=", mac);
	s->qemu_extra[0] = "-netdev";
	s->qemu_extra[1] = b1;
	s->qemu_extra[2] = "-device";
	s->qemu_extra[3] = b2;
	/* qboot instead of SeaBIOS: on a PVM-backed host SeaBIOS's real-mode
	 * start takes ~20 s, qboot ~1 s (the guest enters through PVH alike) */
	s->qemu_extra[4] = "-bios";
	s->qemu_extra[5] = "bios-microvm.bin";
}

/* One measured run: the echo VM first (VM↔VM), then the ping VM. */
static bool net_run(enum vmm v, bool host, int cpus, const char *sock, pid_t sw, int rtt, int n,
		    struct netrun *out, const char *what, struct series *fail_to)
{
	double cpu0 = v == VMM_BH && !host ? cpu_ns(sw) : -1;
	char cl_ping[160], cl_echo[64], a1[160], a2[160], b1[160], b2[160];
	struct vmspec ping = { .kernel = cfg.net_guest, .mem_mib = 64, .cpus = cpus,
			       .test_device = true, .pci = true };
	struct vmspec echo = ping;
	struct proc ep = { .pid = -1 };
	const char *smp = cpus > 1 ? " smp" : "";

	char swlog[512];
	switch_log(swlog, sizeof(swlog), strstr(sock, "noportsec") == NULL); /* which switch */
	if ((!host && v == VMM_BH && !switch_idle(swlog, 10)) || (host && !tap_free("bht0", 10)) ||
	    (!host && v == VMM_QEMU && (!tap_free("bhv0", 10) || !tap_free("bhv1", 10)))) {
		verdict(fail_to, false, "a tap stayed busy", NULL);
		return false;
	}
	snprintf(cl_ping, sizeof(cl_ping), "role=ping %s rtt=%d n=%d win=%d size=%d%s",
		 host ? "host" : "peer=" MAC_ECHO, rtt, n, WIN, FRAME, smp);
	ping.cmdline = cl_ping;
	nic(&ping, v, host ? PING_HOST : PING_VM, sock, a1, a2, sizeof(a1));
	if (!host) {
		char err[512];
		snprintf(cl_echo, sizeof(cl_echo), "role=echo%s", smp);
		echo.cmdline = cl_echo;
		nic(&echo, v, ECHO_VM, sock, b1, b2, sizeof(b1));
		snprintf(err, sizeof(err), "%s/stderr-%s-echo.log", cfg.tmp, vmm_name[v]);
		int joined = v == VMM_BH ? count_in(swlog, " joined segment ") : 0;
		if (vm_start(v, &echo, &ep, err) < 0) {
			verdict(fail_to, false, "echo VM start", NULL);
			return false;
		}
		/* bulkhead: its port must be on the switch (else it failed to
		 * start: say why now instead of letting the ping probe for 30 s) */
		double end = proc_now() + 10;
		while (v == VMM_BH && count_in(swlog, " joined segment ") <= joined && proc_now() < end)
			usleep(20000);
		if (v == VMM_BH && count_in(swlog, " joined segment ") <= joined) {
			proc_kill(&ep);
			proc_close(&ep);
			verdict(fail_to, false, "bulkhead echo VM: its port never joined the switch", err);
			return false;
		}
	}
	const char *pats[] = { "R[", "R]", "T[", "T]" };
	struct run r;
	bool ok = run_vm(v, &ping, pats, 4, -1, NULL, NULL, 120, &r, what, fail_to);
	if (ep.pid > 0) {
		/* the echo VM exits on the stop frame; if the ping failed, it is
		 * ended here */
		if (proc_wait(&ep, proc_now() + (ok ? 10 : 0.5)) < 0 && ok) {
			verdict(fail_to, false, "echo VM did not stop", NULL);
			ok = false;
		}
		ok = ok && proc_exit_code(&ep) == (v == VMM_QEMU ? 1 : 0);
		proc_close(&ep);
	}
	if (!ok)
		return false;
	double dr = r.pat[1] - r.pat[0], dt = r.pat[3] - r.pat[2];
	if (dr <= 0 || dt <= 0)
		return false;
	out->rtt_us = dr / rtt * 1e6;
	out->mbit = (double)n * FRAME * 8 / dt / 1e6;
	/* every timed frame crosses the switch twice (there and echoed back);
	 * the few probe and stop frames and the two port registrations are
	 * counted in the time but not in the frames, alike with and without */
	double cpu1 = cpu0 >= 0 ? cpu_ns(sw) : -1;
	out->sw_ns = cpu0 >= 0 && cpu1 > cpu0 ? (cpu1 - cpu0) / (2.0 * (rtt + n)) : -1;
	return true;
}

static bool setup_ns(void)
{
	int fd;
	/* no IPv6 chatter (router solicitations, MLD) on the taps and bridge */
	if ((fd = open("/proc/sys/net/ipv6/conf/default/disable_ipv6", O_WRONLY | O_CLOEXEC)) >= 0) {
		(void)!write(fd, "1", 1);
		close(fd);
	}
	return sh("ip link set lo up") &&
	       sh("ip tuntap add bht0 mode tap && ip addr add 10.0.2.1/24 dev bht0 && "
		  "ip link set bht0 up") &&
	       sh("ip link add bhbr0 type bridge forward_delay 0 && ip link set bhbr0 up") &&
	       sh("ip tuntap add bhv0 mode tap && ip tuntap add bhv1 mode tap && "
		  "ip link set bhv0 master bhbr0 && ip link set bhv1 master bhbr0 && "
		  "ip link set bhv0 up && ip link set bhv1 up");
}

static double median_of(const struct series *s)
{
	double v[MAX_SAMPLES];
	int n = s->n;
	for (int i = 0; i < n; i++)
		v[i] = s->v[i];
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && v[j - 1] > v[j]; j--) {
			double t = v[j];
			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

void bench_net(void)
{
	if (!cfg.net_guest) {
		printf("# net: skipped (no --net-guest)\n");
		return;
	}
	if (geteuid() != 0 || access("/dev/net/tun", R_OK | W_OK) != 0) {
		printf("# net: skipped — needs root and /dev/net/tun (taps in a network namespace)\n");
		return;
	}
	int home = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (home < 0 || unshare(CLONE_NEWNET) < 0) {
		printf("# net: skipped — cannot make a network namespace: %s\n", strerror(errno));
		if (home >= 0)
			close(home);
		return;
	}
	struct proc sw = { .pid = -1 }, sw_open = { .pid = -1 };
	char sock[512], sock_open[512];
	snprintf(sock, sizeof(sock), "%s/bench-switch.sock", cfg.tmp);
	snprintf(sock_open, sizeof(sock_open), "%s/bench-switch-noportsec.sock", cfg.tmp);
	bool have_bh = !cfg.no_bh;
	if (!setup_ns() ||
	    (have_bh && (!start_switch(&sw, sock, true) || !start_switch(&sw_open, sock_open, false)))) {
		verdict(NULL, false, "net: namespace, taps, bridge or switch setup", NULL);
		goto out;
	}

	int rtt = cfg.smoke ? 20 : 200, n = cfg.smoke ? 50 : 1000;
	printf("# net: %s over virtio-net in a network namespace of its own; per run %d round trips\n"
	       "#   of 60-byte frames one at a time (RTT) and %d of %d-byte frames, %d in flight\n"
	       "#   (throughput, each way). bulkhead VM↔VM: `bulkhead switch` (port security on,\n"
	       "#   ip= on both ports); QEMU VM↔VM: taps on a Linux bridge; VM↔host: a tap whose\n"
	       "#   host side (10.0.2.1) answers ICMP echo; QEMU -M pc with qboot, virtio-net-pci,\n"
	       "#   vhost=off\n",
	       cfg.net_guest, rtt, n, FRAME, WIN);
	static const struct {
		bool host;
		int cpus;
		const char *tp, *lat;
	} kinds[] = {
		{ false, 1, "VM↔VM throughput, 1 vCPU", "VM↔VM round trip, 1 vCPU" },
		{ false, 2, "VM↔VM throughput, 2 vCPUs", NULL },
		{ true, 1, "VM↔host (tap) throughput, 1 vCPU", "VM↔host (tap) round trip, 1 vCPU" },
		{ true, 2, "VM↔host (tap) throughput, 2 vCPUs", NULL },
	};
	const int nk = (int)(sizeof(kinds) / sizeof(kinds[0]));
	struct row *tp[4], *lat[4] = { NULL };
	for (int k = 0; k < nk; k++) {
		tp[k] = row_new("net", kinds[k].tp, "Mbit/s", true);
		snprintf(tp[k]->note, sizeof(tp[k]->note), "%d-byte frames echoed, %d in flight, each way%s",
			 FRAME, WIN, kinds[k].host ? "" : "; QEMU: tap + Linux bridge");
		if (kinds[k].lat) {
			lat[k] = row_new("net", kinds[k].lat, "µs", false);
			snprintf(lat[k]->note, sizeof(lat[k]->note), "60-byte frames, one in flight%s",
				 kinds[k].host ? "" : "; QEMU: tap + Linux bridge");
		}
	}
	/* bulkhead only: rows without a bulkhead run would read as failures */
	struct series ps_tp = { .n = 0 }, ps_rtt = { .n = 0 }, ref_tp = { .n = 0 }, ref_rtt = { .n = 0 };
	struct series cpu_on = { .n = 0 }, cpu_off = { .n = 0 }, chk = { .n = 0 };
	struct series with_tp = { .n = 0 }, with_rtt = { .n = 0 };

	for (int i = 0; i < rounds(cfg.reps > 3 ? 3 : cfg.reps); i++) {
		for (int k = 0; k < nk; k++) {
			if (cfg.smoke && kinds[k].cpus > 1)
				continue;
			for (int v = first_vmm(); v < VMM_N; v = next_vmm(v)) {
				struct netrun r;
				char what[96];
				snprintf(what, sizeof(what), "net %s %d vCPU", kinds[k].host ? "host" : "vm",
					 kinds[k].cpus);
				if (!net_run((enum vmm)v, kinds[k].host, kinds[k].cpus, sock, sw.pid, rtt, n, &r, what,
					     warmup(i) ? NULL : &tp[k]->s[v]) ||
				    warmup(i))
					continue;
				add(&tp[k]->s[v], r.mbit);
				if (lat[k])
					add(&lat[k]->s[v], r.rtt_us);
			}
		}
		if (cfg.net_check && !warmup(i)) {
			/* the check alone, per frame: net_check N (net_check.c) */
			char nn[16], out[128], err[512];
			double udp_ns, arp_ns;
			snprintf(nn, sizeof(nn), "%d", cfg.smoke ? 10000 : 2000000);
			snprintf(err, sizeof(err), "%s/stderr-net_check.log", cfg.tmp);
			char *argv[] = { (char *)(uintptr_t)cfg.net_check, nn, NULL };
			bool ok = proc_run_capture(argv, err, 60, out, sizeof(out)) &&
				  sscanf(out, "net_check %lf %lf", &udp_ns, &arp_ns) == 2;
			verdict(NULL, ok, "net_check", err);
			if (ok)
				add(&chk, udp_ns);
		}
		if (!have_bh || cfg.smoke)
			continue;
		/* Port security: bulkhead's 1-vCPU pair with, without, without,
		 * with (ABBA: a drift of the machine during the block hits both
		 * alike); the round's figure is the ratio of the two means. */
		struct netrun pr[4];
		bool all = true;
		for (int j = 0; j < 4 && all; j++) {
			bool on = j == 0 || j == 3;
			all = net_run(VMM_BH, false, 1, on ? sock : sock_open, on ? sw.pid : sw_open.pid, rtt, n,
				      &pr[j], on ? "net vm, port security on" : "net vm --no-port-security",
				      warmup(i) ? NULL : &ps_tp);
		}
		if (!all || warmup(i))
			continue;
		double on_tp = (pr[0].mbit + pr[3].mbit) / 2, off_tp = (pr[1].mbit + pr[2].mbit) / 2;
		double on_rtt = (pr[0].rtt_us + pr[3].rtt_us) / 2, off_rtt = (pr[1].rtt_us + pr[2].rtt_us) / 2;
		add(&ps_tp, on_tp / off_tp);
		add(&ps_rtt, on_rtt / off_rtt);
		add(&ref_tp, off_tp);
		add(&ref_rtt, off_rtt);
		add(&with_tp, on_tp);
		add(&with_rtt, on_rtt);
		if (pr[0].sw_ns > 0 && pr[1].sw_ns > 0 && pr[2].sw_ns > 0 && pr[3].sw_ns > 0) {
			add(&cpu_on, (pr[0].sw_ns + pr[3].sw_ns) / 2);
			add(&cpu_off, (pr[1].sw_ns + pr[2].sw_ns) / 2);
		}
	}
	if (have_bh && !cfg.smoke) {
		struct row *ps = row_new("net", "port security: VM↔VM throughput, with / without", "×", true);
		struct row *psl = row_new("net", "port security: VM↔VM round trip, with / without", "×", false);
		ps->s[VMM_BH] = ps_tp;
		psl->s[VMM_BH] = ps_rtt;
		if (ps_tp.n)
			snprintf(ps->note, sizeof(ps->note),
				 "median of per-round ratios, 1 vCPU, runs with/without/without/with; with: %.1f Mbit/s, "
				 "without (switch --no-port-security): %.1f (target ≥ 0.97×)",
				 median_of(&with_tp), median_of(&ref_tp));
		if (ps_rtt.n)
			snprintf(psl->note, sizeof(psl->note),
				 "median of per-round ratios (as above); with: %.0f µs, without: %.0f",
				 median_of(&with_rtt), median_of(&ref_rtt));
		struct row *pc = row_new("net", "port security: switch CPU time per forwarded frame", "ns", false);
		pc->s[VMM_BH] = cpu_on;
		pc->ref = cpu_off;
		pc->ref_name = "without (--no-port-security)";
		if (chk.n) {
			struct row *pk = row_new("net", "port security: the check alone (net_port_check), per frame",
						 "ns", false);
			pk->s[VMM_BH] = chk;
			if (cpu_on.n)
				snprintf(pk->note, sizeof(pk->note),
					 "net_check: a 1514-byte UDP frame, 16 ports on the segment; "
					 "%.2f%% of the switch's CPU time per frame above",
					 100 * median_of(&chk) / median_of(&cpu_on));
		}
		if (cpu_on.n && cpu_off.n)
			snprintf(pc->note, sizeof(pc->note),
				 "the switch process's own CPU time (/proc/PID/schedstat) over a run / frames; "
				 "with / without = %.2f×",
				 median_of(&cpu_on) / median_of(&cpu_off));
	}
out:
	if (sw.pid > 0)
		stop_proc(&sw);
	if (sw_open.pid > 0)
		stop_proc(&sw_open);
	unlink(sock);
	unlink(sock_open);
	/* back to the original namespace; the bench's one (taps, bridge) goes
	 * with its last process */
	if (setns(home, CLONE_NEWNET) < 0)
		printf("# net: warning: setns back failed: %s\n", strerror(errno));
	close(home);
}
