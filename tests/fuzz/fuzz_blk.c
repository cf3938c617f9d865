/* fuzz_blk.c — libFuzzer target for virtio-blk (blk.h) over the synchronous
 * block backend, with a hostile driver script.
 *
 * Two disks (64 KiB memfd images reached through /proc/self/fd): disk 0
 * read-write, disk 1 read-only. The input is:
 *   header (2 bytes): disk (bit 0), queue size log2 (% 5: 1..16)
 *   ops, one opcode byte (% 6) each:
 *     0 write: le16 gpa, u8 len, len bytes  (driver writes RAM: rings at
 *       desc 0x0, avail 0x1000, used 0x2000; headers/buffers anywhere)
 *     1 start: u8 feature mask (EVENT_IDX, INDIRECT_DESC) — reset, enable
 *       queue 0, activate
 *     2 notify queue 0
 *     3 poll completions
 *     4 reset (transport reset path)
 *     5 cfg_read: u8 off, u8 len
 * Invariants (trap): after a poll nothing is in flight (synchronous
 * engine); after a reset nothing is in flight; the read-only image never
 * changes; the image size never changes. Seeds: make_virtio_seeds.c. */
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "virtio/blk.h"

#include "fuzz_virtio.h"

#define RAM (1ULL << 20)
#define IMG (64 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct disk {
	int fd;
	struct virtio_blk *b;
	struct virtio_dev *vd;
};

static int make_disk(struct disk *d, struct guest_mem *gm, bool ro, unsigned idx)
{
	static uint8_t img[IMG];
	struct virtio_blk_disk cfg = { .read_only = ro };
	char path[64], err[256];

	for (unsigned i = 0; i < IMG; i++)
		img[i] = (uint8_t)(i * 13 + idx);
	d->fd = memfd_create("fuzz-disk", MFD_CLOEXEC);
	if (d->fd < 0 || pwrite(d->fd, img, IMG, 0) != IMG)
		return -1;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", d->fd);
	cfg.path = path;
	if (virtio_blk_create(&d->b, &cfg, idx, gm, NULL, BLOCK_MODE_SYNC, err, sizeof(err)))
		return -1;
	d->vd = virtio_blk_dev(d->b);
	d->vd->tops = &fuzz_tops;
	return 0;
}

static bool image_is(int fd, const uint8_t *want)
{
	static uint8_t cur[IMG];
	struct stat st;

	if (fstat(fd, &st) || st.st_size != IMG || pread(fd, cur, IMG, 0) != IMG)
		return false;
	return !want || memcmp(cur, want, IMG) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct guest_mem gm;
	static struct disk disks[2];
	static uint8_t ro_img[IMG];
	static int ready;
	struct disk *d;
	struct virtio_dev *vd;
	uint16_t qsize;
	size_t i = 2;

	if (!ready) {
		bh_log_set_level(BH_LOG_ERROR);
		if (gmem_create(&gm, RAM) || make_disk(&disks[0], &gm, false, 0) ||
		    make_disk(&disks[1], &gm, true, 1) ||
		    pread(disks[1].fd, ro_img, IMG, 0) != IMG)
			return 0;
		ready = 1;
	}
	if (size < 2)
		return 0;
	d = &disks[data[0] & 1];
	vd = d->vd;
	qsize = (uint16_t)(1u << (data[1] % 5));
	fuzz_clear_low_ram(&gm);
	for (unsigned steps = 0; steps < 1024 && i < size; steps++) {
		uint8_t op = data[i++] % 6;

		switch (op) {
		case 0:
			if (!fuzz_op_write(&gm, data, size, &i))
				goto out;
			break;
		case 1: {
			uint64_t feat = vd->ops->features(vd) | (1ULL << VIRTIO_F_VERSION_1);
			uint8_t m = i < size ? data[i++] : 0;

			if (!(m & 1))
				feat &= ~(1ULL << VIRTIO_RING_F_EVENT_IDX);
			if (!(m & 2))
				feat &= ~(1ULL << VIRTIO_RING_F_INDIRECT_DESC);
			pthread_mutex_lock(&vd->lock);
			virtio_dev_reset(vd);
			vd->features = feat;
			if (virtq_activate(&vd->vq[0], &gm, qsize, vd->queue_max, 0x0, 0x1000, 0x2000,
					   feat) ||
			    vd->ops->activate(vd))
				__builtin_trap();
			vd->status = 0xf;
			pthread_mutex_unlock(&vd->lock);
			break;
		}
		case 2:
			pthread_mutex_lock(&vd->lock);
			if (!vd->failed && vd->vq[0].active)
				vd->ops->notify(vd, 0);
			pthread_mutex_unlock(&vd->lock);
			break;
		case 3:
			(void)virtio_blk_poll(d->b);
			if (virtio_blk_inflight(d->b))
				__builtin_trap();
			break;
		case 4:
			pthread_mutex_lock(&vd->lock);
			virtio_dev_reset(vd);
			pthread_mutex_unlock(&vd->lock);
			if (virtio_blk_inflight(d->b))
				__builtin_trap();
			break;
		case 5: {
			uint8_t v[8];
			uint32_t off, len;

			if (size - i < 2)
				goto out;
			off = data[i] % VIRTIO_BLK_CFG_LEN;
			len = 1u << (data[i + 1] % 4);
			i += 2;
			if (off + len <= vd->cfg_len)
				vd->ops->cfg_read(vd, off, v, len);
			break;
		}
		}
	}
out:
	pthread_mutex_lock(&vd->lock);
	virtio_dev_reset(vd);
	pthread_mutex_unlock(&vd->lock);
	if (virtio_blk_inflight(d->b) || !image_is(disks[0].fd, NULL) ||
	    !image_is(disks[1].fd, ro_img))
		__builtin_trap();
	return 0;
}
