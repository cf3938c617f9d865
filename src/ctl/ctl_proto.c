/* ctl_proto.c — see ctl_proto.h. */
#include "ctl/ctl_proto.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/fdpass.h"

#define HDR_LEN sizeof(struct ctl_hdr)
#define LIST_HEAD_LEN (sizeof(struct ctl_status) + sizeof(struct ctl_fd_list))

void ctl_msg_request(struct ctl_msg *m, enum ctl_type type, uint32_t seq)
{
	memset(&m->hdr, 0, sizeof(m->hdr));
	m->hdr.magic = CTL_MAGIC;
	m->hdr.version = CTL_VERSION;
	m->hdr.type = (uint16_t)type;
	m->hdr.seq = seq;
	for (unsigned i = 0; i < CTL_MAX_FDS; i++)
		m->fds[i] = -1;
}

void ctl_msg_reply(struct ctl_msg *m, unsigned type, uint32_t seq, int status,
		   const struct ctl_status *st)
{
	ctl_msg_request(m, (enum ctl_type)(type & ~CTL_REPLY), seq);
	m->hdr.type |= CTL_REPLY;
	m->hdr.status = status;
	memcpy(m->payload, st, sizeof(*st));
	m->hdr.payload_len = sizeof(*st);
}

int ctl_msg_put(struct ctl_msg *m, const void *data, size_t len)
{
	if (m->hdr.payload_len > CTL_PAYLOAD_MAX || len > CTL_PAYLOAD_MAX - m->hdr.payload_len)
		return -EMSGSIZE;
	memcpy(m->payload + m->hdr.payload_len, data, len);
	m->hdr.payload_len += (uint32_t)len;
	return 0;
}

int ctl_msg_add_fd(struct ctl_msg *m, int fd)
{
	if (m->hdr.nfds >= CTL_MAX_FDS)
		return -E2BIG;
	m->fds[m->hdr.nfds++] = fd;
	return 0;
}

int ctl_msg_attach_fd(struct ctl_msg *m, uint32_t seq, const char *name, int fd)
{
	struct ctl_fd_name n;
	int ret;

	if (!bh_fd_name_valid(name))
		return -EINVAL;
	memset(&n, 0, sizeof(n));
	memcpy(n.name, name, strlen(name));
	ctl_msg_request(m, CTL_ATTACH_FD, seq);
	if ((ret = ctl_msg_put(m, &n, sizeof(n))) || (ret = ctl_msg_add_fd(m, fd)))
		return ret;
	return 0;
}

void ctl_msg_balloon_set(struct ctl_msg *m, uint32_t seq, uint64_t target_bytes)
{
	struct ctl_balloon_set b = { target_bytes };

	ctl_msg_request(m, CTL_BALLOON_SET, seq);
	memcpy(m->payload, &b, sizeof(b)); /* an empty request has room */
	m->hdr.payload_len = sizeof(b);
}

void ctl_msg_close_fds(struct ctl_msg *m)
{
	for (unsigned i = 0; i < m->hdr.nfds && i < CTL_MAX_FDS; i++) {
		if (m->fds[i] >= 0)
			close(m->fds[i]);
		m->fds[i] = -1;
	}
	m->hdr.nfds = 0;
}

/* ---- validation ---- */

#define REFUSE(...)                                \
	do {                                       \
		snprintf(err, errlen, __VA_ARGS__); \
		return -EPROTO;                    \
	} while (0)

/* A wire name: NUL-terminated inside its 32 bytes, NUL-padded, and following
 * common/fd_name.h. */
static bool wire_name_ok(const struct ctl_fd_name *n)
{
	const char *end = memchr(n->name, '\0', sizeof(n->name));

	if (!end || !bh_fd_name_valid_n(n->name, (size_t)(end - n->name)))
		return false;
	for (const char *p = end; p < n->name + sizeof(n->name); p++)
		if (*p)
			return false;
	return true;
}

static int check_request(const struct ctl_hdr *h, const unsigned char *payload, unsigned t,
			 char *err, size_t errlen)
{
	size_t want_len = t == CTL_ATTACH_FD	 ? sizeof(struct ctl_fd_name)
			  : t == CTL_BALLOON_SET ? sizeof(struct ctl_balloon_set)
			  : t == CTL_SNAPSHOT	 ? sizeof(struct ctl_snapshot)
						 : 0;
	unsigned want_fds = t == CTL_ATTACH_FD ? 1 : t == CTL_SNAPSHOT ? 2 : 0;
	struct ctl_fd_name n;
	struct ctl_snapshot sn;

	if (h->status)
		REFUSE("'%s' request carries a status (%d)", ctl_type_name(t), h->status);
	if (h->payload_len != want_len)
		REFUSE("'%s' request with %u payload bytes (expected %zu)", ctl_type_name(t),
		       h->payload_len, want_len);
	if (h->nfds != want_fds)
		REFUSE("'%s' request with %u descriptors (expected %u)", ctl_type_name(t), h->nfds,
		       want_fds);
	if (t == CTL_ATTACH_FD) {
		memcpy(&n, payload, sizeof(n));
		if (!wire_name_ok(&n))
			REFUSE("'attach-fd' request: the name is not 1-%d characters of letters, "
			       "digits, '_', '-', '.' starting with a letter, NUL-padded",
			       BH_FD_NAME_MAX);
	}
	if (t == CTL_SNAPSHOT) {
		memcpy(&sn, payload, sizeof(sn));
		if ((sn.flags & ~CTL_SNAP_RESUME) || sn.reserved)
			REFUSE("'snapshot' request with flags 0x%x (known: 0x%x) or reserved bits",
			       sn.flags, CTL_SNAP_RESUME);
	}
	return 0;
}

static int check_list(const struct ctl_hdr *h, const unsigned char *payload, char *err,
		      size_t errlen)
{
	struct ctl_fd_list l;
	struct ctl_fd_entry e[CTL_FDS_MAX];

	if (h->payload_len < LIST_HEAD_LEN)
		REFUSE("'list-fds' reply of %u payload bytes (at least %zu)", h->payload_len,
		       LIST_HEAD_LEN);
	memcpy(&l, payload + sizeof(struct ctl_status), sizeof(l));
	if (l.count > CTL_FDS_MAX || l.reserved)
		REFUSE("'list-fds' reply with count %u (at most %u) or reserved bits", l.count,
		       CTL_FDS_MAX);
	if (h->payload_len != LIST_HEAD_LEN + l.count * sizeof(struct ctl_fd_entry))
		REFUSE("'list-fds' reply of %u payload bytes for %u entries", h->payload_len,
		       l.count);
	memcpy(e, payload + LIST_HEAD_LEN, l.count * sizeof(e[0]));
	for (unsigned i = 0; i < l.count; i++) {
		if (!wire_name_ok(&e[i].name) || e[i].kind < CTL_FD_FILE ||
		    e[i].kind > CTL_FD_OTHER || e[i].reserved)
			REFUSE("'list-fds' reply: entry %u is malformed", i);
		for (unsigned j = 0; j < i; j++)
			if (!strcmp(e[i].name.name, e[j].name.name))
				REFUSE("'list-fds' reply: name '%s' listed twice", e[i].name.name);
	}
	return 0;
}

static int check_reply(const struct ctl_hdr *h, const unsigned char *payload, unsigned t,
		       char *err, size_t errlen)
{
	struct ctl_status st;

	if (h->status > 0 || h->status < -4095)
		REFUSE("reply status %d is not 0 or -errno", h->status);
	if (h->nfds)
		REFUSE("'%s' reply carries %u descriptors (replies carry none)", ctl_type_name(t),
		       h->nfds);
	if (h->payload_len < sizeof(st))
		REFUSE("'%s' reply of %u payload bytes lacks its status block", ctl_type_name(t),
		       h->payload_len);
	memcpy(&st, payload, sizeof(st));
	if (st.state & ~CTL_ST_ALL)
		REFUSE("reply state 0x%x has unknown bits", st.state);
	if (t == CTL_LIST_FDS && h->status == 0)
		return check_list(h, payload, err, errlen);
	if (t == CTL_BALLOON_INFO && h->status == 0) {
		struct ctl_balloon b;

		if (h->payload_len != sizeof(st) + sizeof(b))
			REFUSE("'balloon-info' reply of %u payload bytes (expected %zu)",
			       h->payload_len, sizeof(st) + sizeof(b));
		memcpy(&b, payload + sizeof(st), sizeof(b));
		if (b.reserved || (b.stats_valid >> CTL_BALLOON_NSTATS))
			REFUSE("'balloon-info' reply with reserved bits set");
		return 0;
	}
	if (h->payload_len != sizeof(st))
		REFUSE("'%s' reply of %u payload bytes (expected %zu)", ctl_type_name(t),
		       h->payload_len, sizeof(st));
	return 0;
}

int ctl_msg_parse(const void *buf, size_t len, const int *fds, unsigned nfds, bool reply,
		  struct ctl_msg *out, char *err, size_t errlen)
{
	struct ctl_hdr h;
	unsigned t;
	int ret;

	memset(&out->hdr, 0, sizeof(out->hdr));
	for (unsigned i = 0; i < CTL_MAX_FDS; i++)
		out->fds[i] = -1;
	if (len < HDR_LEN)
		REFUSE("control record of %zu bytes (the header alone is %zu)", len, HDR_LEN);
	memcpy(&h, buf, sizeof(h)); /* validate the copy only */
	if (h.magic != CTL_MAGIC)
		REFUSE("bad control magic 0x%08x", h.magic);
	out->hdr.seq = h.seq; /* what it claims to be, for the refusal */
	out->hdr.type = h.type;
	if (h.version != CTL_VERSION)
		REFUSE("control version %u (this side speaks %u)", h.version, CTL_VERSION);
	if (len > HDR_LEN + CTL_PAYLOAD_MAX)
		REFUSE("control record of %zu bytes (at most %zu)", len,
		       HDR_LEN + (size_t)CTL_PAYLOAD_MAX);
	if (h.payload_len != len - HDR_LEN)
		REFUSE("payload_len %u, but %zu bytes follow the header", h.payload_len,
		       len - HDR_LEN);
	if (reply != ((h.type & CTL_REPLY) != 0))
		REFUSE("expected a %s, got type 0x%04x", reply ? "reply" : "request", h.type);
	t = h.type & ~CTL_REPLY;
	if (t < CTL_STATUS || t > CTL_TYPE_MAX)
		REFUSE("unknown control type %u", t);
	if (h.flags)
		REFUSE("control flags 0x%x (none are defined)", h.flags);
	if (h.reserved)
		REFUSE("reserved control field is not zero");
	if (nfds > CTL_MAX_FDS)
		REFUSE("%u descriptors arrived (at most %u)", nfds, CTL_MAX_FDS);
	if (h.nfds != nfds)
		REFUSE("the header announces %u descriptors, %u arrived", h.nfds, nfds);
	memcpy(out->payload, (const unsigned char *)buf + HDR_LEN, h.payload_len);
	ret = reply ? check_reply(&h, out->payload, t, err, errlen)
		    : check_request(&h, out->payload, t, err, errlen);
	if (ret)
		return ret;
	out->hdr = h;
	for (unsigned i = 0; i < nfds; i++)
		out->fds[i] = fds[i];
	return 0;
}

void ctl_msg_snapshot(struct ctl_msg *m, uint32_t seq, uint32_t flags, int state_fd, int mem_fd)
{
	struct ctl_snapshot sn = { .flags = flags };

	ctl_msg_request(m, CTL_SNAPSHOT, seq);
	memcpy(m->payload, &sn, sizeof(sn));
	m->hdr.payload_len = sizeof(sn);
	m->fds[0] = state_fd;
	m->fds[1] = mem_fd;
	m->hdr.nfds = 2;
}

/* ---- transport ---- */

/* Wait until sock is ready for `events` or the deadline passes. 0 (ready or
 * in error: the next call reports which), -EAGAIN for CTL_NO_WAIT,
 * -ETIMEDOUT, -errno. */
static int wait_ready(int sock, short events, uint64_t deadline_ns)
{
	for (;;) {
		struct pollfd p = { .fd = sock, .events = events };
		struct timespec now;
		uint64_t now_ns, left_ms;
		int n, ms = -1;

		if (deadline_ns == CTL_NO_WAIT)
			return -EAGAIN;
		if (deadline_ns != CTL_WAIT_FOREVER) {
			clock_gettime(CLOCK_MONOTONIC, &now);
			now_ns = (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
			if (now_ns >= deadline_ns)
				return -ETIMEDOUT;
			left_ms = (deadline_ns - now_ns + 999999u) / 1000000u;
			ms = left_ms > INT_MAX ? INT_MAX : (int)left_ms;
		}
		n = poll(&p, 1, ms);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n > 0)
			return 0;
	}
}

int ctl_send_msg(int sock, const struct ctl_msg *m, uint64_t deadline_ns, char *err,
		 size_t errlen)
{
	struct iovec iov[2] = {
		{ .iov_base = (void *)(uintptr_t)&m->hdr, .iov_len = HDR_LEN },
		{ .iov_base = (void *)(uintptr_t)m->payload, .iov_len = m->hdr.payload_len },
	};
	size_t total = HDR_LEN + m->hdr.payload_len;
	ssize_t n;
	int ret;

	if (m->hdr.payload_len > CTL_PAYLOAD_MAX || m->hdr.nfds > CTL_MAX_FDS) {
		snprintf(err, errlen, "control record too large (%u payload bytes, %u descriptors)",
			 m->hdr.payload_len, m->hdr.nfds);
		return -EMSGSIZE;
	}
	for (;;) {
		n = fdpass_sendv(sock, iov, 2, m->fds, m->hdr.nfds, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n >= 0)
			break;
		if (n == -EINTR)
			continue;
		if (n != -EAGAIN && n != -EWOULDBLOCK) {
			snprintf(err, errlen, "control socket: send: %s", strerror((int)-n));
			return (int)n;
		}
		if ((ret = wait_ready(sock, POLLOUT, deadline_ns))) {
			snprintf(err, errlen, "control socket: the peer takes no record (%s)",
				 strerror(-ret));
			return ret;
		}
	}
	if ((size_t)n != total) { /* SEQPACKET sends whole records or nothing */
		snprintf(err, errlen, "control socket: short send (%zd of %zu bytes)", n, total);
		return -EIO;
	}
	return 0;
}

/* For a refusal before parsing: the seq and type a record with our magic
 * claims (see ctl_msg_parse). */
static void claim(const unsigned char *buf, ssize_t n, struct ctl_msg *m)
{
	struct ctl_hdr h;

	if (n < (ssize_t)HDR_LEN)
		return;
	memcpy(&h, buf, sizeof(h));
	if (h.magic == CTL_MAGIC) {
		m->hdr.seq = h.seq;
		m->hdr.type = h.type;
	}
}

static void close_all(int *fds, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		close(fds[i]);
}

int ctl_recv_msg(int sock, bool reply, struct ctl_msg *m, uint64_t deadline_ns, char *err,
		 size_t errlen)
{
	/* One byte more than the largest record: MSG_TRUNC then says "larger". */
	unsigned char buf[HDR_LEN + CTL_PAYLOAD_MAX + 1];
	union {
		char buf[CMSG_SPACE(sizeof(int) * CTL_MAX_FDS)];
		struct cmsghdr align;
	} cbuf;
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
	struct msghdr mh;
	int fds[CTL_MAX_FDS];
	unsigned nfds = 0, extra = 0;
	bool foreign = false;
	ssize_t n;
	int ret;

	memset(&m->hdr, 0, sizeof(m->hdr));
	for (;;) {
		mh = (struct msghdr){ .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf.buf,
				      .msg_controllen = sizeof(cbuf.buf) };
		n = recvmsg(sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (n >= 0)
			break;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			ret = -errno;
			snprintf(err, errlen, "control socket: receive: %s", strerror(errno));
			return ret;
		}
		if ((ret = wait_ready(sock, POLLIN, deadline_ns))) {
			snprintf(err, errlen, "control socket: no record (%s)", strerror(-ret));
			return ret;
		}
	}
	/* Take every descriptor that arrived before judging anything, so that
	 * each refusal below closes them all. */
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) {
			foreign = true;
			continue;
		}
		size_t cnt = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);

		for (size_t i = 0; i < cnt; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(fd));
			if (nfds < CTL_MAX_FDS) {
				fds[nfds++] = fd;
			} else {
				close(fd);
				extra++;
			}
		}
	}
	claim(buf, n, m);
	if (mh.msg_flags & MSG_CTRUNC) {
		close_all(fds, nfds);
		snprintf(err, errlen, "control data truncated: more than %u descriptors sent",
			 CTL_MAX_FDS);
		return -EPROTO;
	}
	if (foreign || extra) {
		close_all(fds, nfds);
		snprintf(err, errlen, "control record with foreign control data");
		return -EPROTO;
	}
	if (n == 0) {
		memset(&m->hdr, 0, sizeof(m->hdr));
		close_all(fds, nfds);
		snprintf(err, errlen, "the peer closed the control connection");
		return -ECONNRESET;
	}
	if (mh.msg_flags & MSG_TRUNC) {
		close_all(fds, nfds);
		snprintf(err, errlen, "control record larger than %zu bytes",
			 HDR_LEN + (size_t)CTL_PAYLOAD_MAX);
		return -EPROTO;
	}
	ret = ctl_msg_parse(buf, (size_t)n, fds, nfds, reply, m, err, errlen);
	if (ret)
		close_all(fds, nfds);
	return ret;
}

/* ---- typed views ---- */

void ctl_msg_status(const struct ctl_msg *m, struct ctl_status *out)
{
	memset(out, 0, sizeof(*out));
	if (m->hdr.payload_len >= sizeof(*out))
		memcpy(out, m->payload, sizeof(*out));
}

uint64_t ctl_msg_balloon_target(const struct ctl_msg *m)
{
	struct ctl_balloon_set b = { 0 };

	if (m->hdr.payload_len >= sizeof(b))
		memcpy(&b, m->payload, sizeof(b));
	return b.target_bytes;
}

bool ctl_msg_balloon(const struct ctl_msg *m, struct ctl_balloon *out)
{
	memset(out, 0, sizeof(*out));
	if (m->hdr.payload_len != sizeof(struct ctl_status) + sizeof(*out))
		return false;
	memcpy(out, m->payload + sizeof(struct ctl_status), sizeof(*out));
	return true;
}

void ctl_msg_fd_name(const struct ctl_msg *m, struct ctl_fd_name *out)
{
	memset(out, 0, sizeof(*out));
	if (m->hdr.payload_len >= sizeof(*out))
		memcpy(out, m->payload, sizeof(*out));
	out->name[sizeof(out->name) - 1] = '\0';
}

unsigned ctl_msg_fd_entry(const struct ctl_msg *m, unsigned i, struct ctl_fd_entry *out)
{
	struct ctl_fd_list l;

	if (m->hdr.payload_len < LIST_HEAD_LEN)
		return 0;
	memcpy(&l, m->payload + sizeof(struct ctl_status), sizeof(l));
	if (l.count > CTL_FDS_MAX ||
	    m->hdr.payload_len < LIST_HEAD_LEN + l.count * sizeof(*out))
		return 0;
	if (i < l.count) {
		memcpy(out, m->payload + LIST_HEAD_LEN + i * sizeof(*out), sizeof(*out));
		out->name.name[sizeof(out->name.name) - 1] = '\0';
	}
	return l.count;
}

const char *ctl_balloon_stat_name(unsigned t)
{
	/* virtio 1.x §5.5.6.3, in tag order */
	static const char *const names[CTL_BALLOON_NSTATS] = {
		"swap_in", "swap_out", "major_faults", "minor_faults", "free_memory",
		"total_memory", "available_memory", "disk_caches", "hugetlb_allocations",
		"hugetlb_failures",
	};

	return t < CTL_BALLOON_NSTATS ? names[t] : "unknown";
}

const char *ctl_type_name(unsigned type)
{
	switch (type & ~CTL_REPLY) {
	case CTL_STATUS: return "status";
	case CTL_PAUSE: return "pause";
	case CTL_RESUME: return "resume";
	case CTL_STOP: return "stop";
	case CTL_QUARANTINE: return "quarantine";
	case CTL_ATTACH_FD: return "attach-fd";
	case CTL_LIST_FDS: return "list-fds";
	case CTL_BALLOON_SET: return "balloon-set";
	case CTL_BALLOON_INFO: return "balloon-info";
	case CTL_SNAPSHOT: return "snapshot";
	}
	return "unknown";
}

uint32_t ctl_fd_kind_of_mode(unsigned mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG: return CTL_FD_FILE;
	case S_IFSOCK: return CTL_FD_SOCKET;
	case S_IFCHR: return CTL_FD_CHAR;
	case S_IFBLK: return CTL_FD_BLOCK;
	case S_IFIFO: return CTL_FD_FIFO;
	}
	return CTL_FD_OTHER;
}

const char *ctl_fd_kind_name(uint32_t kind)
{
	static const char *const names[] = { "?", "file", "socket", "char device",
					     "block device", "fifo", "other" };

	return kind < BH_ARRAY_SIZE(names) ? names[kind] : "?";
}
