/* dev_net.c — the virtio-net rows of the device table: one NIC per
 * vm_config.nets[] element. The backend descriptor comes from the
 * configuration: tap=IF is opened here, in the VM process before it enters
 * its jail (attach runs before jail_enter(); the jailed VMM then only holds
 * the fd), tapfd=/port= are taken from the named-fd table (--fd, or the
 * daemon's CTL_ATTACH_FD). The MAC is the configured one, or a locally
 * administered unicast address drawn from getrandom() (distinct per VM and
 * NIC). Port security (source MAC, ethertype on a host copy) runs here for
 * taps; a switch port gets it from the switch. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "backends/net_backend.h"
#include "config/args.h"
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
		be->fd = -1;
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
	} else if (cfg->mac[0])
		ret = args_parse_mac("mac", cfg->mac, p.mac, err, sizeof(err));
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
	p.port_security = be.kind == NET_BACKEND_TAP;
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

const struct vm_device_ops vm_virtio_net_ops = { .attach = net_attach, VIRTIO_ROW_OPS };
