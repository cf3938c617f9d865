/* ctl_proto.c — see ctl_proto.h. */
#include "ctl/ctl_proto.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

void ctl_msg_request(struct ctl_msg *m, enum ctl_type type, uint32_t seq)
{
	memset(m, 0, sizeof(*m));
	m->magic = CTL_MAGIC;
	m->version = CTL_VERSION;
	m->type = (uint16_t)type;
	m->seq = seq;
}

int ctl_msg_validate(const void *buf, size_t len, bool reply, struct ctl_msg *out, char *err,
		     size_t errlen)
{
	struct ctl_msg m;
	unsigned t;

	if (len != sizeof(m)) {
		snprintf(err, errlen, "control record of %zu bytes (expected %zu)", len, sizeof(m));
		return -EPROTO;
	}
	memcpy(&m, buf, sizeof(m)); /* validate the copy only */
	if (m.magic != CTL_MAGIC) {
		snprintf(err, errlen, "bad control magic 0x%08x", m.magic);
		return -EPROTO;
	}
	if (m.version != CTL_VERSION) {
		snprintf(err, errlen, "control version %u (this side speaks %u)", m.version,
			 CTL_VERSION);
		return -EPROTO;
	}
	if (reply != ((m.type & CTL_REPLY) != 0)) {
		snprintf(err, errlen, "expected a %s, got type 0x%04x", reply ? "reply" : "request",
			 m.type);
		return -EPROTO;
	}
	t = m.type & ~CTL_REPLY;
	if (t < CTL_STATUS || t > CTL_TYPE_MAX) {
		snprintf(err, errlen, "unknown control type %u", t);
		return -EPROTO;
	}
	if (m.reserved[0] || m.reserved[1]) {
		snprintf(err, errlen, "reserved control fields are not zero");
		return -EPROTO;
	}
	if (!reply && (m.status || m.state || m.ncpus || m.exits || m.io_exits || m.mmio_exits)) {
		snprintf(err, errlen, "request carries reply fields");
		return -EPROTO;
	}
	if (reply && (m.status > 0 || m.status < -4095)) {
		snprintf(err, errlen, "reply status %d is not 0 or -errno", m.status);
		return -EPROTO;
	}
	*out = m;
	return 0;
}

const char *ctl_type_name(unsigned type)
{
	switch (type & ~CTL_REPLY) {
	case CTL_STATUS: return "status";
	case CTL_PAUSE: return "pause";
	case CTL_RESUME: return "resume";
	case CTL_STOP: return "stop";
	case CTL_QUARANTINE: return "quarantine";
	}
	return "unknown";
}
