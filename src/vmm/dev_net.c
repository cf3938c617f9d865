/* dev_net.c — the virtio-net rows of the device table: one NIC per
 * vm_config.nets[] element. The backend descriptor comes from the
 * configuration: tap=IF is opened here, in the VM process before it enters
 * its jail (attach runs before jail_enter(); the jailed VMM then only holds
 * the fd), tapfd=/port= are taken from the named-fd table (--fd, or the
 * daemon's CTL_ATTACH_FD). The MAC is the configured one, or a locally
 * administered unicast address drawn from getrandom() (distinct per VM and
 * NIC). Port security runs here for taps — src/net's net_frame_parse +
 * net_port_check on the device's host copy of the frame's headers (source
 * MAC, ethertype, ARP/NDP announcing someone else, router advertisements) —
 * and in the switch for ports. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "backends/net_backend.h"
#include "common/log.h"
#include "config/args.h"
#include "net/frame.h"
#include "virtio/net.h"
#include "vmm/devices_priv.h"
#include "vmm/fd_table.h"

/* 02:xx:xx:xx:xx:xx: locally administered, unicast, random. */
static int default_mac(uint8_t mac[6])
{
	if (getrandom(mac, 6, 0) != 6)
		return -EIO;
	mac[0] = (uint8_t)((mac[0] & 0xfc) | 0x02);
	return 0;
}

/* virtio_net_tx_check_fn for a tap: the frame as the device copied it. */
static int tap_tx_check(void *ctx, const uint8_t mac[6], const uint8_t *frame, size_t head_len,
			size_t frame_len)
{
	struct net_port_id *id = ctx;

	memcpy(id->mac, mac, 6);
	/* past head_len the view is zeros: a verdict that would rest on them
	 * (an ICMPv6 header pushed there by extension headers) is refused */
	return (int)net_port_check_head(id, frame, head_len, frame_len, NULL, NULL);
}

_Static_assert(NET_DROP__COUNT <= VIRTIO_NET_TX_REASONS, "virtio-net counts every reason");

/* Open or take the NIC's descriptor. 0 or -errno with err filled. */
static int open_backend(struct vm *vm, const struct vm_net *cfg, struct net_backend *be,
			char *err, size_t errlen)
{
	const char *name = cfg->tapfd ? cfg->tapfd : cfg->port;
	int fd, ret;

	if (cfg->tap)
		return net_backend_open_tap(be, cfg->tap, err, errlen);
	if (!name && cfg->switch_seg) {
		/* `bulkhead run` turns switch=SEG into a port (cli/run_switch.c);
		 * nothing else makes switch ports yet */
		snprintf(err, errlen, "switch=%s: switch ports are made by `bulkhead run` "
			 "(this VM was started without one)", cfg->switch_seg);
		return -EINVAL;
	}
	if (!name) {
		snprintf(err, errlen, "no backend (tap, tapfd or port)");
		return -EINVAL;
	}
	fd = vm->fds ? fd_table_find(vm->fds, name) : -ENOENT;
	if (fd < 0) {
		snprintf(err, errlen, "%s=%s: no descriptor named %s (pass it with --fd %s=N)",
			 cfg->tapfd ? "tapfd" : "port", name, name, name);
		return -ENOENT;
	}
	ret = cfg->tapfd ? net_backend_adopt_tap(be, fd, name, err, errlen)
			 : net_backend_adopt_port(be, fd, name, err, errlen);
	if (ret)
		return ret;
	/* The device owns it now. */
	if (fd_table_take(vm->fds, name) != fd) {
		snprintf(err, errlen, "%s: descriptor table changed under us", name);
		be->fd = -1; /* the table's */
		net_backend_close(be);
		return -EBUSY;
	}
	return 0;
}

static int net_attach(struct vm *vm, struct vm_device *d)
{
	const struct vm_net *cfg = &vm->cfg.nets[d->index];
	struct virtio_net_params p = { .mtu = (uint16_t)cfg->mtu, .index = d->index };
	struct net_backend be = { .fd = -1 };
	char err[sizeof(vm->err) / 2];
	struct virtio_net *n;
	int ret;

	err[0] = '\0';
	if (cfg->mtu < 68 || cfg->mtu > 65535) {
		snprintf(err, sizeof(err), "mtu %u: must be 68-65535", cfg->mtu);
		ret = -EINVAL;
	} else if (cfg->mac[0]) {
		ret = args_parse_mac("mac", cfg->mac, p.mac, err, sizeof(err));
		p.mac_configured = true;
	}
	else
		ret = default_mac(p.mac);
	if (!ret)
		ret = open_backend(vm, cfg, &be, err, sizeof(err));
	if (ret) {
		vm->err_is_config = ret != -ENOMEM;
		snprintf(vm->err, sizeof(vm->err), "--net (NIC %u): %s", d->index,
			 err[0] ? err : strerror(-ret));
		return ret;
	}
	if (be.kind == NET_BACKEND_TAP) {
		struct net_port_id *id = calloc(1, sizeof(*id));

		if (!id) {
			net_backend_close(&be);
			return -ENOMEM;
		}
		memcpy(id->mac, p.mac, 6);
		p.tx_check = tap_tx_check;
		p.tx_check_ctx = id;
		p.tx_ctx_free = free;
	}
	if ((ret = virtio_net_create(&n, &p, &be, &vm->mem, &vm->el)))
		return ret;
	d->obj = virtio_net_dev(n);
	return 0;
}

unsigned vm_devices_net_stats(struct vm *vm, struct virtio_net_stats *out, unsigned max)
{
	struct vm_devices *ds = devs(vm);
	unsigned n = 0;

	for (unsigned i = 0; ds && i < ds->ndev && n < max; i++) {
		struct virtio_net *net;

		if (ds->dev[i].row->ops != &vm_virtio_net_ops || !ds->dev[i].obj)
			continue;
		if ((net = virtio_net_of(ds->dev[i].obj)))
			virtio_net_stats(net, &out[n++]);
	}
	return n;
}

/* "tx_malformed=1 spoof_mac=2" for the non-zero drop counters. */
static void drops_text(const struct virtio_net_stats *st, char *buf, size_t len)
{
	static const struct {
		const char *name;
		size_t off;
	} named[] = {
#define C(f) { #f, offsetof(struct virtio_net_stats, f) }
		C(tx_malformed), C(tx_oversize), C(tx_bad_hdr), C(tx_backend),
		C(rx_malformed), C(rx_gso_refused), C(rx_too_small),
#undef C
	};
	size_t l = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < BH_ARRAY_SIZE(named); i++) {
		uint64_t v;

		memcpy(&v, (const char *)st + named[i].off, sizeof(v));
		if (v && l < len)
			l += (size_t)snprintf(buf + l, len - l, " %s=%llu", named[i].name,
					      (unsigned long long)v);
	}
	for (unsigned r = 1; r < VIRTIO_NET_TX_REASONS; r++)
		if (st->tx_refused[r] && l < len)
			l += (size_t)snprintf(buf + l, len - l, " tx_%s=%llu",
					      net_drop_name((enum net_drop)r),
					      (unsigned long long)st->tx_refused[r]);
	if (!buf[0])
		snprintf(buf, len, " none");
}

void vm_devices_net_log(struct vm *vm)
{
	struct virtio_net_stats st[VM_MAX_NETS];
	unsigned n = vm_devices_net_stats(vm, st, VM_MAX_NETS);
	char drops[512];

	for (unsigned i = 0; i < n; i++) {
		drops_text(&st[i], drops, sizeof(drops));
		bh_info("virtio-net%u: rx %llu frames %llu bytes, tx %llu frames %llu bytes, "
			"rx stalls %llu; drops:%s", i, (unsigned long long)st[i].rx_frames,
			(unsigned long long)st[i].rx_bytes, (unsigned long long)st[i].tx_frames,
			(unsigned long long)st[i].tx_bytes, (unsigned long long)st[i].rx_stalls,
			drops);
	}
}

const struct vm_device_ops vm_virtio_net_ops = { .attach = net_attach, VIRTIO_ROW_OPS };
