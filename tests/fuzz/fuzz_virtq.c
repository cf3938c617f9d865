/* fuzz_virtq.c — libFuzzer target for the split virtqueue (queue.h).
 *
 * The input is a script run against a 1 MiB guest RAM, playing both the
 * hostile driver (arbitrary writes into RAM: rings, descriptors, indirect
 * tables, indices) and the device (activate, pop, push, chain copies):
 *   header (16 bytes): size_log2, flags (bit0 EVENT_IDX, bit1 INDIRECT_DESC,
 *     bit2 raw 32-bit ring addresses, else masked to 64 KiB), pad[2],
 *     le32 desc, avail, used
 *   then ops, each one opcode byte (% 7):
 *     0 write: le16 gpa, u8 len, len bytes          (driver writes RAM)
 *     1 activate with the header's parameters
 *     2 pop: u8 n — pop up to n % 16 chains
 *     3 push: u8 sel, le32 written — push an in-flight head (sel picks one;
 *       sel 0xff pushes a head that is NOT in flight: must be refused)
 *     4 should_notify
 *     5 reset
 *     6 copy: u8 off, u8 len — chain_read/chain_write/chain_iov on the last
 *       popped chain
 * Invariants checked (trap on violation): every popped chain respects the
 * queue.h rules; in-flight count matches the harness and stays <= size; a
 * broken queue yields nothing; refused pushes change nothing. Seeds: see
 * make_virtio_seeds.c. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "common/log.h"
#include "virtio/queue.h"

#define RAM (1ULL << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct cursor {
	const uint8_t *p;
	size_t n;
};

static int take(struct cursor *c, void *dst, size_t len)
{
	if (c->n < len)
		return -1;
	memcpy(dst, c->p, len);
	c->p += len;
	c->n -= len;
	return 0;
}

static void check_chain(const struct virtq *q, const struct virtq_chain *c)
{
	uint64_t out = 0, in = 0;

	if (c->nout + c->nin == 0 || c->nout + c->nin > VIRTQ_MAX_SEGS || c->head >= q->size)
		__builtin_trap();
	for (unsigned i = 0; i < c->nout + c->nin; i++) {
		if (c->seg[i].len == 0 || !gmem_valid(q->mem, c->seg[i].gpa, c->seg[i].len))
			__builtin_trap();
		if (i < c->nout)
			out += c->seg[i].len;
		else
			in += c->seg[i].len;
	}
	if (out != c->out_bytes || in != c->in_bytes || out + in > UINT32_MAX)
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct guest_mem gm;
	static int ready;
	static uint8_t zero[64 * 1024];
	static struct virtq_chain chain;
	static uint8_t buf[512];
	struct cursor cur = { data, size };
	struct virtq q = { 0 };
	uint8_t hdr[16], op;
	uint16_t heads[256];
	unsigned nheads = 0;
	bool have_chain = false;
	uint32_t desc, avail, used;
	uint64_t feat = 0;
	uint16_t qsize;

	if (!ready) {
		bh_log_set_level(BH_LOG_ERROR);
		if (gmem_create(&gm, RAM))
			return 0;
		ready = 1;
	}
	if (take(&cur, hdr, sizeof(hdr)))
		return 0;
	/* Fresh RAM for each input (the first 64 KiB is where scripts write). */
	if (gmem_write(&gm, 0, zero, sizeof(zero)))
		__builtin_trap();
	qsize = (uint16_t)(1u << (hdr[0] % 9));
	if (hdr[1] & 1)
		feat |= 1ULL << VIRTIO_RING_F_EVENT_IDX;
	if (hdr[1] & 2)
		feat |= 1ULL << VIRTIO_RING_F_INDIRECT_DESC;
	memcpy(&desc, hdr + 4, 4);
	memcpy(&avail, hdr + 8, 4);
	memcpy(&used, hdr + 12, 4);
	if (!(hdr[1] & 4)) {
		desc &= 0xffff;
		avail &= 0xffff;
		used &= 0xffff;
	}
	for (unsigned steps = 0; steps < 4096 && take(&cur, &op, 1) == 0; steps++) {
		switch (op % 7) {
		case 0: {
			uint16_t gpa;
			uint8_t len, bytes[255];

			if (take(&cur, &gpa, 2) || take(&cur, &len, 1) || take(&cur, bytes, len))
				goto out;
			if (gmem_write(&gm, gpa, bytes, len))
				__builtin_trap(); /* always inside the first 64 KiB + 255 */
			break;
		}
		case 1:
			nheads = 0;
			have_chain = false;
			if (virtq_activate(&q, &gm, qsize, 256, desc, avail, used, feat) == 0 &&
			    (!q.active || q.size != qsize))
				__builtin_trap();
			break;
		case 2: {
			uint8_t n;

			if (take(&cur, &n, 1))
				goto out;
			for (unsigned i = 0; i < n % 16u; i++) {
				int r = virtq_pop(&q, &chain);

				if (r < 0 && (!q.broken || virtq_pop(&q, &chain) != 0))
					__builtin_trap();
				if (r <= 0)
					break;
				check_chain(&q, &chain);
				for (unsigned k = 0; k < nheads; k++)
					if (heads[k] == chain.head)
						__builtin_trap(); /* duplicate in flight */
				if (nheads >= q.size)
					__builtin_trap();
				heads[nheads++] = chain.head;
				have_chain = true;
			}
			break;
		}
		case 3: {
			uint8_t sel;
			uint32_t written;

			if (take(&cur, &sel, 1) || take(&cur, &written, 4))
				goto out;
			if (sel == 0xff || nheads == 0) {
				uint16_t idx = q.used_idx;
				uint16_t h = (uint16_t)written;
				bool inflight = false;

				for (unsigned k = 0; k < nheads; k++)
					inflight |= heads[k] == h;
				if (!inflight && (virtq_push(&q, h, 0) != -EINVAL || q.used_idx != idx))
					__builtin_trap();
				break;
			}
			sel %= nheads;
			if (virtq_push(&q, heads[sel], written))
				__builtin_trap();
			heads[sel] = heads[--nheads];
			break;
		}
		case 4:
			(void)virtq_should_notify(&q);
			break;
		case 5:
			virtq_reset(&q);
			nheads = 0;
			have_chain = false;
			break;
		case 6: {
			uint8_t off, len;
			struct iovec iov[8];

			if (take(&cur, &off, 1) || take(&cur, &len, 1))
				goto out;
			if (!have_chain || !q.active)
				break;
			if (virtq_chain_read(&q, &chain, off, buf, len) > len ||
			    virtq_chain_write(&q, &chain, off, buf, len) > len)
				__builtin_trap();
			(void)virtq_chain_iov(&q, &chain, off & 1, off, len, iov, 8);
			break;
		}
		}
		if (q.active && q.inflight != nheads)
			__builtin_trap();
	}
out:
	virtq_reset(&q);
	return 0;
}
