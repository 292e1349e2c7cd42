/* SPDX-License-Identifier: MIT */
/*
 * Queueing a real-time signal to a process named by its identity (pid + start time), so that
 * a pid that was freed and reused never receives it: the process is pinned with a pidfd, and
 * only then is its identity checked. Once the pidfd is open it names one process for good.
 * If the process at the pid has the identity's start time at the check, the pidfd names it:
 * had the pinned process ended before the check, sending through the pidfd reaches nobody;
 * if it is still alive, the pid cannot have changed hands in between, so it is the process
 * checked.
 *
 * When the caller asks for proof that the process maps a file, its /proc/PID/maps is opened
 * after the pidfd and before the identity check, so by the same argument the maps consulted
 * are those of the process the pidfd names whenever the signal can arrive at all. (The
 * descriptor holds that process's address space as of the open; it shows the mappings as
 * they are when asked. After an exec the old address space is gone, and it shows none.)
 * Opening another process's maps takes PTRACE_MODE_READ: the same user and a dumpable
 * process, or CAP_SYS_PTRACE. Yama's ptrace_scope limits attaching only, not this.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../internal/sys.h"

bool ipcx__rt_signal_ok(int signo)
{
	return signo >= SIGRTMIN && signo <= SIGRTMAX;
}

/* Opens /proc/PID/maps; -errno when it cannot be. */
static int open_maps(pid_t pid)
{
	char path[32];
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/*
 * The verdict on a process (whose maps are open at mfd, or -errno) that is alive now:
 * 0 when it has the file mapped shared and writable, -ENXIO when it has not or when that
 * could not be read, -ESRCH when it turns out to have ended meanwhile. Closes mfd.
 */
static int maps_verdict(uint64_t id, int mfd, const struct ipcx__map_proof *f)
{
	int r = mfd;

	if (mfd >= 0) {
		r = ipcx__maps_has_file(mfd, &f->file, f->hint);
		ipcx__close(mfd);
		if (r == 1)
			return 0;
	}
	/* The maps of a process that ended while they were read are empty: tell it apart,
	 * so that its registration is freed as that of a dead process. */
	return ipcx__proc_alive(id) ? -ENXIO : -ESRCH;
}

/* Before pidfds (Linux 5.3): a check, then sigqueue; a pid reused in between is a risk. */
static int send_by_pid(uint64_t id, int signo, uint64_t value, const struct ipcx__map_proof *f)
{
	pid_t pid = ipcx__id_pid(id);
	union sigval v;
	int r;

	if (!ipcx__proc_alive(id))
		return -ESRCH;
	if (f) {
		r = maps_verdict(id, open_maps(pid), f);
		if (r < 0)
			return r;
	}
	v.sival_ptr = (void *)(uintptr_t)value;
	return sigqueue(pid, signo, v) < 0 ? -errno : 0;
}

int ipcx__proc_sigqueue(uint64_t id, int signo, uint64_t value,
                        const struct ipcx__map_proof *must_map)
{
	pid_t pid = ipcx__id_pid(id);
	int mfd = -EBADF;
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
		return send_by_pid(id, signo, value, must_map);
	}
	/* Between the pidfd and the identity check: see the comment at the top. */
	if (must_map)
		mfd = open_maps(pid);
	if (!ipcx__proc_alive(id)) {
		if (mfd >= 0)
			ipcx__close(mfd);
		ipcx__close((int)fd);
		return -ESRCH;
	}
	if (must_map) {
		r = maps_verdict(id, mfd, must_map);
		if (r < 0) {
			ipcx__close((int)fd);
			return (int)r;
		}
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
