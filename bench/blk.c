/* blk.c — bhbench's block-I/O group (issue 6): guest/blk_guest.c over
 * virtio-blk in bulkhead (--disk) and in QEMU (-M pc, modern-only
 * virtio-blk-pci), next to blk_host doing the same I/O on the host — the
 * limit any VMM could reach on this machine and file system.
 *
 * Four rows: 4 KiB random read / write (queue depth 16) in IOPS, 1 MiB
 * sequential read / write (queue depth 4) in MiB/s, each from the guest's
 * '[' → ']' on COM1 (the timed phase only, boot excluded). One 64 MiB image
 * in --tmp, filled with data first (reads of holes would measure nothing),
 * shared by every run. The group runs only when bulkhead has --disk (`bulkhead
 * run --help` says so); with --vmm qemu it runs for QEMU and the host alone.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bhbench.h"

#define IMG_MIB 64

static bool bulkhead_has_disk(void)
{
	char cmd[1024], line[512];
	bool found = false;
	snprintf(cmd, sizeof(cmd), "'%s' run --help 2>&1", cfg.bulkhead);
	FILE *f = popen(cmd, "r");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, "--disk"))
			found = true;
	pclose(f);
	return found;
}

/* A data-filled image; *direct: whether O_DIRECT opens work on it. */
static bool make_image(const char *path, bool *direct)
{
	static char block[1 << 20];
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return false;
	for (size_t i = 0; i < sizeof(block); i++)
		block[i] = (char)(i * 31 + 7);
	bool ok = true;
	for (int i = 0; i < IMG_MIB && ok; i++)
		ok = write(fd, block, sizeof(block)) == (ssize_t)sizeof(block);
	ok = close(fd) == 0 && ok;
	fd = open(path, O_RDONLY | O_DIRECT | O_CLOEXEC);
	*direct = fd >= 0;
	if (fd >= 0)
		close(fd);
	return ok;
}

/* blk_host FILE MODE N QD: seconds for the N requests. */
static bool host_run(const char *img, const char *mode, int n, int qd, double *secs)
{
	char ns[16], qs[16], err[512], out[256];
	snprintf(ns, sizeof(ns), "%d", n);
	snprintf(qs, sizeof(qs), "%d", qd);
	snprintf(err, sizeof(err), "%s/stderr-blk_host.log", cfg.tmp);
	char *argv[] = { (char *)(uintptr_t)cfg.blk_host, (char *)(uintptr_t)img,
			 (char *)(uintptr_t)mode, ns, qs, NULL };
	bool ok = proc_run_capture(argv, err, 120, out, sizeof(out));
	char m[16];
	unsigned long cnt;
	ok = ok && sscanf(out, "blk_host %15s %lu %lf", m, &cnt, secs) == 3 && *secs > 0;
	char what[64];
	snprintf(what, sizeof(what), "blk_host %s", mode);
	verdict(NULL, ok, what, err);
	return ok;
}

void bench_blk(void)
{
	static const struct {
		const char *mode, *name, *unit;
		int qd;
		bool seq;
	} kinds[] = {
		{ "randread", "4 KiB random read, QD 16", "IOPS", 16, false },
		{ "randwrite", "4 KiB random write, QD 16", "IOPS", 16, false },
		{ "seqread", "1 MiB sequential read, QD 4", "MiB/s", 4, true },
		{ "seqwrite", "1 MiB sequential write, QD 4", "MiB/s", 4, true },
	};
	if (!cfg.blk_guest || !cfg.blk_host) {
		printf("# blk: skipped (no --blk-guest/--blk-host)\n");
		return;
	}
	if (!cfg.no_bh && !bulkhead_has_disk()) {
		printf("# blk: skipped — bulkhead has no --disk yet (`--vmm qemu --only blk` measures "
		       "QEMU and the host alone)\n");
		return;
	}
	char img[512];
	bool direct;
	snprintf(img, sizeof(img), "%s/blk-bench.img", cfg.tmp);
	if (!make_image(img, &direct)) {
		printf("# blk: cannot create %s: %s\n", img, strerror(errno));
		verdict(NULL, false, "blk image", NULL);
		return;
	}
	int n_rand = cfg.smoke ? 20 : cfg.exits, n_seq = cfg.smoke ? 4 : cfg.exits / 40;
	printf("# blk: %s over virtio-blk, %d MiB image (%s); 4 KiB random x%d at QD 16, 1 MiB\n"
	       "#   sequential x%d at QD 4; guest '[' → ']' on COM1; QEMU -M pc virtio-blk-pci\n"
	       "#   disable-legacy=on; reference: blk_host, the same I/O from the host\n",
	       cfg.blk_guest, IMG_MIB, direct ? "O_DIRECT works" : "no O_DIRECT here: page cache",
	       n_rand, n_seq);
	for (unsigned k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		if (cfg.smoke && k != 1 && k != 2)
			continue; /* smoke: one write and one read kind, both sizes */
		struct row *r = row_new("blk", kinds[k].name, kinds[k].unit, true);
		r->ref_name = direct ? "host O_DIRECT pread/pwrite (blk_host)" :
				       "host pread/pwrite via page cache (blk_host; no O_DIRECT)";
		int n = kinds[k].seq ? n_seq : n_rand;
		char cmdline[96];
		snprintf(cmdline, sizeof(cmdline), "mode=%s n=%d qd=%d", kinds[k].mode, n, kinds[k].qd);
		struct vmspec s = { .kernel = cfg.blk_guest, .cmdline = cmdline, .mem_mib = 64,
				    .cpus = 1, .test_device = true, .disk = img, .disk_direct = direct };
		const char *pats[] = { "[", "]" };
		for (int i = 0; i < rounds(cfg.reps > 3 ? 3 : cfg.reps); i++) {
			for (int v = first_vmm(); v < VMM_N; v = next_vmm(v)) {
				struct run run;
				if (!run_vm((enum vmm)v, &s, pats, 2, -1, NULL, NULL, 120, &run, kinds[k].mode,
					    warmup(i) ? NULL : &r->s[v]) || warmup(i))
					continue;
				double dt = run.pat[1] - run.pat[0];
				if (dt > 0)
					add(&r->s[v], n / dt);
			}
			double secs;
			if (host_run(img, kinds[k].mode, n, kinds[k].qd, &secs) && !warmup(i))
				add(&r->ref, n / secs);
		}
		snprintf(r->note, sizeof(r->note), "QEMU: -M pc, virtio-blk-pci; %d requests, %d MiB image%s", n, IMG_MIB,
			 direct ? "" : ", no O_DIRECT (tmpfs): page cache");
	}
}
