// Standalone Asio as the core uses it: no exceptions (an error_code on every
// call), so the one hook Asio needs then is defined in connect/io.cpp.
#pragma once
#include <asio.hpp>

#include <cstdlib>

#include "connect/connector.hpp"

// Asio reports errors through error_code overloads, which this code uses
// everywhere; the throwing paths it still instantiates end the process.
namespace asio::detail {
template <typename Exception> void throw_exception(const Exception &) { std::abort(); }
} // namespace asio::detail

namespace sy {

// Copies up to kMaxAddrs resolver answers, IPv4 first (loopback servers
// usually listen there), with port set. SY_ECONNECT when none.
int addrs_from_results(const asio::ip::tcp::resolver::results_type &r, uint32_t port, Addrs *out,
                       char *msg, size_t msg_size);

} // namespace sy
