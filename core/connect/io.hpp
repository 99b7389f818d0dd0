// The asynchronous engine: one Asio io_context per router, run by a library
// thread or by the application (sy_router_run_once).
#pragma once
#include "connect/connector.hpp"

namespace asio {
class io_context;
}

namespace sy {

// Stops the engine; connects still pending complete with SY_ECANCELED.
void io_shutdown(Connector *c);

// For other users of the engine (plan/wait.cpp): the engine, started on
// first use; its context; and a function run once when it stops, after its
// last handler and before its context is freed (to cancel what waits there).
struct Io;
Io *io_acquire(Connector *c, sy_error *err);
asio::io_context &io_context(Io *io);
void io_at_stop(Io *io, void (*fn)(void *), void *data);

} // namespace sy
