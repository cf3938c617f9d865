/* agent_proto.c — frame and job codecs of the host<->agent protocol
 * (agent_proto.h). No allocation, no I/O: every length is checked against
 * what was received before it is used. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "agentproto/agent_proto.h"

static bool is_data_stream(uint8_t s)
{
	return s == AP_S_STDIN || s == AP_S_STDOUT || s == AP_S_STDERR || s == AP_S_COPY;
}

int ap_frame_check(uint8_t stream, uint8_t type, uint32_t len)
{
	if (len > AP_MAX_PAYLOAD)
		return -EPROTO;
	if (is_data_stream(stream)) {
		if (type == AP_T_DATA)
			return len ? 0 : -EPROTO; /* EOF says "end", DATA carries bytes */
		if (type == AP_T_EOF)
			return len == 0 ? 0 : -EPROTO;
		return -EPROTO;
	}
	if (stream != AP_S_CONTROL)
		return -EPROTO;
	switch (type) {
	case AP_T_HELLO:
	case AP_T_STARTED:
	case AP_T_SIGNAL:
		return len == 4 ? 0 : -EPROTO;
	case AP_T_WINSIZE:
		return len == 4 ? 0 : -EPROTO;
	case AP_T_EXIT:
		return len == AP_EXIT_LEN ? 0 : -EPROTO;
	case AP_T_CLOCK:
		return len == 8 ? 0 : -EPROTO;
	case AP_T_RESEED:
		return len >= 16 && len <= 256 ? 0 : -EPROTO;
	case AP_T_OK:
		return len == 0 || len == 8 ? 0 : -EPROTO;
	case AP_T_ERROR:
		return len >= 1 && len <= 1024 ? 0 : -EPROTO;
	case AP_T_COPY_IN:
		return len >= 9 && len <= 8 + AP_JOB_MAX_STR ? 0 : -EPROTO;
	case AP_T_COPY_OUT:
		return len >= 1 && len <= AP_JOB_MAX_STR ? 0 : -EPROTO;
	case AP_T_JOB:
		return len >= 8 ? 0 : -EPROTO;
	default:
		return -EPROTO;
	}
}

int ap_hdr_encode(uint8_t hdr[AP_HDR_LEN], uint8_t stream, uint8_t type, uint32_t len)
{
	if (ap_frame_check(stream, type, len))
		return -EINVAL;
	ap_put_u32(hdr, len);
	hdr[4] = stream;
	hdr[5] = type;
	hdr[6] = hdr[7] = 0;
	return 0;
}

void ap_dec_init(struct ap_dec *d)
{
	d->have = 0;
	d->consumed = 0;
	d->broken = false;
}

/* Drop the frame already handed out, moving what follows to the front. */
static void dec_compact(struct ap_dec *d)
{
	if (!d->consumed)
		return;
	memmove(d->buf, d->buf + d->consumed, d->have - d->consumed);
	d->have -= d->consumed;
	d->consumed = 0;
}

/* Bytes the frame at the front needs in total (header + payload), or the
 * header length while the header is incomplete. 0 if the header is bad. */
static size_t dec_need(struct ap_dec *d)
{
	if (d->have < AP_HDR_LEN)
		return AP_HDR_LEN;
	uint32_t len = ap_get_u32(d->buf);

	if (d->buf[6] || d->buf[7] || ap_frame_check(d->buf[4], d->buf[5], len)) {
		d->broken = true;
		return 0;
	}
	return AP_HDR_LEN + (size_t)len;
}

size_t ap_dec_space(struct ap_dec *d, uint8_t **space)
{
	dec_compact(d);
	*space = d->buf + d->have;
	if (d->broken)
		return 0;
	size_t need = dec_need(d);

	if (!need || d->have >= need)
		return 0;
	/* Read at most up to the end of the current frame's header, then up to
	 * the end of its payload: never more than one frame is buffered, and
	 * the buffer always fits it (need <= sizeof(buf)). */
	return need - d->have;
}

void ap_dec_commit(struct ap_dec *d, size_t n)
{
	d->have += n;
}

size_t ap_dec_feed(struct ap_dec *d, const void *data, size_t n)
{
	const uint8_t *src = data;
	size_t taken = 0;

	while (taken < n) {
		uint8_t *space;
		size_t room = ap_dec_space(d, &space);

		if (!room)
			break;
		if (room > n - taken)
			room = n - taken;
		memcpy(space, src + taken, room);
		ap_dec_commit(d, room);
		taken += room;
	}
	return taken;
}

int ap_dec_next(struct ap_dec *d, struct ap_frame *f)
{
	dec_compact(d);
	if (d->broken)
		return -EPROTO;
	size_t need = dec_need(d);

	if (!need)
		return -EPROTO;
	if (d->have < AP_HDR_LEN || d->have < need)
		return 0;
	f->len = ap_get_u32(d->buf);
	f->stream = d->buf[4];
	f->type = d->buf[5];
	f->payload = d->buf + AP_HDR_LEN;
	d->consumed = need;
	return 1;
}

void ap_exit_encode(uint8_t out[AP_EXIT_LEN], const struct ap_exit *e)
{
	ap_put_u32(out, e->kind);
	ap_put_u32(out + 4, (uint32_t)e->value);
	ap_put_u32(out + 8, e->oom_kills);
	ap_put_u32(out + 12, 0);
}

int ap_exit_decode(const uint8_t *p, size_t len, struct ap_exit *e)
{
	if (len != AP_EXIT_LEN)
		return -EPROTO;
	e->kind = ap_get_u32(p);
	e->value = (int32_t)ap_get_u32(p + 4);
	e->oom_kills = ap_get_u32(p + 8);
	e->reserved = ap_get_u32(p + 12);
	if (e->reserved)
		return -EPROTO;
	switch (e->kind) {
	case AP_EXIT_CODE:
		return e->value >= 0 && e->value <= 255 ? 0 : -EPROTO;
	case AP_EXIT_SIGNAL:
		return e->value >= 1 && e->value <= 64 ? 0 : -EPROTO;
	case AP_EXIT_NOT_FOUND:
	case AP_EXIT_CANNOT_INVOKE:
	case AP_EXIT_SETUP:
		return e->value >= 0 && e->value < 4096 ? 0 : -EPROTO;
	default:
		return -EPROTO;
	}
}

/* ---- job TLV ---- */
static int put_rec(struct ap_jobbuf *b, uint16_t tag, const void *v, size_t len)
{
	if (len > AP_JOB_MAX_STR + 16 || b->len > b->cap || b->cap - b->len < 8 + len)
		return -ENOSPC;
	uint8_t *p = b->p + b->len;

	p[0] = (uint8_t)tag;
	p[1] = (uint8_t)(tag >> 8);
	p[2] = p[3] = 0;
	ap_put_u32(p + 4, (uint32_t)len);
	if (len)
		memcpy(p + 8, v, len);
	b->len += 8 + len;
	return 0;
}

int ap_job_put_str(struct ap_jobbuf *b, uint16_t tag, const char *s)
{
	size_t n = strlen(s);

	if (n > AP_JOB_MAX_STR)
		return -EINVAL;
	return put_rec(b, tag, s, n);
}

int ap_job_put_u32(struct ap_jobbuf *b, uint16_t tag, uint32_t v)
{
	uint8_t p[4];

	ap_put_u32(p, v);
	return put_rec(b, tag, p, 4);
}

int ap_job_put_rlimit(struct ap_jobbuf *b, uint32_t resource, uint64_t soft, uint64_t hard)
{
	uint8_t p[24];

	ap_put_u32(p, resource);
	ap_put_u32(p + 4, 0);
	ap_put_u64(p + 8, soft);
	ap_put_u64(p + 16, hard);
	return put_rec(b, AP_TAG_RLIMIT, p, sizeof(p));
}

int ap_job_put_terminal(struct ap_jobbuf *b, uint16_t rows, uint16_t cols)
{
	uint8_t p[4] = { (uint8_t)rows, (uint8_t)(rows >> 8), (uint8_t)cols, (uint8_t)(cols >> 8) };

	return put_rec(b, AP_TAG_TERMINAL, p, sizeof(p));
}

int ap_job_put_flag(struct ap_jobbuf *b, uint16_t tag)
{
	return put_rec(b, tag, NULL, 0);
}

#define JOB_FAIL(...)                                   \
	do {                                            \
		snprintf(err, errlen, __VA_ARGS__);     \
		return -EPROTO;                         \
	} while (0)

int ap_job_decode(const uint8_t *p, size_t len, struct ap_job *j, char *err, size_t errlen)
{
	size_t off = 0, soff = 0;

	memset(j, 0, offsetof(struct ap_job, strings));
	if (len > AP_MAX_PAYLOAD)
		JOB_FAIL("job: %zu bytes, more than %u", len, AP_MAX_PAYLOAD);
	while (off < len) {
		if (len - off < 8)
			JOB_FAIL("job: truncated record header at byte %zu", off);
		uint16_t tag = (uint16_t)(p[off] | p[off + 1] << 8);
		uint32_t rlen = ap_get_u32(p + off + 4);
		const uint8_t *v = p + off + 8;

		if (p[off + 2] || p[off + 3])
			JOB_FAIL("job: record at byte %zu: reserved bytes not zero", off);
		if (rlen > len - off - 8)
			JOB_FAIL("job: record at byte %zu: length %u runs past the end", off, rlen);
		off += 8 + (size_t)rlen;
		switch (tag) {
		case AP_TAG_ARG:
		case AP_TAG_ENV:
		case AP_TAG_CWD:
		case AP_TAG_HOSTNAME: {
			if (rlen > AP_JOB_MAX_STR || memchr(v, 0, rlen))
				JOB_FAIL("job: tag %u: string too long or containing NUL", tag);
			/* strings[] holds the whole payload plus one NUL per record
			 * of the kinds counted below, so this cannot overflow; check
			 * anyway. */
			if (soff + rlen + 1 > sizeof(j->strings))
				JOB_FAIL("job: strings overflow");
			char *s = j->strings + soff;

			memcpy(s, v, rlen);
			s[rlen] = 0;
			soff += (size_t)rlen + 1;
			if (tag == AP_TAG_ARG) {
				if (j->nargs >= AP_JOB_MAX_ARGS)
					JOB_FAIL("job: more than %d arguments", AP_JOB_MAX_ARGS);
				j->argv[j->nargs++] = s;
			} else if (tag == AP_TAG_ENV) {
				if (j->nenv >= AP_JOB_MAX_ENV)
					JOB_FAIL("job: more than %d environment entries",
						 AP_JOB_MAX_ENV);
				if (!strchr(s, '=') || s[0] == '=')
					JOB_FAIL("job: environment entry without NAME=");
				j->envp[j->nenv++] = s;
			} else if (tag == AP_TAG_CWD) {
				if (j->cwd || s[0] != '/')
					JOB_FAIL("job: working directory must be one absolute path");
				j->cwd = s;
			} else {
				if (j->hostname || !rlen || rlen > 64)
					JOB_FAIL("job: hostname must be one name of 1-64 bytes");
				j->hostname = s;
			}
			break;
		}
		case AP_TAG_UID:
		case AP_TAG_GID:
		case AP_TAG_PIDS_MAX:
			if (rlen != 4)
				JOB_FAIL("job: tag %u wants 4 bytes, has %u", tag, rlen);
			/* (uid_t)-1 is setresuid's "leave unchanged": the job
			 * would run as the agent (root), not as a user */
			if (tag != AP_TAG_PIDS_MAX && ap_get_u32(v) == UINT32_MAX)
				JOB_FAIL("job: %s 4294967295 is not a user (it means 'unchanged')",
					 tag == AP_TAG_UID ? "uid" : "gid");
			if (tag == AP_TAG_UID) {
				j->uid = ap_get_u32(v);
				j->has_user = true;
			} else if (tag == AP_TAG_GID) {
				j->gid = ap_get_u32(v);
			} else {
				j->pids_max = ap_get_u32(v);
			}
			break;
		case AP_TAG_RLIMIT:
			if (rlen != 24 || ap_get_u32(v + 4))
				JOB_FAIL("job: malformed rlimit record");
			if (j->nrlimits >= AP_JOB_MAX_RLIMITS)
				JOB_FAIL("job: more than %d rlimits", AP_JOB_MAX_RLIMITS);
			j->rlimits[j->nrlimits].resource = ap_get_u32(v);
			j->rlimits[j->nrlimits].soft = ap_get_u64(v + 8);
			j->rlimits[j->nrlimits].hard = ap_get_u64(v + 16);
			if (j->rlimits[j->nrlimits].soft > j->rlimits[j->nrlimits].hard)
				JOB_FAIL("job: rlimit %u: soft above hard", ap_get_u32(v));
			j->nrlimits++;
			break;
		case AP_TAG_TERMINAL:
			if (rlen != 4)
				JOB_FAIL("job: terminal record wants 4 bytes");
			j->terminal = true;
			j->rows = (uint16_t)(v[0] | v[1] << 8);
			j->cols = (uint16_t)(v[2] | v[3] << 8);
			break;
		case AP_TAG_STDIN:
			if (rlen)
				JOB_FAIL("job: stdin flag carries no value");
			j->keep_stdin = true;
			break;
		default:
			JOB_FAIL("job: unknown tag %u", tag);
		}
	}
	if (!j->nargs)
		JOB_FAIL("job: no program (no argument records)");
	if (!j->argv[0][0])
		JOB_FAIL("job: empty program name");
	j->argv[j->nargs] = NULL;
	j->envp[j->nenv] = NULL;
	return 0;
}

int ap_copy_in_decode(const uint8_t *p, size_t len, uint32_t *uid, uint32_t *gid, char *path,
		      size_t pathlen, char *err, size_t errlen)
{
	size_t plen;

	if (len < 9 || len - 8 >= pathlen) {
		snprintf(err, errlen, "copy-in: a payload of %zu bytes", len);
		return -EINVAL;
	}
	plen = len - 8;
	*uid = ap_get_u32(p);
	*gid = ap_get_u32(p + 4);
	memcpy(path, p + 8, plen);
	path[plen] = 0;
	if (memchr(path, 0, plen) || path[0] != '/') {
		snprintf(err, errlen, "'%.200s' is not an absolute path", path);
		return -EINVAL;
	}
	if (*uid == UINT32_MAX || *gid == UINT32_MAX) {
		snprintf(err, errlen, "%s 4294967295 is not an owner (it means 'unchanged')",
			 *uid == UINT32_MAX ? "uid" : "gid");
		return -EINVAL;
	}
	return 0;
}
