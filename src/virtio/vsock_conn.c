/* vsock_conn.c — virtio-vsock's connection table: creating, finding,
 * resetting and freeing connections, and host-side port allocation. The
 * table is bounded (virtio_vsock_params.max_conns); every entry owns its
 * host fd and two rings. Under vdev.lock, like all of vsock. See vsock_priv.h. */
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "virtio/vsock_priv.h"

uint64_t vsock_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

struct vsock_conn *vsock_conn_new(struct virtio_vsock *vs, int fd, enum vsock_conn_state st)
{
	struct vsock_conn *c;

	if (vs->n >= vs->p.max_conns)
		return NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->rx.buf = malloc(vs->p.buf_size);
	c->tx.buf = malloc(vs->p.buf_size);
	if (!c->rx.buf || !c->tx.buf) {
		free(c->rx.buf);
		free(c->tx.buf);
		free(c);
		return NULL;
	}
	c->vs = vs;
	c->fd = fd;
	c->state = st;
	vs->c[vs->n++] = c;
	vs->st.conns = vs->n;
	return c;
}

void vsock_conn_free(struct virtio_vsock *vs, struct vsock_conn *c)
{
	for (unsigned i = 0; i < vs->n; i++) {
		if (vs->c[i] != c)
			continue;
		vs->c[i] = vs->c[--vs->n];
		vs->c[vs->n] = NULL;
		break;
	}
	vs->st.conns = vs->n;
	if (c->fd >= 0) {
		if (c->interest && vs->el)
			event_loop_del(vs->el, c->fd);
		close(c->fd);
	}
	free(c->rx.buf);
	free(c->tx.buf);
	free(c);
}

void vsock_conn_reset(struct virtio_vsock *vs, struct vsock_conn *c)
{
	if (c->state == VC_LINE) {
		vsock_conn_free(vs, c); /* the guest never heard of it */
		return;
	}
	c->pend = VP_RST;
	c->rx.len = 0;
	c->tx.len = 0;
	c->deadline_ms = 0;
	vsock_conn_update(vs, c);
}

struct vsock_conn *vsock_conn_find(struct virtio_vsock *vs, uint32_t host_port,
				   uint32_t guest_port)
{
	for (unsigned i = 0; i < vs->n; i++)
		if (vs->c[i]->host_port == host_port && vs->c[i]->guest_port == guest_port &&
		    vs->c[i]->state != VC_LINE)
			return vs->c[i];
	return NULL;
}

static uint32_t port_alloc(struct virtio_vsock *vs)
{
	for (;;) {
		uint32_t p = VSOCK_EPHEMERAL_BASE + (vs->next_port++ & 0x3fffffffu);
		bool used = false;

		for (unsigned i = 0; i < vs->n && !used; i++)
			used = vs->c[i]->host_port == p && vs->c[i]->state != VC_LINE;
		if (!used)
			return p;
	}
}

void vsock_conn_start_request(struct virtio_vsock *vs, struct vsock_conn *c, uint32_t port)
{
	c->state = VC_CONNECTING;
	c->host_port = port_alloc(vs);
	c->guest_port = port;
	c->pend = VP_REQUEST;
	c->deadline_ms = vsock_now_ms() + VSOCK_RESPONSE_DEADLINE_MS;
	vsock_conn_update(vs, c);
}

