// The NNG surface agentic uses: core API plus the req/rep and pub/sub protocols.
#ifndef AGENTIC_CNNG_SHIM_H
#define AGENTIC_CNNG_SHIM_H
#include <nng/nng.h>
#include <nng/supplemental/util/platform.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/pubsub0/pub.h>
#include <nng/protocol/pubsub0/sub.h>
#endif
