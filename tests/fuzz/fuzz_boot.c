/* fuzz_boot.c — libFuzzer target for the x86 kernel loader (boot.h).
 *
 * Input: one flags byte, then the kernel image bytes.
 *   bit 0: BOOT_PROTO_PVH (else AUTO)
 *   bit 1: BOOT_DECOMPRESS_GUEST (else HOST: payload decompressors run)
 *   bit 2: long command line (exercises the cmdline_size limit)
 * The image goes through boot_load_image() — setup header and ELF validation,
 * decompression, zero page / PVH writing — into a 64 MiB guest RAM, with no
 * cache and no initrd. Any crash, sanitizer report or leak is a bug: the
 * loader must reject every malformed image with an error. */
#include <stdint.h>
#include <string.h>

#include "arch/x86/boot.h"
#include "common/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* One guest RAM for the whole run: creating 64 MiB per input would
	 * dominate the time. The fuzz harness is the only user. */
	static struct guest_mem gm;
	static int ready;
	static char long_cmd[5000];
	struct boot_config cfg;
	struct boot_plan plan;
	char err[512];

	if (!ready) {
		bh_log_set_level(BH_LOG_ERROR);
		if (gmem_create(&gm, 64ULL << 20))
			return 0;
		memset(long_cmd, 'x', sizeof(long_cmd) - 1);
		ready = 1;
	}
	if (size < 1)
		return 0;
	memset(&cfg, 0, sizeof(cfg));
	cfg.kernel_path = "fuzz";
	cfg.proto = (data[0] & 1) ? BOOT_PROTO_PVH : BOOT_PROTO_AUTO;
	cfg.decompress = (data[0] & 2) ? BOOT_DECOMPRESS_GUEST : BOOT_DECOMPRESS_HOST;
	cfg.cmdline = (data[0] & 4) ? long_cmd : "console=ttyS0";
	if (boot_load_image(&gm, &cfg, data + 1, size - 1, &plan, err, sizeof(err)) == 0) {
		/* Success must describe a sane entry. */
		if (plan.entry >= (4ULL << 30) || plan.kernel_end < plan.kernel_start)
			__builtin_trap();
	} else if (err[0] == '\0') {
		__builtin_trap(); /* every failure carries a message */
	}
	return 0;
}
