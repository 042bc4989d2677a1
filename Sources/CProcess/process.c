#include "tessera_process.h"

#if defined(__linux__)
#include <sys/prctl.h>

int tessera_exit_with_parent(int signal) { return prctl(PR_SET_PDEATHSIG, signal); }
#else
int tessera_exit_with_parent(int signal) { (void)signal; return 0; }
#endif
