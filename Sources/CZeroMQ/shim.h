// libzmq (Debian libzmq3-dev) for Swift: the header as it is, plus helpers for the calls
// Swift cannot make directly (variadic or macro-defined).
#ifndef TESSERA_CZEROMQ_SHIM_H
#define TESSERA_CZEROMQ_SHIM_H
#include <zmq.h>

static inline int tessera_zmq_errno(void) { return zmq_errno(); }
#endif
