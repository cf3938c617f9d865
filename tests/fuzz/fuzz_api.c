/* fuzz_api.c — libFuzzer target for what bulkheadd parses from a client and
 * from a VMM: the JSON VM configuration (config_json_parse, both with the
 * daemon's flags and the CLI's), the route matcher that turns a URL path into
 * a route and a VM id, and the control-channel record validator.
 *
 * Input: one selector byte, then the payload.
 *   selector % 3 == 0: payload = a JSON configuration
 *   selector % 3 == 1: payload = a URL path, matched against every route shape
 *   selector % 3 == 2: payload = a control record v2 (a request if bit 7 is
 *                      clear, a reply if set), received with (selector >> 4)
 *                      & 7 descriptors (0-7: past CTL_MAX_FDS too)
 * Any crash, sanitizer report or leak is a bug; on success the parsed config
 * must satisfy the invariants the VMM relies on (checked below). */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "config/config_json.h"
#include "config/schema.h"
#include "ctl/ctl_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const patterns[] = {
	"/v1/version", "/v1/vms", "/v1/vms/{id}", "/v1/vms/{id}/start",
	"/v1/vms/{id}/quarantine", "/v1/vms/{id}/console", "/v1/events", "/metrics",
	"/v1/vms/{id}/snapshots/{name}",
};

static void fuzz_config(const uint8_t *data, size_t size, unsigned flags)
{
	struct json_object *root = NULL;
	struct vm_config cfg;
	char err[512];

	config_defaults(&cfg);
	if (config_json_parse((const char *)data, size, flags, &cfg, &root, err, sizeof(err)))
		return;
	/* what a successful parse guarantees */
	if (cfg.ncpus < 1 || cfg.ncpus > VM_MAX_VCPUS || cfg.ndisks > VM_MAX_DISKS)
		abort();
	if ((flags & CONFIG_JSON_NEED_KERNEL) && !cfg.boot.kernel_path)
		abort();
	if ((flags & CONFIG_JSON_ABS_PATHS) && cfg.boot.kernel_path && cfg.boot.kernel_path[0] != '/')
		abort();
	for (unsigned i = 0; i < cfg.ndisks; i++)
		if (!cfg.disks[i].path || strlen(cfg.disks[i].id) > VIRTIO_BLK_ID_MAX)
			abort();
	if (cfg.console == CONSOLE_FILE && !cfg.console_path)
		abort();
	config_json_free(root);
}

/* The control record parser (ctl_msg_parse): what ctl_recv_msg hands it
 * after recvmsg. Descriptor values are stand-ins (the parser never uses them);
 * on success the record must satisfy what the VMM and the daemon rely on. */
static void fuzz_ctl(const uint8_t *data, size_t size, bool reply, unsigned nfds)
{
	static struct ctl_msg m;
	const int fake[8] = { 100, 101, 102, 103, 104, 105, 106, 107 };
	char err[256];
	unsigned t;

	if (ctl_msg_parse(data, size, fake, nfds, reply, &m, err, sizeof(err))) {
		if (m.hdr.nfds || m.hdr.payload_len || !err[0])
			abort(); /* a refusal names why and leaves no descriptors */
		return;
	}
	t = m.hdr.type & ~CTL_REPLY;
	if (m.hdr.magic != CTL_MAGIC || m.hdr.version != CTL_VERSION || m.hdr.flags ||
	    size != sizeof(m.hdr) + m.hdr.payload_len || m.hdr.payload_len > CTL_PAYLOAD_MAX ||
	    m.hdr.nfds != nfds || nfds > CTL_MAX_FDS || t < CTL_STATUS || t > CTL_TYPE_MAX ||
	    reply != ((m.hdr.type & CTL_REPLY) != 0))
		abort();
	for (unsigned i = 0; i < nfds; i++)
		if (m.fds[i] != fake[i])
			abort();
	if (!reply) {
		if (m.hdr.status || (t == CTL_ATTACH_FD) != (nfds == 1) || (t != CTL_ATTACH_FD && nfds))
			abort();
		if (t == CTL_ATTACH_FD) {
			struct ctl_fd_name n;

			ctl_msg_fd_name(&m, &n);
			if (!bh_fd_name_valid(n.name))
				abort();
		}
		return;
	}
	if (m.hdr.status > 0 || m.hdr.status < -4095 || nfds)
		abort();
	if (t == CTL_LIST_FDS && m.hdr.status == 0) {
		struct ctl_fd_entry e;
		unsigned n = ctl_msg_fd_entry(&m, 0, &e);

		if (n > CTL_FDS_MAX)
			abort();
		for (unsigned i = 0; i < n; i++)
			if (ctl_msg_fd_entry(&m, i, &e) != n || !bh_fd_name_valid(e.name.name) ||
			    !strcmp(ctl_fd_kind_name(e.kind), "?"))
				abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t sel = data[0];

	data++;
	size--;
	switch (sel % 3) {
	case 0:
		fuzz_config(data, size,
			    (sel & 0x80) ? CONFIG_JSON_ABS_PATHS | CONFIG_JSON_NEED_KERNEL : 0);
		break;
	case 1: {
		char *url = malloc(size + 1);
		char id[136];

		if (!url)
			return 0;
		memcpy(url, data, size);
		url[size] = '\0';
		/* {id}: one segment; {id}/{name}: "ID/NAME", both non-empty. */
		for (size_t i = 0; i < sizeof(patterns) / sizeof(patterns[0]); i++) {
			bool two = strstr(patterns[i], "{name}") != NULL;
			const char *slash;

			if (!api_path_match(patterns[i], url, id, sizeof(id)) ||
			    !strchr(patterns[i], '{'))
				continue;
			slash = strchr(id, '/');
			if (strlen(id) == 0 || strlen(id) >= sizeof(id) || !!slash != two ||
			    (slash && (slash == id || !slash[1] || strchr(slash + 1, '/'))))
				abort();
		}
		free(url);
		break;
	}
	case 2:
		fuzz_ctl(data, size, (sel & 0x80) != 0, (sel >> 4) & 7u);
		break;
	}
	return 0;
}
