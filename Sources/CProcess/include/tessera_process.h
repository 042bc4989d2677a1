// Process helpers Swift cannot call directly (prctl is variadic).
#ifndef TESSERA_PROCESS_H
#define TESSERA_PROCESS_H

/// Asks the kernel to send this process `signal` when its parent exits (Linux; elsewhere a
/// no-op). Returns 0 on success.
int tessera_exit_with_parent(int signal);

#endif
