/* networks.c — /v1/networks, and the per-port counters inspect and /metrics
 * show (from the switch's STATS: the switch is a separate, jailed process
 * that handles guest frames, so its reply is hostile input here: bounded by
 * the codec, parsed strictly, only numbers and known names kept). */
#include "api/api.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "ctl/switch_ctl.h"
#include "daemon/daemon.h"
#include "net/frame.h"

static struct json_object *net_json(const struct daemon *d, const struct dnet *n)
{
	struct json_object *o = json_object_new_object(), *vms = json_object_new_array();
	char seg[SWCTL_NAME_LEN];

	dnet_segment(n, seg, sizeof(seg));
	json_object_object_add(o, "id", json_object_new_string(n->id));
	json_object_object_add(o, "name", json_object_new_string(n->name));
	json_object_object_add(o, "owner", json_object_new_int64(n->owner));
	json_object_object_add(o, "created_at", json_object_new_int64(n->created_at));
	json_object_object_add(o, "egress", json_object_new_string(n->egress));
	json_object_object_add(o, "segment", json_object_new_string(seg));
	json_object_object_add(o, "uplink", dnet_uplink_json(d, n));
	for (const struct dvm *v = d->vms; v; v = v->next) {
		if (v->owner != n->owner)
			continue;
		for (unsigned i = 0; i < VM_MAX_NETS; i++)
			if (v->nets[i][0] && (!strcmp(v->nets[i], n->name) ||
					       !strcmp(v->nets[i], n->id))) {
				json_object_array_add(vms, json_object_new_string(v->id));
				break;
			}
	}
	json_object_object_add(o, "vms", vms);
	return o;
}

/* The switch's state, for the list (d->lock held). */
static struct json_object *switch_json(const struct daemon *d)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "running", json_object_new_boolean(d->sw.pid > 0));
	json_object_object_add(o, "pid", json_object_new_int64(d->sw.pid));
	json_object_object_add(o, "generation", json_object_new_int64(d->sw.gen));
	json_object_object_add(o, "restarts", json_object_new_int64(d->sw.restarts));
	json_object_object_add(o, "failed", json_object_new_boolean(d->sw.failed));
	if (d->sw.last_exit[0])
		json_object_object_add(o, "last_exit", json_object_new_string(d->sw.last_exit));
	return o;
}

void api_h_networks(struct api_req *r)
{
	struct json_object *arr = json_object_new_array();

	pthread_mutex_lock(&r->d->lock);
	for (struct dnet *n = r->d->nets; n; n = n->next)
		if (dnet_visible(n, r->uid))
			json_object_array_add(arr, net_json(r->d, n));
	r->json = json_object_new_object();
	json_object_object_add(r->json, "networks", arr);
	json_object_object_add(r->json, "switch", switch_json(r->d));
	pthread_mutex_unlock(&r->d->lock);
	r->status = 200;
}

static void reply_net(struct api_req *r, const char *name, unsigned status)
{
	struct dnet *n;
	char err[300];
	int ret;

	pthread_mutex_lock(&r->d->lock);
	ret = dnet_lookup(r->d, r->uid, name, &n, err, sizeof(err));
	if (ret == 0) {
		r->json = net_json(r->d, n);
		r->status = status;
	}
	pthread_mutex_unlock(&r->d->lock);
	if (ret)
		api_error(r, api_status_of(ret), "%s", err);
}

void api_h_network_create(struct api_req *r)
{
	char err[512], name[DNET_NAME_MAX + 1] = "";
	struct json_object *o;
	int ret = dnet_create(r->d, r->uid, r->body, r->body_len, err, sizeof(err));

	if (ret) {
		api_error(r, api_status_of(ret), "%s", err);
		return;
	}
	/* the name it was created with (dnet_create took the body: the same
	 * strict parse succeeds) */
	o = api_body_object(r);
	{
		struct json_object *x;

		if (o && json_object_object_get_ex(o, "name", &x))
			snprintf(name, sizeof(name), "%s", json_object_get_string(x));
	}
	json_object_put(o);
	reply_net(r, name, 201);
}

void api_h_network_get(struct api_req *r)
{
	reply_net(r, r->id, 200);
}

void api_h_network_remove(struct api_req *r)
{
	char err[400];
	int ret = dnet_remove(r->d, r->uid, r->id, err, sizeof(err));

	if (ret) {
		api_error(r, api_status_of(ret), "%s", err);
		return;
	}
	r->json = json_object_new_object();
	json_object_object_add(r->json, "name", json_object_new_string(r->id));
	json_object_object_add(r->json, "result", json_object_new_string("removed"));
	r->status = 200;
}

/* ---- per-port counters ---- */

struct json_object *api_switch_stats(struct daemon *d)
{
	char *buf = malloc(SWCTL_MAX_MSG);
	struct json_tokener *tok;
	struct json_object *o = NULL, *ports;
	int32_t st = -1;
	int ret;

	if (!buf)
		return NULL;
	ret = dsw_call(d, SWCTL_STATS, NULL, 0, -1, &st, buf, SWCTL_MAX_MSG);
	if (ret || st) {
		free(buf);
		return NULL;
	}
	tok = json_tokener_new_ex(6);
	if (tok) {
		json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
		o = json_tokener_parse_ex(tok, buf, (int)strnlen(buf, SWCTL_MAX_MSG));
		json_tokener_free(tok);
	}
	free(buf);
	if (o && (!json_object_is_type(o, json_type_object) ||
		  !json_object_object_get_ex(o, "ports", &ports) ||
		  !json_object_is_type(ports, json_type_array))) {
		json_object_put(o);
		o = NULL;
	}
	return o;
}

static uint64_t num(struct json_object *o, const char *k)
{
	struct json_object *x;

	if (!json_object_object_get_ex(o, k, &x) || !json_object_is_type(x, json_type_int))
		return 0;
	return (uint64_t)json_object_get_uint64(x);
}

/* The switch's record of port `name` in stats, or NULL. */
static struct json_object *port_of(struct json_object *stats, const char *name)
{
	struct json_object *ports, *x;

	if (!stats || !json_object_object_get_ex(stats, "ports", &ports))
		return NULL;
	for (size_t i = 0; i < json_object_array_length(ports); i++) {
		struct json_object *p = json_object_array_get_idx(ports, i);

		if (json_object_is_type(p, json_type_object) &&
		    json_object_object_get_ex(p, "name", &x) &&
		    json_object_is_type(x, json_type_string) &&
		    !strcmp(json_object_get_string(x), name))
			return p;
	}
	return NULL;
}

/* One NIC's counters, rebuilt from known names only. */
static struct json_object *port_counters(struct json_object *p)
{
	struct json_object *o = json_object_new_object(), *drops = json_object_new_object(), *dj;

	json_object_object_add(o, "rx_frames", json_object_new_uint64(num(p, "rx_frames")));
	json_object_object_add(o, "rx_bytes", json_object_new_uint64(num(p, "rx_bytes")));
	json_object_object_add(o, "tx_frames", json_object_new_uint64(num(p, "tx_frames")));
	json_object_object_add(o, "tx_bytes", json_object_new_uint64(num(p, "tx_bytes")));
	if (json_object_object_get_ex(p, "drops", &dj) && json_object_is_type(dj, json_type_object))
		for (int k = 1; k < NET_DROP__COUNT; k++) {
			const char *nm = net_drop_name((enum net_drop)k);

			json_object_object_add(drops, nm, json_object_new_uint64(num(dj, nm)));
		}
	json_object_object_add(o, "drops", drops);
	return o;
}

struct json_object *api_vm_nics(const struct dvm *v, unsigned sw_gen,
				struct json_object *stats)
{
	struct json_object *arr = json_object_new_array();

	for (unsigned i = 0; i < v->nnics && i < VM_MAX_NETS; i++) {
		struct json_object *o = json_object_new_object(), *p;
		char name[SWCTL_NAME_LEN];

		if (!v->nets[i][0]) {
			json_object_object_add(o, "network", NULL);
			json_object_array_add(arr, o);
			continue;
		}
		dnet_port_name(v->id, i, name, sizeof(name));
		json_object_object_add(o, "network", json_object_new_string(v->nets[i]));
		json_object_object_add(o, "port", json_object_new_string(name));
		p = v->sw_gen && v->sw_gen == sw_gen ? port_of(stats, name) : NULL;
		json_object_object_add(o, "connected", json_object_new_boolean(p != NULL));
		if (p)
			json_object_object_add(o, "counters", port_counters(p));
		else if (v->sw_gen && v->sw_gen != sw_gen)
			json_object_object_add(o, "note", json_object_new_string(
				"the switch was restarted since this VM started: its port is gone "
				"(restart the VM)"));
		json_object_array_add(arr, o);
	}
	return arr;
}

size_t api_net_metrics(char *buf, size_t cap, const struct dvm *v, unsigned sw_gen,
		       struct json_object *stats)
{
	size_t len = 0;

#define OUT(...) api_appendf(buf, cap, &len, __VA_ARGS__)
	for (unsigned i = 0; i < v->nnics && i < VM_MAX_NETS; i++) {
		char name[SWCTL_NAME_LEN];
		struct json_object *p, *dj;

		if (!v->nets[i][0] || !v->sw_gen || v->sw_gen != sw_gen)
			continue;
		dnet_port_name(v->id, i, name, sizeof(name));
		if (!(p = port_of(stats, name)))
			continue;
#define L "{vm=\"%s\",name=\"%s\",nic=\"%u\",network=\"%s\""
		OUT("bulkhead_vm_net_rx_frames_total" L "} %llu\n", v->id, v->name, i, v->nets[i],
		    (unsigned long long)num(p, "rx_frames"));
		OUT("bulkhead_vm_net_rx_bytes_total" L "} %llu\n", v->id, v->name, i, v->nets[i],
		    (unsigned long long)num(p, "rx_bytes"));
		OUT("bulkhead_vm_net_tx_frames_total" L "} %llu\n", v->id, v->name, i, v->nets[i],
		    (unsigned long long)num(p, "tx_frames"));
		OUT("bulkhead_vm_net_tx_bytes_total" L "} %llu\n", v->id, v->name, i, v->nets[i],
		    (unsigned long long)num(p, "tx_bytes"));
		if (json_object_object_get_ex(p, "drops", &dj))
			for (int k = 1; k < NET_DROP__COUNT; k++) {
				const char *nm = net_drop_name((enum net_drop)k);

				OUT("bulkhead_vm_net_drops_total" L ",reason=\"%s\"} %llu\n", v->id,
				    v->name, i, v->nets[i], nm, (unsigned long long)num(dj, nm));
			}
#undef L
	}
#undef OUT
	return len;
}
