/* vmgenid.c — see vmgenid.h. */
#include "vmgenid.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

static int draw(uint8_t id[X86_VMGENID_LEN])
{
	return getrandom(id, X86_VMGENID_LEN, 0) == X86_VMGENID_LEN ? 0 : -EIO;
}

int vmgenid_init(struct vmgenid *g, const struct guest_mem *mem, struct acpi_pm *pm)
{
	memset(g, 0, sizeof(*g));
	g->mem = mem;
	g->pm = pm;
	g->gpa = X86_VMGENID_GPA;
	if (!gmem_valid(mem, g->gpa, X86_VMGENID_LEN))
		return -EFAULT;
	return draw(g->id);
}

int vmgenid_publish(struct vmgenid *g)
{
	return gmem_write(g->mem, g->gpa, g->id, X86_VMGENID_LEN);
}

void vmgenid_notify(struct vmgenid *g)
{
	if (!g->notify_pending)
		return;
	g->notify_pending = false;
	acpi_pm_gpe_raise(g->pm, ACPI_GPE_VMGENID);
}

void vmgenid_save(struct vmgenid *g, struct sbuf *out)
{
	sbuf_u64(out, g->gpa);
	sbuf_put(out, g->id, X86_VMGENID_LEN);
}

int vmgenid_load(struct vmgenid *g, struct sreader *in, uint32_t version, char *err,
		 size_t errlen)
{
	uint8_t saved[X86_VMGENID_LEN], next[X86_VMGENID_LEN];
	uint64_t gpa;

	if (version != VMGENID_STATE_VERSION) {
		snprintf(err, errlen, "vmgenid: state version %u unknown (this build: %u)", version,
			 VMGENID_STATE_VERSION);
		return -ENOTSUP;
	}
	gpa = sr_u64(in);
	sr_get(in, saved, sizeof(saved));
	if (sr_finish(in)) {
		snprintf(err, errlen, "vmgenid: state is not 24 bytes (address, ID)");
		return -EINVAL;
	}
	if (gpa != g->gpa) {
		snprintf(err, errlen, "vmgenid: the snapshot's guest reads its generation ID at "
			 "0x%llx, this VM keeps it at 0x%llx", (unsigned long long)gpa,
			 (unsigned long long)g->gpa);
		return -EINVAL;
	}
	/* A new generation: never the saved ID again (2^-128, but cheap). */
	do {
		if (draw(next)) {
			snprintf(err, errlen, "vmgenid: getrandom failed");
			return -EIO;
		}
	} while (!memcmp(next, saved, sizeof(next)));
	if (gmem_write(g->mem, g->gpa, next, sizeof(next))) {
		snprintf(err, errlen, "vmgenid: 0x%llx is not guest RAM",
			 (unsigned long long)g->gpa);
		return -EFAULT;
	}
	memcpy(g->id, next, sizeof(next));
	g->notify_pending = true;
	return 0;
}

void vmgenid_format(const uint8_t id[X86_VMGENID_LEN], char out[VMGENID_TEXT])
{
	char *p = out;

	for (unsigned i = 0; i < X86_VMGENID_LEN; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			*p++ = '-';
		p += snprintf(p, 3, "%02x", id[i]);
	}
	*p = '\0';
}
