/* test_blk.c — virtio-blk against hostile drivers (hostile-guests.md 15–17)
 * and a data round trip through the real backend, in both I/O engines. The
 * guest side is built by hand in a real guest_mem; the transport is the
 * recording fake of vq_fake.h. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backends/block_file.h"
#include "vq_fake.h"
#include "virtio/blk.h"

#define RAM (64ULL << 20)
#define IMG_SECTORS 2048ULL /* 1 MiB */
#define HDR 0x200000ULL     /* request header */
#define DATA 0x300000ULL    /* data buffers */
#define STATUS 0x2ff000ULL  /* status byte */

struct fx {
	struct guest_mem gm;
	struct fake_ring r;
	struct fake_transport t;
	struct virtio_blk *b;
	struct virtio_dev *vd;
	enum block_mode mode;
	char dir[64], path[96];
	uint8_t *orig; /* image contents at setup */
};

static void make_image(struct fx *f, uint64_t size)
{
	int fd = open(f->path, O_RDWR | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	f->orig = realloc(f->orig, size ? size : 1);
	for (uint64_t i = 0; i < size; i++)
		f->orig[i] = (uint8_t)(i * 7 + i / 512);
	assert_int_equal(pwrite(fd, f->orig, size, 0), (ssize_t)size);
	close(fd);
}

static void file_contents(struct fx *f, uint8_t *buf, size_t len)
{
	int fd = open(f->path, O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, buf, len, 0), (ssize_t)len);
	close(fd);
}

static void open_blk(struct fx *f, bool ro)
{
	struct virtio_blk_disk cfg = { .path = f->path, .read_only = ro };
	char err[256];

	assert_int_equal(virtio_blk_create(&f->b, &cfg, 1, &f->gm, NULL, f->mode, err,
					   sizeof(err)), 0);
	f->vd = virtio_blk_dev(f->b);
	ft_attach(&f->t, f->vd);
	fr_init(&f->r, &f->gm, 16, FQ_DESC, FQ_AVAIL, FQ_USED);
	assert_int_equal(ft_start(f->vd, f->vd->ops->features(f->vd) |
					 (1ULL << VIRTIO_F_VERSION_1), &f->r, 1), 0);
}

static int setup_mode(void **state, enum block_mode mode)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f || gmem_create(&f->gm, RAM))
		return -1;
	strcpy(f->dir, "/tmp/bh-blk-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/disk.img", f->dir);
	f->mode = mode;
	make_image(f, IMG_SECTORS * 512);
	*state = f;
	return 0;
}

static int setup_async(void **state)
{
	return setup_mode(state, BLOCK_MODE_AUTO);
}

static int setup_sync(void **state)
{
	return setup_mode(state, BLOCK_MODE_SYNC);
}

static int teardown(void **state)
{
	struct fx *f = *state;

	if (f->vd)
		f->vd->ops->destroy(f->vd);
	gmem_destroy(&f->gm);
	unlink(f->path);
	rmdir(f->dir);
	free(f->orig);
	free(f);
	return 0;
}

static void put_hdr(struct fx *f, uint32_t type, uint64_t sector)
{
	uint32_t h[4] = { type, 0, (uint32_t)sector, (uint32_t)(sector >> 32) };

	assert_int_equal(gmem_write(&f->gm, HDR, h, 16), 0);
}

/* Kick, wait for the backend, return how many chains came back. */
static unsigned kick(struct fx *f)
{
	uint16_t before = fr_used_idx(&f->r);

	ft_notify(f->vd, 0);
	while (virtio_blk_inflight(f->b))
		(void)virtio_blk_poll(f->b);
	return (uint16_t)(fr_used_idx(&f->r) - before);
}

/* Standard 3-descriptor request: header, data (len bytes, direction by
 * data_writable; none if len == 0), status. Returns the status byte (0xee if
 * untouched) and the used length. */
static int request(struct fx *f, uint32_t type, uint64_t sector, uint32_t len,
		   bool data_writable, uint32_t *used_len)
{
	uint8_t st = 0xee;
	uint32_t id;
	uint16_t d = 0;

	put_hdr(f, type, sector);
	assert_int_equal(gmem_write(&f->gm, STATUS, &st, 1), 0);
	fr_desc(&f->r, d, HDR, 16, VIRTQ_DESC_F_NEXT, (uint16_t)(d + 1));
	d++;
	if (len) {
		fr_desc(&f->r, d, DATA, len,
			(uint16_t)(VIRTQ_DESC_F_NEXT | (data_writable ? VIRTQ_DESC_F_WRITE : 0)),
			(uint16_t)(d + 1));
		d++;
	}
	fr_desc(&f->r, d, STATUS, 1, VIRTQ_DESC_F_WRITE, 0);
	fr_post(&f->r, 0);
	assert_int_equal(kick(f), 1);
	assert_true(fr_get_used(&f->r, &id, used_len));
	assert_int_equal(id, 0);
	assert_int_equal(gmem_read(&f->gm, &st, STATUS, 1), 0);
	return st;
}

static void test_roundtrip(void **state)
{
	struct fx *f = *state;
	uint32_t used;
	static uint8_t pat[8192], back[8192], file[8192];

	open_blk(f, false);
	assert_int_equal(virtio_blk_async(f->b), f->mode == BLOCK_MODE_AUTO);
	for (unsigned i = 0; i < sizeof(pat); i++)
		pat[i] = (uint8_t)(i ^ 0x5c);
	assert_int_equal(gmem_write(&f->gm, DATA, pat, sizeof(pat)), 0);
	assert_int_equal(request(f, VIRTIO_BLK_T_OUT, 8, 8192, false, &used), VIRTIO_BLK_S_OK);
	assert_int_equal(used, 1);
	assert_int_equal(request(f, VIRTIO_BLK_T_FLUSH, 0, 0, false, &used), VIRTIO_BLK_S_OK);
	assert_int_equal(gmem_write(&f->gm, DATA, (uint8_t[8192]){ 0 }, 8192), 0);
	assert_int_equal(request(f, VIRTIO_BLK_T_IN, 8, 8192, true, &used), VIRTIO_BLK_S_OK);
	assert_int_equal(used, 8193);
	assert_int_equal(gmem_read(&f->gm, back, DATA, sizeof(back)), 0);
	assert_memory_equal(back, pat, sizeof(pat));
	/* The bytes really are in the file, at sector 8. */
	{
		int fd = open(f->path, O_RDONLY);

		assert_int_equal(pread(fd, file, sizeof(file), 8 * 512), (ssize_t)sizeof(file));
		close(fd);
	}
	assert_memory_equal(file, pat, sizeof(pat));
	/* Untouched sectors kept their contents: read sector 0. */
	assert_int_equal(request(f, VIRTIO_BLK_T_IN, 0, 512, true, &used), VIRTIO_BLK_S_OK);
	assert_int_equal(gmem_read(&f->gm, back, DATA, 512), 0);
	assert_memory_equal(back, f->orig, 512);
	/* Last sector of the disk is readable. */
	assert_int_equal(request(f, VIRTIO_BLK_T_IN, IMG_SECTORS - 1, 512, true, &used),
			 VIRTIO_BLK_S_OK);
	assert_true(f->t.queue_irqs[0] > 0);
	assert_int_equal(f->t.config_irqs, 0);
}

/* The device model's quiesce (pause, quarantine, snapshot): I/O already
 * handed to the backend completes and is published before quiesce returns;
 * a kick while quiesced is held (nothing read from the ring, nothing written
 * to the file); resume runs it. */
static void test_quiesce_holds_and_completes(void **state)
{
	struct fx *f = *state;
	static uint8_t pat[4096], file[4096];
	uint32_t id, used;
	uint16_t before;
	int fd;

	open_blk(f, false);
	for (unsigned i = 0; i < sizeof(pat); i++)
		pat[i] = (uint8_t)(i ^ 0xa7);
	assert_int_equal(gmem_write(&f->gm, DATA, pat, sizeof(pat)), 0);
	/* Request 1 (sector 16), submitted but not reaped. */
	put_hdr(f, VIRTIO_BLK_T_OUT, 16);
	fr_desc(&f->r, 0, HDR, 16, VIRTQ_DESC_F_NEXT, 1);
	fr_desc(&f->r, 1, DATA, sizeof(pat), VIRTQ_DESC_F_NEXT, 2);
	fr_desc(&f->r, 2, STATUS, 1, VIRTQ_DESC_F_WRITE, 0);
	fr_post(&f->r, 0);
	before = fr_used_idx(&f->r);
	ft_notify(f->vd, 0);
	/* Quiesce: it is finished and completed into the used ring now. */
	virtio_dev_quiesce(f->vd);
	assert_int_equal(virtio_blk_inflight(f->b), 0);
	assert_int_equal((uint16_t)(fr_used_idx(&f->r) - before), 1);
	assert_true(fr_get_used(&f->r, &id, &used));
	fd = open(f->path, O_RDONLY);
	assert_int_equal(pread(fd, file, sizeof(file), 16 * 512), (ssize_t)sizeof(file));
	assert_memory_equal(file, pat, sizeof(pat));

	/* Request 2 (sector 40) while quiesced: held. */
	put_hdr(f, VIRTIO_BLK_T_OUT, 40);
	fr_desc(&f->r, 3, HDR, 16, VIRTQ_DESC_F_NEXT, 4);
	fr_desc(&f->r, 4, DATA, sizeof(pat), VIRTQ_DESC_F_NEXT, 5);
	fr_desc(&f->r, 5, STATUS, 1, VIRTQ_DESC_F_WRITE, 0);
	fr_post(&f->r, 3);
	before = fr_used_idx(&f->r);
	ft_notify(f->vd, 0);
	(void)virtio_blk_poll(f->b);
	assert_int_equal(virtio_blk_inflight(f->b), 0);
	assert_int_equal(fr_used_idx(&f->r), before);
	assert_int_equal(pread(fd, file, sizeof(file), 40 * 512), (ssize_t)sizeof(file));
	assert_memory_equal(file, f->orig + 40 * 512, sizeof(file));
	/* Quiesce is idempotent. */
	virtio_dev_quiesce(f->vd);
	assert_int_equal(fr_used_idx(&f->r), before);

	/* Resume: the held kick runs. */
	virtio_dev_resume(f->vd);
	while (virtio_blk_inflight(f->b))
		(void)virtio_blk_poll(f->b);
	assert_int_equal((uint16_t)(fr_used_idx(&f->r) - before), 1);
	assert_int_equal(pread(fd, file, sizeof(file), 40 * 512), (ssize_t)sizeof(file));
	assert_memory_equal(file, pat, sizeof(pat));
	close(fd);
	assert_int_equal(f->t.config_irqs, 0);
}

static void put_dwz(struct fx *f, uint64_t sector, uint32_t n, uint32_t flags)
{
	uint32_t s[4] = { (uint32_t)sector, (uint32_t)(sector >> 32), n, flags };

	assert_int_equal(gmem_write(&f->gm, DATA, s, 16), 0);
}

static void test_discard_write_zeroes(void **state)
{
	struct fx *f = *state;
	uint32_t used;
	static uint8_t buf[IMG_SECTORS * 512];

	open_blk(f, false);
	put_dwz(f, 16, 8, 0);
	assert_int_equal(request(f, VIRTIO_BLK_T_WRITE_ZEROES, 0, 16, false, &used),
			 VIRTIO_BLK_S_OK);
	put_dwz(f, 32, 8, VIRTIO_BLK_WZ_F_UNMAP);
	assert_int_equal(request(f, VIRTIO_BLK_T_WRITE_ZEROES, 0, 16, false, &used),
			 VIRTIO_BLK_S_OK);
	put_dwz(f, 64, 8, 0);
	assert_int_equal(request(f, VIRTIO_BLK_T_DISCARD, 0, 16, false, &used), VIRTIO_BLK_S_OK);
	file_contents(f, buf, sizeof(buf));
	for (unsigned i = 16 * 512; i < 24 * 512; i++)
		assert_int_equal(buf[i], 0);
	for (unsigned i = 32 * 512; i < 40 * 512; i++)
		assert_int_equal(buf[i], 0);
	assert_memory_equal(buf, f->orig, 16 * 512);
	assert_memory_equal(buf + 24 * 512, f->orig + 24 * 512, 8 * 512);
	/* hostile: reserved flags, past the end, over the max, two segments */
	put_dwz(f, 16, 8, 2);
	assert_int_equal(request(f, VIRTIO_BLK_T_DISCARD, 0, 16, false, &used),
			 VIRTIO_BLK_S_UNSUPP);
	put_dwz(f, IMG_SECTORS - 4, 8, 0);
	assert_int_equal(request(f, VIRTIO_BLK_T_WRITE_ZEROES, 0, 16, false, &used),
			 VIRTIO_BLK_S_IOERR);
	put_dwz(f, UINT64_MAX - 2, 8, 0);
	assert_int_equal(request(f, VIRTIO_BLK_T_DISCARD, 0, 16, false, &used),
			 VIRTIO_BLK_S_IOERR);
	put_dwz(f, 0, VIRTIO_BLK_MAX_DISCARD_SECTORS + 1, 0);
	assert_int_equal(request(f, VIRTIO_BLK_T_DISCARD, 0, 16, false, &used),
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(request(f, VIRTIO_BLK_T_DISCARD, 0, 32, false, &used),
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(request(f, VIRTIO_BLK_T_DISCARD, 0, 16, true, &used),
			 VIRTIO_BLK_S_IOERR); /* payload in writable memory */
}

/* Case 15: out-of-range and misaligned requests; the disk is untouched. */
static void test_bad_ranges(void **state)
{
	struct fx *f = *state;
	uint32_t used;
	static uint8_t buf[IMG_SECTORS * 512];

	open_blk(f, false);
	assert_int_equal(request(f, VIRTIO_BLK_T_OUT, IMG_SECTORS, 512, false, &used),
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(request(f, VIRTIO_BLK_T_OUT, IMG_SECTORS - 1, 1024, false, &used),
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(request(f, VIRTIO_BLK_T_IN, IMG_SECTORS - 1, 1024, true, &used),
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(used, 1);
	/* sector near 2^64: sector * 512 and sector + n both overflow */
	assert_int_equal(request(f, VIRTIO_BLK_T_OUT, UINT64_MAX, 512, false, &used),
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(request(f, VIRTIO_BLK_T_OUT, (UINT64_MAX / 512) + 1, 512, false, &used),
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(request(f, VIRTIO_BLK_T_IN, UINT64_MAX - 1, 512, true, &used),
			 VIRTIO_BLK_S_IOERR);
	/* not a multiple of 512 */
	assert_int_equal(request(f, VIRTIO_BLK_T_OUT, 0, 511, false, &used), VIRTIO_BLK_S_IOERR);
	assert_int_equal(request(f, VIRTIO_BLK_T_IN, 0, 513, true, &used), VIRTIO_BLK_S_IOERR);
	file_contents(f, buf, sizeof(buf));
	assert_memory_equal(buf, f->orig, sizeof(buf));
	assert_int_equal(f->t.config_irqs, 0);
	assert_false(f->vd->failed);
}

/* Case 16: framing and direction. */
static void test_bad_framing(void **state)
{
	struct fx *f = *state;
	uint32_t used, id;
	uint8_t st, serial[24] = { 0 };

	open_blk(f, false);
	/* data in the wrong direction */
	assert_int_equal(request(f, VIRTIO_BLK_T_IN, 0, 512, false, &used), VIRTIO_BLK_S_IOERR);
	assert_int_equal(request(f, VIRTIO_BLK_T_OUT, 0, 512, true, &used), VIRTIO_BLK_S_IOERR);
	/* GET_ID: 19 bytes is too short, 20 is right */
	assert_int_equal(request(f, VIRTIO_BLK_T_GET_ID, 0, 19, true, &used), VIRTIO_BLK_S_IOERR);
	assert_int_equal(request(f, VIRTIO_BLK_T_GET_ID, 0, 20, true, &used), VIRTIO_BLK_S_OK);
	assert_int_equal(used, 21);
	assert_int_equal(gmem_read(&f->gm, serial, DATA, 20), 0);
	assert_string_equal((char *)serial, "bulkhead-vdb");
	assert_int_equal(request(f, VIRTIO_BLK_T_GET_ID, 0, 20, false, &used), VIRTIO_BLK_S_IOERR);

	/* header in a device-writable descriptor: used length 0, no status */
	st = 0xee;
	assert_int_equal(gmem_write(&f->gm, STATUS, &st, 1), 0);
	fr_desc(&f->r, 0, HDR, 16, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
	fr_desc(&f->r, 1, STATUS, 1, VIRTQ_DESC_F_WRITE, 0);
	fr_post(&f->r, 0);
	assert_int_equal(kick(f), 1);
	assert_true(fr_get_used(&f->r, &id, &used));
	assert_int_equal(used, 0);
	assert_int_equal(gmem_read(&f->gm, &st, STATUS, 1), 0);
	assert_int_equal(st, 0xee);
	/* header shorter than 16 bytes */
	fr_desc(&f->r, 0, HDR, 12, VIRTQ_DESC_F_NEXT, 1);
	fr_post(&f->r, 0);
	assert_int_equal(kick(f), 1);
	assert_true(fr_get_used(&f->r, &id, &used));
	assert_int_equal(used, 0);
	/* read-only status descriptor (no writable byte at all) */
	put_hdr(f, VIRTIO_BLK_T_IN, 0);
	fr_desc(&f->r, 0, HDR, 16, VIRTQ_DESC_F_NEXT, 1);
	fr_desc(&f->r, 1, STATUS, 1, 0, 0);
	fr_post(&f->r, 0);
	assert_int_equal(kick(f), 1);
	assert_true(fr_get_used(&f->r, &id, &used));
	assert_int_equal(used, 0);
	/* chain too short: header only */
	fr_desc(&f->r, 0, HDR, 16, 0, 0);
	fr_post(&f->r, 0);
	assert_int_equal(kick(f), 1);
	assert_true(fr_get_used(&f->r, &id, &used));
	assert_int_equal(used, 0);
	assert_int_equal(gmem_read(&f->gm, &st, STATUS, 1), 0);
	assert_int_equal(st, 0xee);
	/* unknown type */
	assert_int_equal(request(f, 0x7777, 0, 0, false, &used), VIRTIO_BLK_S_UNSUPP);
	assert_false(f->vd->failed);
	/* zero-length status descriptor: a ring violation, the device fails */
	fr_desc(&f->r, 0, HDR, 16, VIRTQ_DESC_F_NEXT, 1);
	fr_desc(&f->r, 1, STATUS, 0, VIRTQ_DESC_F_WRITE, 0);
	fr_post(&f->r, 0);
	assert_int_equal(kick(f), 0);
	assert_true(f->vd->failed);
	assert_true(f->vd->status & VIRTIO_STATUS_NEEDS_RESET);
	assert_int_equal(f->t.config_irqs, 1);
	/* inert until reset; then usable again */
	fr_post(&f->r, 0);
	assert_int_equal(kick(f), 0);
	ft_reset(f->vd);
	assert_false(f->vd->failed);
	assert_int_equal(f->vd->status, 0);
	fr_init(&f->r, &f->gm, 16, FQ_DESC, FQ_AVAIL, FQ_USED);
	assert_int_equal(ft_start(f->vd, f->vd->ops->features(f->vd), &f->r, 1), 0);
	assert_int_equal(request(f, VIRTIO_BLK_T_IN, 0, 512, true, &used), VIRTIO_BLK_S_OK);
}

/* Case 17: a read-only disk refuses every modification; file byte-identical. */
static void test_read_only(void **state)
{
	struct fx *f = *state;
	uint32_t used;
	uint64_t cap;
	static uint8_t buf[IMG_SECTORS * 512];

	open_blk(f, true);
	assert_true(f->vd->ops->features(f->vd) & (1ULL << VIRTIO_BLK_F_RO));
	assert_false(f->vd->ops->features(f->vd) & (1ULL << VIRTIO_BLK_F_DISCARD));
	f->vd->ops->cfg_read(f->vd, 0, &cap, 8);
	assert_int_equal(cap, IMG_SECTORS);
	memset(buf, 0xab, 4096);
	assert_int_equal(gmem_write(&f->gm, DATA, buf, 4096), 0);
	assert_int_equal(request(f, VIRTIO_BLK_T_OUT, 0, 4096, false, &used),
			 VIRTIO_BLK_S_UNSUPP);
	put_dwz(f, 0, 8, 0);
	assert_int_equal(request(f, VIRTIO_BLK_T_DISCARD, 0, 16, false, &used),
			 VIRTIO_BLK_S_UNSUPP);
	assert_int_equal(request(f, VIRTIO_BLK_T_WRITE_ZEROES, 0, 16, false, &used),
			 VIRTIO_BLK_S_UNSUPP);
	assert_int_equal(request(f, VIRTIO_BLK_T_FLUSH, 0, 0, false, &used), VIRTIO_BLK_S_OK);
	assert_int_equal(request(f, VIRTIO_BLK_T_IN, 2, 1024, true, &used), VIRTIO_BLK_S_OK);
	assert_int_equal(gmem_read(&f->gm, buf, DATA, 1024), 0);
	assert_memory_equal(buf, f->orig + 1024, 1024);
	file_contents(f, buf, sizeof(buf));
	assert_memory_equal(buf, f->orig, sizeof(buf));
}

/* Case 11 for blk: all 16 heads in flight at once (io_uring keeps them in
 * flight until reaped); reset while they are in flight waits for them and
 * drops their completions, so the ring is not touched afterwards. */
static void test_inflight_and_reset(void **state)
{
	struct fx *f = *state;
	uint32_t id, used;

	open_blk(f, false);
	fr_init(&f->r, &f->gm, 32, FQ_DESC, FQ_AVAIL, FQ_USED); /* size 32: heads 0-15 */
	ft_reset(f->vd);
	for (unsigned i = 0; i < 16; i++) {
		uint64_t h = HDR + 64ULL * i;
		uint32_t hd[4] = { VIRTIO_BLK_T_IN, 0, i, 0 };

		assert_int_equal(gmem_write(&f->gm, h, hd, 16), 0);
		fr_desc(&f->r, i, h, 16, VIRTQ_DESC_F_NEXT, (uint16_t)(i + 16));
		fr_desc(&f->r, i + 16, DATA + 4096ULL * i, 4097,
			VIRTQ_DESC_F_WRITE, 0); /* 4096 data + status */
	}
	assert_int_equal(ft_start(f->vd, f->vd->ops->features(f->vd), &f->r, 1), 0);
	for (unsigned i = 0; i < 16; i++)
		fr_post(&f->r, (uint16_t)i);
	ft_notify(f->vd, 0);
	/* Nothing reaped yet: every head is in flight, none can be added. */
	assert_int_equal(virtio_blk_inflight(f->b), 16);
	assert_int_equal(f->vd->vq[0].inflight, 16);
	pthread_mutex_lock(&f->vd->lock);
	virtio_dev_reset(f->vd);
	pthread_mutex_unlock(&f->vd->lock);
	assert_int_equal(virtio_blk_inflight(f->b), 0);
	assert_int_equal(virtio_blk_poll(f->b), 0);
	assert_int_equal(fr_used_idx(&f->r), 0); /* nothing completed into the ring */
	/* After a fresh start the same requests complete normally. */
	fr_init(&f->r, &f->gm, 32, FQ_DESC, FQ_AVAIL, FQ_USED);
	for (unsigned i = 0; i < 16; i++) {
		fr_desc(&f->r, i, HDR + 64ULL * i, 16, VIRTQ_DESC_F_NEXT, (uint16_t)(i + 16));
		fr_desc(&f->r, i + 16, DATA + 4096ULL * i, 4097, VIRTQ_DESC_F_WRITE, 0);
	}
	assert_int_equal(ft_start(f->vd, f->vd->ops->features(f->vd), &f->r, 1), 0);
	for (unsigned i = 0; i < 16; i++)
		fr_post(&f->r, (uint16_t)i);
	assert_int_equal(kick(f), 16);
	for (unsigned i = 0; i < 16; i++) {
		assert_true(fr_get_used(&f->r, &id, &used));
		assert_int_equal(used, 4097);
	}
}

static void test_create_errors(void **state)
{
	struct fx *f = *state;
	struct virtio_blk_disk cfg = { .path = "/nonexistent/x.img" };
	struct virtio_blk *b;
	char err[256];

	assert_int_equal(virtio_blk_create(&b, &cfg, 0, &f->gm, NULL, f->mode, err, sizeof(err)),
			 -ENOENT);
	assert_non_null(strstr(err, "/nonexistent/x.img"));
	cfg.path = f->dir;
	assert_int_equal(virtio_blk_create(&b, &cfg, 0, &f->gm, NULL, f->mode, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "not a regular file"));
	cfg.path = f->path;
	make_image(f, 1000);
	assert_int_equal(virtio_blk_create(&b, &cfg, 0, &f->gm, NULL, f->mode, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "multiple of 512"));
	assert_non_null(strstr(err, f->path));
	make_image(f, 0);
	assert_int_equal(virtio_blk_create(&b, &cfg, 0, &f->gm, NULL, f->mode, err, sizeof(err)),
			 -EINVAL);
	/* A configured serial is reported verbatim (20 bytes, no NUL). */
	make_image(f, 4096);
	strcpy(cfg.id, "0123456789abcdefghij");
	assert_int_equal(virtio_blk_create(&f->b, &cfg, 0, &f->gm, NULL, f->mode, err,
					   sizeof(err)), 0);
	f->vd = virtio_blk_dev(f->b);
	ft_attach(&f->t, f->vd);
	fr_init(&f->r, &f->gm, 16, FQ_DESC, FQ_AVAIL, FQ_USED);
	assert_int_equal(ft_start(f->vd, f->vd->ops->features(f->vd), &f->r, 1), 0);
	uint32_t used;
	uint8_t id[20];
	assert_int_equal(request(f, VIRTIO_BLK_T_GET_ID, 0, 64, true, &used), VIRTIO_BLK_S_OK);
	assert_int_equal(gmem_read(&f->gm, id, DATA, 20), 0);
	assert_memory_equal(id, "0123456789abcdefghij", 20);
}

/* Kicks before DRIVER_OK are not acted on; what was posted is served at
 * activation. */
static void test_before_driver_ok(void **state)
{
	struct fx *f = *state;
	struct virtio_blk_disk cfg = { .path = f->path };
	char err[256];
	uint8_t st = 0xee;

	assert_int_equal(virtio_blk_create(&f->b, &cfg, 0, &f->gm, NULL, f->mode, err,
					   sizeof(err)), 0);
	f->vd = virtio_blk_dev(f->b);
	ft_attach(&f->t, f->vd);
	fr_init(&f->r, &f->gm, 16, FQ_DESC, FQ_AVAIL, FQ_USED);
	put_hdr(f, VIRTIO_BLK_T_FLUSH, 0);
	assert_int_equal(gmem_write(&f->gm, STATUS, &st, 1), 0);
	fr_desc(&f->r, 0, HDR, 16, VIRTQ_DESC_F_NEXT, 1);
	fr_desc(&f->r, 1, STATUS, 1, VIRTQ_DESC_F_WRITE, 0);
	fr_post(&f->r, 0);
	pthread_mutex_lock(&f->vd->lock);
	assert_int_equal(fr_activate(&f->r, &f->vd->vq[0], 0), 0); /* queue_enable */
	f->vd->ops->notify(f->vd, 0);
	pthread_mutex_unlock(&f->vd->lock);
	while (virtio_blk_inflight(f->b))
		(void)virtio_blk_poll(f->b);
	assert_int_equal(fr_used_idx(&f->r), 0);
	pthread_mutex_lock(&f->vd->lock);
	assert_int_equal(f->vd->ops->activate(f->vd), 0); /* DRIVER_OK */
	pthread_mutex_unlock(&f->vd->lock);
	while (virtio_blk_inflight(f->b))
		(void)virtio_blk_poll(f->b);
	assert_int_equal(fr_used_idx(&f->r), 1);
	assert_int_equal(gmem_read(&f->gm, &st, STATUS, 1), 0);
	assert_int_equal(st, VIRTIO_BLK_S_OK);
}

/* The production path: completions reach the device through the backend's
 * eventfd on a real event loop thread (and the device's deferred work). */
static void test_event_loop(void **state)
{
	struct fx *f = *state;
	struct virtio_blk_disk cfg = { .path = f->path };
	struct floop l;
	char err[256];
	uint8_t st = 0xee;
	uint32_t id, used;

	floop_init(&l);
	assert_int_equal(virtio_blk_create(&f->b, &cfg, 0, &f->gm, &l.el, f->mode, err,
					   sizeof(err)), 0);
	f->vd = virtio_blk_dev(f->b);
	ft_attach(&f->t, f->vd);
	fr_init(&f->r, &f->gm, 16, FQ_DESC, FQ_AVAIL, FQ_USED);
	assert_int_equal(ft_start(f->vd, f->vd->ops->features(f->vd), &f->r, 1), 0);
	floop_start(&l);
	put_hdr(f, VIRTIO_BLK_T_IN, 3);
	assert_int_equal(gmem_write(&f->gm, STATUS, &st, 1), 0);
	fr_desc(&f->r, 0, HDR, 16, VIRTQ_DESC_F_NEXT, 1);
	fr_desc(&f->r, 1, DATA, 1024, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 2);
	fr_desc(&f->r, 2, STATUS, 1, VIRTQ_DESC_F_WRITE, 0);
	fr_post(&f->r, 0);
	ft_notify(f->vd, 0); /* as the transport's ioeventfd handler would */
	while (!fr_get_used(&f->r, &id, &used))
		sched_yield(); /* the event thread completes it */
	floop_stop(&l);
	assert_int_equal(used, 1025);
	assert_int_equal(gmem_read(&f->gm, &st, STATUS, 1), 0);
	assert_int_equal(st, VIRTIO_BLK_S_OK);
	{
		uint8_t got[1024];

		assert_int_equal(gmem_read(&f->gm, got, DATA, sizeof(got)), 0);
		assert_memory_equal(got, f->orig + 3 * 512, sizeof(got));
	}
	f->vd->ops->destroy(f->vd);
	f->vd = NULL;
	floop_destroy(&l);
}

#define BOTH(fn)                                                        \
	cmocka_unit_test_setup_teardown(fn, setup_async, teardown),     \
	cmocka_unit_test_setup_teardown(fn, setup_sync, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		BOTH(test_roundtrip),
		BOTH(test_discard_write_zeroes),
		BOTH(test_bad_ranges),
		BOTH(test_bad_framing),
		BOTH(test_read_only),
		BOTH(test_inflight_and_reset),
		BOTH(test_create_errors),
		BOTH(test_event_loop),
		BOTH(test_before_driver_ok),
		BOTH(test_quiesce_holds_and_completes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
