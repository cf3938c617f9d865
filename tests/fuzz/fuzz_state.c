/* fuzz_state.c — libFuzzer target for the device-state parser of snapshots:
 * the PCI bus's and the virtio devices' load (pci_bus_load(),
 * virtio_pci_load(): transport, virtqueues, blk/console/rng) on a real
 * device set (state_machine.h; no KVM), with guest memory from the input.
 * Input format: state_machine.h. Invariants (trap):
 *   - a refusal always says why;
 *   - a loaded state is one the devices can run from: resuming them (held
 *     notifications), kicking every queue, console input and reaping blk
 *     completions stay within the sanitizers;
 *   - after quiesce nothing is in flight: saving succeeds;
 *   - what was saved loads again into the same device set (unless a device
 *     wrote over another's used ring — the one state-vs-memory refusal), and
 *     saving that gives the same bytes.
 * Seeds: make_state_seeds.c (make-seeds.sh). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "state_machine.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Run the devices from the loaded state like a driver poking them. */
static void exercise(struct sm *m)
{
	sm_resume(m);
	for (unsigned d = 0; d < SM_NDEV; d++) {
		struct virtio_dev *vd = m->vd[d];

		for (unsigned q = 0; q < vd->nqueues; q++) {
			pthread_mutex_lock(&vd->lock);
			virtio_dev_notify(vd, q);
			pthread_mutex_unlock(&vd->lock);
		}
	}
	(void)virtio_console_input(m->con, (const uint8_t *)"input", 5);
	(void)virtio_blk_poll(m->blk);
	sm_quiesce(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	static struct sm m;
	struct sbuf out, again;
	struct sreader r;
	char err[512] = "";
	size_t mem_len;
	int ret;

	if (!ready) {
		bh_log_set_level(BH_LOG_ERROR);
		ready = 1;
	}
	if (size < 2)
		return 0;
	mem_len = (size_t)data[0] | ((size_t)data[1] << 8);
	if (mem_len > size - 2)
		return 0;
	if (sm_create(&m))
		__builtin_trap();
	if (gmem_write(&m.gm, 0, data + 2, mem_len))
		__builtin_trap();
	sm_quiesce(&m);
	sr_init(&r, data + 2 + mem_len, size - 2 - mem_len);
	ret = sm_load_devices(&m, &r, err, sizeof(err));
	if (ret) {
		if (!err[0])
			__builtin_trap();
		goto out;
	}
	exercise(&m);
	sbuf_init(&out);
	if (sm_save_devices(&m, &out))
		__builtin_trap();
	sr_init(&r, out.data, out.len);
	err[0] = '\0';
	ret = sm_load_devices(&m, &r, err, sizeof(err));
	if (ret && !strstr(err, "used ring in guest memory"))
		__builtin_trap();
	if (!ret) {
		sbuf_init(&again);
		if (sm_save_devices(&m, &again) || again.len != out.len ||
		    memcmp(again.data, out.data, out.len))
			__builtin_trap();
		sbuf_free(&again);
	}
	sbuf_free(&out);
out:
	sm_destroy(&m);
	return 0;
}
