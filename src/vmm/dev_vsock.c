/* dev_vsock.c — the virtio-vsock row of the device table: its attach (the
 * listening socket and the broker channel, both opened before the jail) and
 * its resume (the host sockets are watched again). See virtio/vsock.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "virtio/vsock.h"
#include "vmm/devices_priv.h"
#include "vmm/fd_table.h"

/* A listening unix socket at path. A stale socket file (a VM that ended
 * without removing it) is replaced; anything else there is an error. */
static int vsock_listen(struct vm *vm, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, ret;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		vm->err_is_config = true;
		snprintf(vm->err, sizeof(vm->err), "--vsock socket=%.200s: longer than %zu bytes",
			 path, sizeof(sa.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			vm->err_is_config = true;
			snprintf(vm->err, sizeof(vm->err),
				 "--vsock socket=%.200s: exists and is not a socket", path);
			return -EEXIST;
		}
		(void)unlink(path);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 64) < 0) {
		ret = -errno;
		close(fd);
		vm->err_is_config = ret != -ENOMEM;
		snprintf(vm->err, sizeof(vm->err), "--vsock socket=%.200s: %s", path,
			 strerror(-ret));
		return ret;
	}
	return fd;
}

static int vsock_attach(struct vm *vm, struct vm_device *d)
{
	const struct vm_vsock_config *vc = &vm->cfg.vsock;
	struct virtio_vsock_params p = {
		.guest_cid = vc->cid,
		.listen_fd = -1,
		.broker_fd = -1,
		.max_conns = VSOCK_MAX_CONNS_DEFAULT,
		.buf_size = VSOCK_BUF_SIZE_DEFAULT,
	};
	struct virtio_vsock *vs;
	int ret, fl;

	/* Handed in (the daemon made it in the VM's state directory), or ours. */
	if (vm->fds && (p.listen_fd = fd_table_take(vm->fds, BH_FD_VSOCK_LISTEN)) >= 0) {
		fl = fcntl(p.listen_fd, F_GETFL);
		if (fl < 0 || fcntl(p.listen_fd, F_SETFL, fl | O_NONBLOCK) < 0) {
			ret = -errno;
			close(p.listen_fd);
			return ret;
		}
	} else if ((p.listen_fd = vsock_listen(vm, vc->socket)) < 0) {
		return p.listen_fd;
	}
	if (vm->fds)
		p.broker_fd = fd_table_take(vm->fds, BH_FD_VSOCK_BROKER);
	if (p.broker_fd < 0)
		p.broker_fd = -1; /* guest→host connections are all refused */
	if ((ret = virtio_vsock_create(&vs, &vm->mem, &vm->el, &p)))
		return ret;
	d->obj = virtio_vsock_dev(vs);
	return 0;
}

static void vsock_resume(struct vm *vm, struct vm_device *d)
{
	struct virtio_dev *vd = d->obj;

	vm_virtio_resume(vm, d);
	virtio_vsock_host_resume(virtio_vsock_of(vd));
}

/* VIRTIO_ROW_OPS, with a resume of its own. */
const struct vm_device_ops vm_virtio_vsock_ops = {
	.attach = vsock_attach,
	.plug = vm_virtio_plug,
	.quiesce = vm_virtio_quiesce,
	.resume = vsock_resume,
	.state_version = VIRTIO_PCI_STATE_VERSION,
	.save = vm_virtio_save,
	.load = vm_virtio_load,
	.destroy = vm_virtio_destroy,
};
