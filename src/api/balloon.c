/* balloon.c — the balloon in the API: PUT /v1/vms/{id}/balloon, the
 * "balloon" object of inspect, and its /metrics lines. What the figures mean:
 * README "The balloon". The VMM's figures are displayed, never acted on. */
#include "api/api.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "config/args.h"
#include "ctl/ctl_proto.h"
#include "daemon/daemon.h"

#define BIT(x) (1ULL << (x))

static void add_u64(struct json_object *o, const char *k, uint64_t v)
{
	json_object_object_add(o, k, json_object_new_int64(v > INT64_MAX ? INT64_MAX : (int64_t)v));
}

struct json_object *api_balloon_json(const struct ctl_balloon *b)
{
	struct json_object *o = json_object_new_object(), *refused = json_object_new_object(),
			   *stats = json_object_new_object(), *feat = json_object_new_object();

	add_u64(o, "target_bytes", b->target_pages * 4096);
	add_u64(o, "guest_claimed_bytes", b->actual_pages * 4096); /* config `actual` */
	add_u64(o, "held_bytes", b->held_pages * 4096);
	add_u64(o, "inflated_pages", b->inflated_pages);
	add_u64(o, "deflated_pages", b->deflated_pages);
	add_u64(o, "released_bytes", b->released_bytes);
	add_u64(o, "reported_bytes", b->reported_bytes);
	add_u64(o, "report_released_bytes", b->report_released_bytes);
	add_u64(o, "unreleasable_bytes", b->unreleasable_bytes);
	add_u64(o, "release_errors", b->release_errors);
	add_u64(refused, "outside_ram", b->refused_outside);
	add_u64(refused, "excess", b->refused_excess);
	add_u64(refused, "duplicate", b->refused_duplicate);
	add_u64(refused, "malformed_stats", b->refused_stats);
	json_object_object_add(o, "refused", refused);
	json_object_object_add(feat, "stats", json_object_new_boolean(b->features & BIT(1)));
	json_object_object_add(feat, "deflate_on_oom", json_object_new_boolean(b->features & BIT(2)));
	json_object_object_add(feat, "free_page_reporting",
			       json_object_new_boolean(b->features & BIT(5)));
	json_object_object_add(o, "negotiated", feat);
	add_u64(o, "guest_stats_updates", b->stats_updates);
	for (unsigned t = 0; t < CTL_BALLOON_NSTATS; t++)
		if (b->stats_valid & (1u << t))
			add_u64(stats, ctl_balloon_stat_name(t), b->stats[t]);
	json_object_object_add(o, "guest_stats", stats);
	return o;
}

size_t api_balloon_metrics(char *buf, size_t cap, const char *id, const char *name,
			   const struct ctl_balloon *b)
{
	size_t len = 0;

#define OUT(...) api_appendf(buf, cap, &len, __VA_ARGS__)
#define L "{vm=\"%s\",name=\"%s\"}"
	OUT("bulkhead_vm_balloon_target_bytes" L " %" PRIu64 "\n", id, name, b->target_pages * 4096);
	OUT("bulkhead_vm_balloon_held_bytes" L " %" PRIu64 "\n", id, name, b->held_pages * 4096);
	OUT("bulkhead_vm_balloon_released_bytes_total" L " %" PRIu64 "\n", id, name,
	    b->released_bytes);
	OUT("bulkhead_vm_balloon_reported_bytes_total" L " %" PRIu64 "\n", id, name,
	    b->reported_bytes);
	OUT("bulkhead_vm_balloon_report_released_bytes_total" L " %" PRIu64 "\n", id, name,
	    b->report_released_bytes);
	OUT("bulkhead_vm_balloon_refused_total{vm=\"%s\",name=\"%s\",reason=\"outside_ram\"} %"
	    PRIu64 "\n", id, name, b->refused_outside);
	OUT("bulkhead_vm_balloon_refused_total{vm=\"%s\",name=\"%s\",reason=\"excess\"} %" PRIu64
	    "\n", id, name, b->refused_excess);
	OUT("bulkhead_vm_balloon_refused_total{vm=\"%s\",name=\"%s\",reason=\"duplicate\"} %"
	    PRIu64 "\n", id, name, b->refused_duplicate);
	OUT("bulkhead_vm_balloon_refused_total{vm=\"%s\",name=\"%s\",reason=\"malformed_stats\"} %"
	    PRIu64 "\n", id, name, b->refused_stats);
	for (unsigned t = 0; t < CTL_BALLOON_NSTATS; t++)
		if (b->stats_valid & (1u << t))
			OUT("bulkhead_vm_balloon_guest_stat{vm=\"%s\",name=\"%s\",stat=\"%s\"} %" PRIu64
			    "\n", id, name, ctl_balloon_stat_name(t), b->stats[t]);
#undef L
#undef OUT
	return len;
}

/* PUT /v1/vms/{id}/balloon {"target": "512M" | MiB}. */
void api_h_balloon(struct api_req *r)
{
	struct json_object *o = api_body_object(r), *t = NULL;
	char err[512] = "", num[32];
	const char *s;
	uint64_t bytes;
	int ret;

	if (!o || !json_object_object_get_ex(o, "target", &t) || json_object_object_length(o) != 1) {
		json_object_put(o);
		api_error(r, 400, "balloon needs a JSON object body: {\"target\": \"512M\"} "
				  "(a size, or an integer in MiB)");
		return;
	}
	if (json_object_is_type(t, json_type_int) && json_object_get_int64(t) >= 0) {
		snprintf(num, sizeof(num), "%lld", (long long)json_object_get_int64(t));
		s = num;
	} else if (json_object_is_type(t, json_type_string)) {
		s = json_object_get_string(t);
	} else {
		json_object_put(o);
		api_error(r, 400, "target: expected a size (\"512M\") or an integer in MiB");
		return;
	}
	ret = args_parse_size("target", s, 1ULL << 20, &bytes, err, sizeof(err));
	json_object_put(o);
	if (ret) {
		api_error(r, 400, "%s", err);
		return;
	}
	ret = dmn_balloon(r->d, r->uid, r->id, bytes, err, sizeof(err));
	if (api_reply_done(r, ret, err, "balloon target set") && r->json)
		add_u64(r->json, "target_bytes", bytes);
}
