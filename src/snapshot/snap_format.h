/* snap_format.h — bulkhead's snapshot format: what the files are and the
 * parser that treats them as hostile (architecture rule 12).
 *
 * A snapshot is a directory of three files:
 *   state     the state file: a fixed 128-byte header, then typed,
 *             length-bounded sections (below); at most SNAP_STATE_MAX bytes;
 *   memory    guest RAM, exactly mem_bytes long, laid out like the VMM's
 *             RAM file (region 0 at offset 0; above 3 GiB, region 1 at
 *             offset 3 GiB); pages the guest never wrote are holes (sparse);
 *   manifest  text: the format major, then the size and SHA-256 of state and
 *             memory (snap_manifest.h).
 *
 * Header (little-endian; x86-64 only):
 *    0 char magic[8]    "BHSNAP\0\n"
 *    8 u16 major        SNAP_MAJOR: a reader refuses any other
 *   10 u16 minor        SNAP_MINOR: a newer minor only adds optional sections
 *   12 u32 header_len   128
 *   16 char version[32] the bulkhead version that wrote it (NUL-padded)
 *   48 u32 ncpus        1..SNAP_MAX_VCPUS
 *   52 u32 cpu_template the CPU template (arch/x86/cpuid.h) it ran with
 *   56 u64 mem_bytes    guest RAM: whole pages, 8 MiB .. 1 TiB
 *   64 u32 nregions     1 or 2, and regions[] must be the layout of mem_bytes
 *   68 u32 nsections
 *   72 {u64 gpa, u64 size} regions[2]
 *  104 24 bytes zero
 * Section: u32 type, u32 id, u32 version, u32 flags (0), u64 length, then
 * length bytes. Types below 0x8000 are mandatory (a reader that does not
 * know one refuses the file); 0x8000 and above are optional (skipped if
 * unknown). Each section carries its own version: adding a field to one
 * device changes that device's section version, not the format's major.
 * Exactly one CONFIG, CPUID, VM and DEVICES section; one VCPU section per
 * vCPU, ids 0..ncpus-1, each once.
 *
 * Pure: no I/O, no threads, no global state. */
#ifndef BH_SNAP_FORMAT_H
#define BH_SNAP_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/compiler.h"

#define SNAP_MAGIC "BHSNAP\0\n"
#define SNAP_MAJOR 1
#define SNAP_MINOR 0
#define SNAP_HEADER_LEN 128u
#define SNAP_SECTION_HDR 24u
#define SNAP_STATE_MAX (64u << 20)
#define SNAP_MAX_VCPUS 254u
#define SNAP_MIN_MEM (8ULL << 20)
#define SNAP_MAX_MEM (1ULL << 40)
#define SNAP_HOLE_START (3ULL << 30)
#define SNAP_HOLE_END (4ULL << 30)
#define SNAP_CONFIG_MAX (64u * 1024) /* the configuration's JSON */

enum snap_section_type {
	SNAP_SEC_CONFIG = 1,  /* the VM configuration, JSON (config_json.h) */
	SNAP_SEC_CPUID = 2,   /* vmm/vm_state.h */
	SNAP_SEC_VCPU = 3,    /* id = vCPU index */
	SNAP_SEC_VM = 4,      /* irqchip, PIT, clock */
	SNAP_SEC_DEVICES = 5, /* vm_devices_save(): one sub-section per device */
	SNAP_SEC_OPTIONAL = 0x8000,
};

struct snap_region {
	uint64_t gpa, size;
};

struct snap_blob {
	const uint8_t *p; /* into the parsed buffer */
	size_t len;
	uint32_t version;
};

struct snap_header {
	uint16_t major, minor;
	char version[33];
	uint32_t ncpus, cpu_template;
	uint64_t mem_bytes;
	uint32_t nregions, nsections;
	struct snap_region regions[2];
};

/* A parsed state file: every field checked, blobs pointing into the buffer
 * given to snap_parse() (which must outlive it). */
struct snap_state {
	struct snap_header h;
	struct snap_blob config, cpuid, vm, devices;
	struct snap_blob vcpu[SNAP_MAX_VCPUS];
};

/* The RAM layout of mem_bytes (what guest_mem builds): 1 or 2 regions. */
unsigned snap_layout(uint64_t mem_bytes, struct snap_region out[2]);

/* The 128-byte header for a VM. */
void snap_header_encode(uint8_t out[SNAP_HEADER_LEN], uint32_t ncpus, uint32_t cpu_template,
			uint64_t mem_bytes, uint32_t nsections);
/* A section's 24-byte header. */
void snap_section_encode(uint8_t out[SNAP_SECTION_HDR], uint32_t type, uint32_t id,
			 uint32_t version, uint64_t len);

/* Parse and check a whole state file of len bytes. 0, or -EINVAL (not a
 * snapshot, truncated, inconsistent), -ENOTSUP (another major version, an
 * unknown mandatory section) with err naming the reason. */
int snap_parse(const void *buf, size_t len, struct snap_state *out, char *err,
	       size_t errlen) BH_WUR;

#endif
