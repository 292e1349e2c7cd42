/* SPDX-License-Identifier: MIT */
/*
 * Queueing a real-time signal to a process named by its identity (pid + start time), so that
 * a pid that was freed and reused never receives it: the process is pinned with a pidfd, and
 * only then is its identity checked. Once the pidfd is open it names one process for good; if
 * that process is the one registered, it was the one alive at the pid when the pidfd was
 * opened (it was alive before, when it registered, and is alive after, at the check).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../internal/sys.h"

bool ipcx__rt_signal_ok(int signo)
{
	return signo >= SIGRTMIN && signo <= SIGRTMAX;
}

/* Before pidfds (Linux 5.3): a check, then sigqueue; a pid reused in between is a risk. */
static int send_by_pid(uint64_t id, int signo, uint64_t value)
{
	union sigval v;

	if (!ipcx__proc_alive(id))
		return -ESRCH;
	v.sival_ptr = (void *)(uintptr_t)value;
	return sigqueue(ipcx__id_pid(id), signo, v) < 0 ? -errno : 0;
}

int ipcx__proc_sigqueue(uint64_t id, int signo, uint64_t value)
{
	pid_t pid = ipcx__id_pid(id);
	siginfo_t si;
	long fd, r;

	/* Checked here too, whatever the caller checked: this is the one place that sends. */
	if (!ipcx__rt_signal_ok(signo))
		return -EINVAL;
	if (id == 0 || pid <= 0)
		return -ESRCH;
	fd = syscall(SYS_pidfd_open, pid, 0);
	if (fd < 0) {
		if (errno == ESRCH || errno == EINVAL)
			return -ESRCH; /* no such process (or the pid of a thread) */
		/* No pidfds in this kernel, or out of descriptors or memory: a live registrant
		 * must not be taken for a dead one, so fall back to the racy way. */
		return send_by_pid(id, signo, value);
	}
	if (!ipcx__proc_alive(id)) {
		ipcx__close((int)fd);
		return -ESRCH;
	}
	/* What sigqueue(3) sends: SI_QUEUE, with the sender's pid and real uid. */
	memset(&si, 0, sizeof(si));
	si.si_signo = signo;
	si.si_code = SI_QUEUE;
	si.si_pid = getpid();
	si.si_uid = getuid();
	si.si_value.sival_ptr = (void *)(uintptr_t)value;
	r = syscall(SYS_pidfd_send_signal, (int)fd, signo, &si, 0);
	r = r < 0 ? -errno : 0;
	ipcx__close((int)fd);
	/* The process ended between the check and the send. */
	return r == -ESRCH ? -ESRCH : (int)r;
}
