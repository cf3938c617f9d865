/* fuzz_agent.c — libFuzzer target for the host<->agent protocol codecs
 * (src/agentproto): the input is a byte stream as one end receives it. It
 * is fed to the frame decoder in input-chosen pieces; every frame's payload
 * goes to the decoder of its type (job description, exit status); every
 * 512-byte block of the input also goes to the tar header parser. Both ends
 * decode hostile-size-checked input with these functions (hostile-guests.md
 * case 35); ASan/UBSan watch every read. Seeds: corpus/agent. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "agentproto/agent_proto.h"
#include "agentproto/tar_stream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct ap_dec dec;
static struct ap_job job;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256];
	size_t off = 0;

	for (size_t i = 0; i + AP_TAR_BLOCK <= size; i += AP_TAR_BLOCK) {
		struct ap_tar_ent e;

		(void)!ap_tar_parse(data + i, &e, err, sizeof(err));
	}
	ap_dec_init(&dec);
	while (off < size) {
		/* the first byte of each piece chooses its length (1..256) */
		size_t piece = (size_t)data[off] + 1;

		off++;
		if (piece > size - off)
			piece = size - off;
		size_t taken = 0;

		while (taken < piece) {
			size_t t = ap_dec_feed(&dec, data + off + taken, piece - taken);
			struct ap_frame f;
			int r;

			taken += t;
			while ((r = ap_dec_next(&dec, &f)) == 1) {
				if (f.stream == AP_S_CONTROL && f.type == AP_T_JOB)
					(void)!ap_job_decode(f.payload, f.len, &job, err, sizeof(err));
				if (f.stream == AP_S_CONTROL && f.type == AP_T_EXIT) {
					struct ap_exit e;

					(void)!ap_exit_decode(f.payload, f.len, &e);
				}
			}
			if (r < 0)
				return 0; /* broken for good: a receiver ends the session */
			if (!t)
				break;
		}
		off += piece;
	}
	return 0;
}
