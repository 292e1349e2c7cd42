/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <string.h>

#include <ipcx/common.h>

/* The codes to which ipcx gives a meaning of its own. */
static const char *own_meaning(int err)
{
	switch (err) {
	case EBADMSG:
		return "not an ipcx object, or a corrupt or truncated one";
	case EPROTONOSUPPORT:
		return "ipcx object of an unknown layout version or kind";
	case EPROTOTYPE:
		return "ipcx object of another kind";
	case EUSERS:
		return "too many handles attached to the object";
	case EIDRM:
		return "the object was removed";
	case EOWNERDEAD:
		return "the previous owner died holding the lock";
	case ENOTRECOVERABLE:
		return "the lock is not recoverable";
	case EINPROGRESS:
		return "temporary file of a create in progress or interrupted";
	default:
		return NULL;
	}
}

const char *ipcx_strerror(int err)
{
	const char *s;

	if (err < 0)
		err = -err;
	s = own_meaning(err);
	/* strerror is not guaranteed thread-safe, but glibc's returns static strings for every
	 * known code; strerrordesc_np would be exact but is glibc 2.32+ only. */
	return s ? s : strerror(err);
}

#define E(x)                                                                                       \
	case x:                                                                                    \
		return #x
const char *ipcx_errname(int err)
{
	if (err < 0)
		err = -err;
	switch (err) {
		E(EPERM);
		E(ENOENT);
		E(ESRCH);
		E(EINTR);
		E(EIO);
		E(E2BIG);
		E(EBADF);
		E(EAGAIN);
		E(ENOMEM);
		E(EACCES);
		E(EFAULT);
		E(EBUSY);
		E(EEXIST);
		E(ENOTDIR);
		E(EISDIR);
		E(EINVAL);
		E(ENFILE);
		E(EMFILE);
		E(EFBIG);
		E(ENOSPC);
		E(EROFS);
		E(ERANGE);
		E(EDEADLK);
		E(ENAMETOOLONG);
		E(ENOSYS);
		E(ELOOP);
		E(ENOMSG);
		E(EIDRM);
		E(EBADMSG);
		E(EOVERFLOW);
		E(EUSERS);
		E(EMSGSIZE);
		E(EPROTOTYPE);
		E(EPROTONOSUPPORT);
		E(ENOTSUP);
		E(ETIMEDOUT);
		E(EINPROGRESS);
		E(ECANCELED);
		E(EOWNERDEAD);
		E(ENOTRECOVERABLE);
		E(EPIPE);
		E(ENODATA);
		E(ENOTEMPTY);
	default:
		return "E?";
	}
}
#undef E
