// hiredis 0.14 (Debian libhiredis-dev) for Swift: the header as it is, plus accessors for the
// context's error fields (a fixed-size char array Swift sees as a tuple). Commands go through
// the argv forms (redisCommandArgv, redisAppendCommandArgv), which Swift can call.
#ifndef TESSERA_CHIREDIS_SHIM_H
#define TESSERA_CHIREDIS_SHIM_H
#include <hiredis/hiredis.h>

static inline int tessera_redis_error(const redisContext *c) { return c ? c->err : REDIS_ERR_OTHER; }

static inline const char *tessera_redis_error_text(const redisContext *c) {
  return c ? c->errstr : "no context";
}
#endif
