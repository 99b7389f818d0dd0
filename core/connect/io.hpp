// The asynchronous engine: one Asio io_context per router, run by a library
// thread or by the application (sy_router_run_once).
#pragma once
#include "connect/connector.hpp"

namespace sy {

// Stops the engine; connects still pending complete with SY_ECANCELED.
void io_shutdown(Connector *c);

} // namespace sy
