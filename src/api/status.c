/* status.c — THE mapping from a daemon operation's -errno to an HTTP status
 * (see api.h). One table, so the same failure reads the same everywhere. */
#include "api/api.h"

#include <errno.h>

#include "common/compiler.h"

static const struct {
	int err;
	unsigned status;
} map[] = {
	{ 0, 200 },
	{ -EINPROGRESS, 202 },  /* accepted, not finished (kill: no exit seen yet) */
	{ -EINVAL, 400 },       /* a malformed request parameter */
	{ -ERANGE, 400 },       /* a value out of its range (a balloon above RAM) */
	{ -ENOENT, 404 },       /* no such VM — or another user's */
	{ -EACCES, 403 },       /* the caller may not read it (a snapshot path) */
	{ -EBUSY, 409 },        /* wrong state, or another operation in progress */
	{ -EEXIST, 409 },       /* name taken / ambiguous */
	{ -ENODEV, 409 },       /* the VM has no such device (no balloon) */
	{ -EBADMSG, 422 },      /* the VM configuration is invalid */
	{ -EDQUOT, 429 },       /* the caller's fair share is used up */
	{ -EIO, 500 },          /* the host failed (spawn, files) */
	{ -ESRCH, 500 },        /* the VM exited during the operation */
	{ -EPIPE, 502 },        /* the VMM went away */
	{ -EPROTO, 502 },       /* the VMM answered nonsense */
	{ -ECONNREFUSED, 502 }, /* the VMM does not listen */
	{ -ENOMEM, 503 },
	{ -ENOSPC, 503 },       /* the daemon's own table is full */
	{ -ENOTSUP, 503 },      /* no limit can be applied here: no VM is started */
	{ -ETIMEDOUT, 504 },    /* the VMM did not answer within the deadline */
};

unsigned api_status_of(int err)
{
	for (size_t i = 0; i < BH_ARRAY_SIZE(map); i++)
		if (map[i].err == err)
			return map[i].status;
	return err > 0 ? 200 : 500;
}
