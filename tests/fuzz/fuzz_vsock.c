/* fuzz_vsock.c — libFuzzer target for virtio-vsock's packet and credit state
 * machine (src/virtio/vsock.c, vsock_host.c) with a hostile driver script and
 * real host sockets (socketpairs connected through
 * virtio_vsock_host_connect(); no event loop, so the device moves bytes when
 * the script makes it).
 *
 * RAM 1 MiB; queue q (0 rx, 1 tx, 2 event) has desc 0x3000*q, avail +0x1000,
 * used +0x2000. The input is one byte of queue size (2^(1 + b % 8)) and then
 * ops, one opcode byte (% 10) each:
 *   0 write: le16 gpa, u8 len, len bytes (anything: rings, headers, buffers)
 *   1 start: reset, enable the three queues, activate
 *   2 tx packet: 44 header bytes, u8 payload length, the payload; src_cid is
 *     the guest's unless the header's first byte is 0xff (spoofing); placed
 *     in the next tx descriptor and notified
 *   3 post rx buffers: u8 n (% 8), u8 size (buffer = 16 * size bytes)
 *   4 notify queue (u8 % 3)
 *   5 host connect: le32 port (a socketpair; up to 4 host peers)
 *   6 host peer writes: u8 peer, u8 len, len bytes (non-blocking)
 *   7 tick: u8 seconds later
 *   8 driver reset
 *   9 transport reset (restore)
 * Invariants (trap): connections never exceed the cap; after a reset none
 * are left; the device's counters stay consistent. Seeds in corpus/vsock
 * (tests/fuzz/make-seeds.sh). */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "virtio/vsock.h"

#include "fuzz_virtio.h"

#define RAM (1ULL << 20)
#define CID 3
#define MAX_CONNS 4
#define PEERS 4

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct st {
	struct guest_mem *gm;
	struct virtio_dev *vd;
	uint16_t qsize;
	uint16_t avail[3];
	unsigned tx_next, rx_next;
};

static void post(struct st *s, unsigned q, uint16_t d, uint64_t addr, uint32_t len, uint16_t fl)
{
	uint8_t desc[16];
	uint64_t base = 0x3000ULL * q;
	uint16_t slot = s->avail[q] % s->qsize, idx;

	memcpy(desc, &addr, 8);
	memcpy(desc + 8, &len, 4);
	memcpy(desc + 12, &fl, 2);
	memset(desc + 14, 0, 2);
	if (gmem_write(s->gm, base + 16ULL * d, desc, 16) ||
	    gmem_write(s->gm, base + 0x1000 + 4 + 2ULL * slot, &d, 2))
		__builtin_trap();
	idx = ++s->avail[q];
	if (gmem_write(s->gm, base + 0x1000 + 2, &idx, 2))
		__builtin_trap();
}

static void notify(struct virtio_dev *vd, unsigned q)
{
	pthread_mutex_lock(&vd->lock);
	virtio_dev_notify(vd, q);
	pthread_mutex_unlock(&vd->lock);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void check(struct virtio_vsock *vs)
{
	struct virtio_vsock_stats st;

	virtio_vsock_get_stats(vs, &st);
	if (st.conns > MAX_CONNS || st.established > st.accepted + st.guest_requests)
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct guest_mem gm;
	static int ready;
	struct virtio_vsock_params p = { .guest_cid = CID, .listen_fd = -1, .broker_fd = -1,
					 .max_conns = MAX_CONNS, .buf_size = 4096 };
	struct virtio_vsock *vs;
	struct virtio_dev *vd;
	struct virtio_vsock_stats stt;
	int peers[PEERS];
	unsigned npeers = 0;
	struct st s;
	size_t i = 1;

	if (!ready) {
		bh_log_set_level(BH_LOG_ERROR);
		if (gmem_create(&gm, RAM))
			return 0;
		ready = 1;
	}
	if (size < 1)
		return 0;
	fuzz_clear_low_ram(&gm);
	if (virtio_vsock_create(&vs, &gm, NULL, &p))
		__builtin_trap();
	vd = virtio_vsock_dev(vs);
	vd->tops = &fuzz_tops;
	memset(&s, 0, sizeof(s));
	s.gm = &gm;
	s.vd = vd;
	s.qsize = (uint16_t)(2u << (data[0] % 8));
	for (unsigned steps = 0; steps < 512 && i < size; steps++) {
		uint8_t op = data[i++] % 10;

		switch (op) {
		case 0:
			if (!fuzz_op_write(&gm, data, size, &i))
				goto out;
			break;
		case 1: {
			uint64_t feat = vd->ops->features(vd) | (1ULL << VIRTIO_F_VERSION_1);

			pthread_mutex_lock(&vd->lock);
			virtio_dev_reset(vd);
			vd->features = feat;
			vd->status = 0xb;
			for (unsigned q = 0; q < 3; q++)
				if (virtq_activate(&vd->vq[q], &gm, s.qsize, vd->queue_max,
						   0x3000ULL * q, 0x3000ULL * q + 0x1000,
						   0x3000ULL * q + 0x2000, feat))
					__builtin_trap();
			if (vd->ops->activate(vd))
				__builtin_trap();
			vd->status = 0xf;
			pthread_mutex_unlock(&vd->lock);
			memset(s.avail, 0, sizeof(s.avail));
			break;
		}
		case 2: {
			struct virtio_vsock_hdr h;
			uint8_t len;
			uint16_t d = (uint16_t)(s.tx_next++ % s.qsize);
			uint64_t at = 0x10000 + 0x200ULL * d;

			if (size - i < VSOCK_HDR_LEN + 1)
				goto out;
			memcpy(&h, data + i, VSOCK_HDR_LEN);
			len = data[i + VSOCK_HDR_LEN];
			i += VSOCK_HDR_LEN + 1;
			if (size - i < len)
				goto out;
			if (data[i - VSOCK_HDR_LEN - 1] != 0xff)
				h.src_cid = CID;
			if (gmem_write(&gm, at, &h, VSOCK_HDR_LEN) ||
			    (len && gmem_write(&gm, at + VSOCK_HDR_LEN, data + i, len)))
				__builtin_trap();
			i += len;
			post(&s, 1, d, at, VSOCK_HDR_LEN + len, 0);
			notify(vd, 1);
			break;
		}
		case 3: {
			unsigned n;
			uint32_t bsz;

			if (size - i < 2)
				goto out;
			n = data[i] % 8;
			bsz = 16u * data[i + 1];
			i += 2;
			for (unsigned k = 0; k < n; k++) {
				uint16_t d = (uint16_t)(s.rx_next++ % s.qsize);

				post(&s, 0, d, 0x40000 + 0x1000ULL * d, bsz ? bsz : 1,
				     VIRTQ_DESC_F_WRITE);
			}
			notify(vd, 0);
			break;
		}
		case 4:
			if (i >= size)
				goto out;
			notify(vd, data[i++] % 3);
			break;
		case 5: {
			uint32_t port;
			int sp[2];

			if (size - i < 4)
				goto out;
			memcpy(&port, data + i, 4);
			i += 4;
			if (npeers == PEERS ||
			    socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sp))
				break;
			peers[npeers++] = sp[1];
			(void)virtio_vsock_host_connect(vs, sp[0], port);
			break;
		}
		case 6: {
			uint8_t which, len;

			if (size - i < 2)
				goto out;
			which = data[i];
			len = data[i + 1];
			i += 2;
			if (size - i < len)
				goto out;
			if (npeers && send(peers[which % npeers], data + i, len,
					   MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
				/* peer gone or full: fine */
			}
			i += len;
			break;
		}
		case 7:
			if (i >= size)
				goto out;
			virtio_vsock_tick(vs, now_ms() + (uint64_t)data[i++] * 1000u);
			break;
		case 8:
			pthread_mutex_lock(&vd->lock);
			virtio_dev_reset(vd);
			pthread_mutex_unlock(&vd->lock);
			virtio_vsock_get_stats(vs, &stt);
			if (stt.conns)
				__builtin_trap();
			break;
		case 9:
			virtio_vsock_transport_reset(vs);
			virtio_vsock_get_stats(vs, &stt);
			if (stt.conns)
				__builtin_trap();
			break;
		}
		check(vs);
	}
out:
	vd->ops->destroy(vd);
	for (unsigned k = 0; k < npeers; k++)
		close(peers[k]);
	return 0;
}
