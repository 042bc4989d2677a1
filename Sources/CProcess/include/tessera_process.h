// Process helpers Swift cannot call directly (prctl and posix_spawn attributes).
#ifndef TESSERA_PROCESS_H
#define TESSERA_PROCESS_H

#include <sys/types.h>

/// Asks the kernel to send this process `signal` when its parent exits (Linux; elsewhere a
/// no-op). Returns 0 on success.
int tessera_exit_with_parent(int signal);

/// Unblocks every signal on the calling thread and restores the default action of SIGTERM,
/// SIGINT and SIGHUP: a process started from a thread that blocked or ignored them (Swift's
/// concurrency threads block signals, and children inherit the mask) can be stopped again.
void tessera_reset_signals(void);

/// Starts `path` with `argv` (NULL-terminated) and this environment, its signal mask empty
/// and SIGTERM, SIGINT and SIGHUP at their default actions; stdout and stderr go to
/// /dev/null when `quiet`. Returns the child's pid, or -1 with errno set.
pid_t tessera_spawn(const char *path, char *const argv[], int quiet);

#endif
