#include "tessera_process.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <unistd.h>

#if defined(__linux__)
#include <sys/prctl.h>

int tessera_exit_with_parent(int signal) { return prctl(PR_SET_PDEATHSIG, signal); }
#else
int tessera_exit_with_parent(int signal) { (void)signal; return 0; }
#endif

static const int stop_signals[] = {SIGTERM, SIGINT, SIGHUP};

void tessera_reset_signals(void) {
  sigset_t none;
  sigemptyset(&none);
  pthread_sigmask(SIG_SETMASK, &none, 0);
  for (unsigned i = 0; i < sizeof stop_signals / sizeof stop_signals[0]; i++) {
    signal(stop_signals[i], SIG_DFL);
  }
}

extern char **environ;

pid_t tessera_spawn(const char *path, char *const argv[], int quiet) {
  posix_spawnattr_t attributes;
  posix_spawn_file_actions_t actions;
  posix_spawnattr_init(&attributes);
  posix_spawn_file_actions_init(&actions);
  sigset_t none, defaults;
  sigemptyset(&none);
  sigemptyset(&defaults);
  for (unsigned i = 0; i < sizeof stop_signals / sizeof stop_signals[0]; i++) {
    sigaddset(&defaults, stop_signals[i]);
  }
  posix_spawnattr_setsigmask(&attributes, &none);
  posix_spawnattr_setsigdefault(&attributes, &defaults);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  if (quiet) {
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  }
  pid_t pid = -1;
  const int status = posix_spawn(&pid, path, &actions, &attributes, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  return status == 0 ? pid : -1;
}
