/* make_virtio_seeds.c — writes the seed corpora of fuzz_virtq and fuzz_blk
 * (tests/fuzz/corpus/virtq, tests/fuzz/corpus/blk): small scripts in the
 * formats documented at the top of those targets. Usage:
 *   make_virtio_seeds CORPUS_DIR   (writes into CORPUS_DIR/virtq and CORPUS_DIR/blk) */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "virtio/blk.h"
#include "virtio/queue.h"

struct seed {
	uint8_t b[4096];
	size_t n;
};

static void put(struct seed *s, const void *p, size_t n)
{
	if (s->n + n <= sizeof(s->b)) {
		memcpy(s->b + s->n, p, n);
		s->n += n;
	}
}

static void u8(struct seed *s, uint8_t v)
{
	put(s, &v, 1);
}

/* op 0 (both targets): write len bytes at gpa */
static void wr(struct seed *s, uint16_t gpa, const void *p, uint8_t len)
{
	u8(s, 0);
	put(s, &gpa, 2);
	u8(s, len);
	put(s, p, len);
}

static void desc(struct seed *s, uint64_t table, unsigned i, uint64_t addr, uint32_t len,
		 uint16_t flags, uint16_t next)
{
	uint8_t d[16];

	memcpy(d, &addr, 8);
	memcpy(d + 8, &len, 4);
	memcpy(d + 12, &flags, 2);
	memcpy(d + 14, &next, 2);
	wr(s, (uint16_t)(table + 16 * i), d, 16);
}

/* Rings at desc 0x0, avail 0x1000, used 0x2000: offer heads. */
static void offer(struct seed *s, const uint16_t *heads, uint16_t n, uint16_t qsize)
{
	for (uint16_t i = 0; i < n; i++)
		wr(s, (uint16_t)(0x1000 + 4 + 2 * (i % qsize)), &heads[i], 2);
	wr(s, 0x1000 + 2, &n, 2);
}

static int save(const char *dir, const char *name, const struct seed *s)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(s->b, 1, s->n, f) != s->n || fclose(f)) {
		perror(path);
		return -1;
	}
	return 0;
}

static void virtq_hdr(struct seed *s, uint8_t log2, uint8_t flags)
{
	uint32_t a[3] = { 0x0, 0x1000, 0x2000 };

	memset(s, 0, sizeof(*s));
	u8(s, log2);
	u8(s, flags);
	u8(s, 0);
	u8(s, 0);
	put(s, a, sizeof(a));
}

static void virtq_tail(struct seed *s)
{
	u8(s, 1);                 /* activate */
	u8(s, 2), u8(s, 8);       /* pop */
	u8(s, 6), u8(s, 4), u8(s, 32); /* copies */
	u8(s, 3), u8(s, 0), put(s, &(uint32_t){ 1 }, 4); /* push */
	u8(s, 4);                 /* should_notify */
	u8(s, 3), u8(s, 0xff), put(s, &(uint32_t){ 3 }, 4); /* bogus push */
}

static int virtq_seeds(const char *dir)
{
	struct seed s;
	uint16_t h[4] = { 0, 1, 2, 3 };
	int r = 0;

	virtq_hdr(&s, 4, 0); /* plain 2-descriptor chain */
	desc(&s, 0, 0, 0x4000, 16, VIRTQ_DESC_F_NEXT, 1);
	desc(&s, 0, 1, 0x5000, 512, VIRTQ_DESC_F_WRITE, 0);
	offer(&s, h, 1, 16);
	virtq_tail(&s);
	r |= save(dir, "chain", &s);

	virtq_hdr(&s, 4, 3); /* event idx + indirect table of 3 */
	desc(&s, 0x6000, 0, 0x4000, 16, VIRTQ_DESC_F_NEXT, 1);
	desc(&s, 0x6000, 1, 0x5000, 512, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 2);
	desc(&s, 0x6000, 2, 0x5200, 1, VIRTQ_DESC_F_WRITE, 0);
	desc(&s, 0, 0, 0x6000, 48, VIRTQ_DESC_F_INDIRECT, 0);
	offer(&s, h, 1, 16);
	virtq_tail(&s);
	r |= save(dir, "indirect", &s);

	virtq_hdr(&s, 2, 0); /* loop A -> B -> A */
	desc(&s, 0, 0, 0x4000, 16, VIRTQ_DESC_F_NEXT, 1);
	desc(&s, 0, 1, 0x4000, 16, VIRTQ_DESC_F_NEXT, 0);
	offer(&s, h, 1, 4);
	virtq_tail(&s);
	r |= save(dir, "loop", &s);

	virtq_hdr(&s, 2, 1); /* four heads, partly completed, re-offered */
	for (unsigned i = 0; i < 4; i++)
		desc(&s, 0, i, 0x4000 + 0x100 * i, 64, i & 1 ? VIRTQ_DESC_F_WRITE : 0, 0);
	offer(&s, h, 4, 4);
	virtq_tail(&s);
	offer(&s, h, 4, 4);
	u8(&s, 2), u8(&s, 8);
	r |= save(dir, "four", &s);
	return r;
}

static void blk_req(struct seed *s, uint32_t type, uint64_t sector, uint32_t len, bool wr_data,
		    const void *payload, uint8_t plen)
{
	uint32_t h[4] = { type, 0, (uint32_t)sector, (uint32_t)(sector >> 32) };
	uint16_t head = 0;
	unsigned d = 0;

	wr(s, 0x4000, h, 16);
	if (payload)
		wr(s, 0x5000, payload, plen);
	desc(s, 0, d, 0x4000, 16, VIRTQ_DESC_F_NEXT, (uint16_t)(d + 1));
	d++;
	if (len) {
		desc(s, 0, d, 0x5000, len,
		     (uint16_t)(VIRTQ_DESC_F_NEXT | (wr_data ? VIRTQ_DESC_F_WRITE : 0)),
		     (uint16_t)(d + 1));
		d++;
	}
	desc(s, 0, d, 0x8000, 1, VIRTQ_DESC_F_WRITE, 0);
	offer(s, &head, 1, 16);
}

static void blk_seed(struct seed *s, uint8_t disk)
{
	memset(s, 0, sizeof(*s));
	u8(s, disk);
	u8(s, 4);       /* queue size 16 */
}

static void blk_go(struct seed *s)
{
	u8(s, 1), u8(s, 3); /* start with EVENT_IDX + INDIRECT */
	u8(s, 2);           /* notify */
	u8(s, 3);           /* poll */
	u8(s, 5), u8(s, 0), u8(s, 3); /* cfg_read capacity */
}

static int blk_seeds(const char *dir)
{
	struct seed s;
	uint32_t dwz[4] = { 8, 0, 8, 0 };
	int r = 0;

	blk_seed(&s, 0);
	blk_req(&s, VIRTIO_BLK_T_IN, 1, 512, true, NULL, 0);
	blk_go(&s);
	r |= save(dir, "read", &s);

	blk_seed(&s, 0);
	blk_req(&s, VIRTIO_BLK_T_OUT, 2, 512, false, "written by the fuzzer", 21);
	blk_go(&s);
	r |= save(dir, "write", &s);

	blk_seed(&s, 1);
	blk_req(&s, VIRTIO_BLK_T_OUT, 0, 512, false, "ro", 2);
	blk_go(&s);
	r |= save(dir, "write-ro", &s);

	blk_seed(&s, 0);
	blk_req(&s, VIRTIO_BLK_T_FLUSH, 0, 0, false, NULL, 0);
	blk_go(&s);
	r |= save(dir, "flush", &s);

	blk_seed(&s, 0);
	blk_req(&s, VIRTIO_BLK_T_GET_ID, 0, 20, true, NULL, 0);
	blk_go(&s);
	r |= save(dir, "get-id", &s);

	blk_seed(&s, 0);
	blk_req(&s, VIRTIO_BLK_T_DISCARD, 0, 16, false, dwz, 16);
	blk_go(&s);
	r |= save(dir, "discard", &s);

	blk_seed(&s, 0);
	dwz[3] = VIRTIO_BLK_WZ_F_UNMAP;
	blk_req(&s, VIRTIO_BLK_T_WRITE_ZEROES, 0, 16, false, dwz, 16);
	blk_go(&s);
	r |= save(dir, "write-zeroes", &s);

	blk_seed(&s, 0);
	blk_req(&s, VIRTIO_BLK_T_IN, UINT64_MAX - 1, 512, true, NULL, 0);
	blk_go(&s);
	r |= save(dir, "read-past-end", &s);
	return r;
}

int main(int argc, char **argv)
{
	char a[512], b[512];

	if (argc != 2) {
		fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
		return 2;
	}
	snprintf(a, sizeof(a), "%s/virtq", argv[1]);
	snprintf(b, sizeof(b), "%s/blk", argv[1]);
	if ((mkdir(a, 0755) && errno != EEXIST) || (mkdir(b, 0755) && errno != EEXIST)) {
		perror("mkdir");
		return 1;
	}
	return virtq_seeds(a) | blk_seeds(b) ? 1 : 0;
}
