/* vm_place.c — see vm_place.h. */
#include "vmm/vm_place.h"

#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "config/cpu_place.h"
#include "core/guest_mem.h"
#include "vmm/vm.h"

static int placed_err(struct vm *vm, int ret, bool config, const char *fmt, ...)
	BH_PRINTF(4, 5);
static int placed_err(struct vm *vm, int ret, bool config, const char *fmt, ...)
{
	va_list ap;

	if (vm->err[0] == '\0') { /* the first error is the one reported */
		va_start(ap, fmt);
		vsnprintf(vm->err, sizeof(vm->err), fmt, ap);
		va_end(ap);
		vm->err_is_config = config;
	}
	return ret;
}

int vm_place_memory(struct vm *vm)
{
	const struct vm_config *c = &vm->cfg;
	struct gmem_opts o = { .prealloc = c->mem_prealloc, .thp = c->thp, .ksm = c->ksm };
	const char *hp = c->hugepages == VM_HUGEPAGES_1G ? "1G" : "2M";
	unsigned long long mib = (unsigned long long)(c->mem_bytes >> 20);
	int64_t have = 0;
	int ret;

	if (c->hugepages == VM_HUGEPAGES_2M)
		o.page_size = GMEM_HUGE_2M;
	else if (c->hugepages == VM_HUGEPAGES_1G)
		o.page_size = GMEM_HUGE_1G;
	if (o.page_size) {
		unsigned long long need = c->mem_bytes / o.page_size;

		if (c->mem_bytes % o.page_size)
			return placed_err(vm, -EINVAL, true,
					  "--hugepages %s: %s pages do not divide --mem %llu MiB",
					  hp, hp, mib);
		have = gmem_hugepages_free(o.page_size);
		if (have == -ENOENT)
			return placed_err(vm, -ENOTSUP, true,
					  "--hugepages %s: this host offers no %s hugepages", hp, hp);
		if (have >= 0 && (unsigned long long)have < need)
			return placed_err(vm, -ENOMEM, true,
					  "--hugepages %s: %llu MiB of guest RAM needs %llu free %s "
					  "hugepages; the host has %lld (see /proc/sys/vm/nr_hugepages "
					  "or /sys/kernel/mm/hugepages/)",
					  hp, mib, need, hp, (long long)have);
	}
	ret = gmem_create_opts(&vm->mem, c->mem_bytes, &o);
	if (!ret)
		return 0;
	if (ret == -EINVAL)
		return placed_err(vm, -ERANGE, true,
				  "--mem: %llu bytes is not a usable guest RAM size (whole pages, at "
				  "most %llu GiB)",
				  (unsigned long long)c->mem_bytes,
				  (unsigned long long)(GMEM_MAX_SIZE >> 30));
	if (o.page_size && (ret == -ENOMEM || ret == -ENOSPC))
		return placed_err(vm, ret, true,
				  "--hugepages %s: the host could not supply %llu MiB of %s pages "
				  "(another process took them; free now: %lld)",
				  hp, mib, hp, (long long)gmem_hugepages_free(o.page_size));
	if (c->mem_prealloc && (ret == -ENOMEM || ret == -ENOSPC))
		return placed_err(vm, ret, true,
				  "--mem-prealloc: the host cannot supply %llu MiB of guest RAM "
				  "now: %s",
				  mib, strerror(-ret));
	return placed_err(vm, ret, false, "cannot allocate %llu MiB of guest RAM: %s", mib,
			  strerror(-ret));
}

int vm_place_memory_from(struct vm *vm, int fd, bool copy_on_write)
{
	const struct vm_config *c = &vm->cfg;
	struct gmem_opts o = { .prealloc = c->mem_prealloc, .thp = c->thp, .ksm = c->ksm };
	unsigned long long mib = (unsigned long long)(c->mem_bytes >> 20);
	int ret;

	if (c->hugepages != VM_HUGEPAGES_NONE) {
		/* Hugepages cannot back a mapping of a file on an ordinary
		 * filesystem: fresh hugepage RAM (the same host checks as a boot),
		 * then the file's data copied into it. */
		ret = vm_place_memory(vm);
		if (!ret && (ret = gmem_load_file(&vm->mem, fd)))
			placed_err(vm, ret, ret == -EINVAL,
				   "copying the guest RAM file into --hugepages RAM: %s",
				   ret == -EINVAL ? "not a regular file, or shorter than --mem"
						  : strerror(-ret));
		close(fd);
		if (!ret)
			bh_info("--hugepages %s: guest RAM copied from the snapshot's memory file "
				"(%llu MiB, read up front; clones do not share it)",
				c->hugepages == VM_HUGEPAGES_1G ? "1G" : "2M", mib);
		return ret;
	}
	ret = gmem_create_from_fd(&vm->mem, c->mem_bytes, fd, copy_on_write);
	if (ret == -EINVAL)
		return placed_err(vm, -EINVAL, true, "guest RAM file: shorter than --mem (%llu MiB) "
				  "or not a regular file or memfd", mib);
	if (ret)
		return placed_err(vm, ret, false, "cannot map the guest RAM file: %s",
				  strerror(-ret));
	if (!copy_on_write)
		return 0;
	ret = gmem_place_file_copy(&vm->mem, &o);
	if (ret && c->mem_prealloc && ret == -ENOMEM)
		return placed_err(vm, ret, true, "--mem-prealloc: the host cannot supply %llu MiB "
				  "of guest RAM now", mib);
	if (ret)
		return placed_err(vm, ret, false, "placing the guest RAM file's mapping: %s",
				  strerror(-ret));
	if (c->mem_prealloc)
		bh_info("--mem-prealloc: every page of guest RAM copied from the snapshot's memory "
			"file now (%llu MiB; clones do not share it)", mib);
	return 0;
}

int vm_place_cpus(struct vm *vm)
{
	struct cpu_place *p;
	cpu_set_t host;
	int ret;

	vm->place = NULL;
	if (!vm->cfg.cpu_affinity && !vm->cfg.cpu_dedicated)
		return 0;
	if (sched_getaffinity(0, sizeof(host), &host) < 0)
		return placed_err(vm, -errno, false, "sched_getaffinity: %s", strerror(errno));
	if (!(p = malloc(sizeof(*p))))
		return placed_err(vm, -ENOMEM, false, "out of memory");
	if ((ret = cpu_place_resolve(&vm->cfg, &host, true, p, vm->err, sizeof(vm->err)))) {
		free(p);
		vm->err_is_config = true;
		return ret;
	}
	vm->place = p;
	return 0;
}

int vm_place_thread(struct vm *vm, enum vm_thread_kind kind, unsigned index)
{
	const cpu_set_t *set;

	if (!vm->place)
		return 0;
	if (kind == VM_THREAD_VCPU)
		set = &vm->place->vcpu[index];
	else if (vm->cfg.cpu_dedicated)
		set = &vm->place->other;
	else
		return 0; /* shared: only the vCPU threads are pinned */
	return sched_setaffinity(0, sizeof(*set), set) < 0 ? -errno : 0;
}

void vm_place_destroy(struct vm *vm)
{
	free(vm->place);
	vm->place = NULL;
}
