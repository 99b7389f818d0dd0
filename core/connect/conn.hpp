// An open connection handed to the caller (sy_conn).
#pragma once
#include "connect/connector.hpp"

namespace sy {

struct Conn {
    uint32_t magic = kConnMagic;
    Connector *cx = nullptr;
    int fd = -1;
    net::TlsSession *tls = nullptr;
    bool reused = false;
    std::atomic<bool> broken{false}; // an I/O error: never pooled (a sender and a receiver may race to set it)
    uint32_t port = 0;
    uint32_t proxy_count = 0;
    char *pool_key = nullptr;  // endpoint + TLS + hops: which connections are interchangeable
    size_t pool_key_size = 0;
    Endpoint *endpoint = nullptr; // where it pools (mu held to use)
    uint64_t drain_gen = 0;       // endpoint->drain_gen when it was dialled
    uint64_t idle_since = 0;
    Conn *next_idle = nullptr;
    char node[256] = {};
    char host[256] = {};
    char peer[64] = {};

    explicit Conn(Connector *c) : cx(c) {}
};

// Closes the socket and TLS, drops the connector reference, frees.
void conn_destroy(Conn *c, bool notify);

inline bool valid_conn(const sy_conn *c) {
    return c && reinterpret_cast<const Conn *>(c)->magic == kConnMagic;
}

} // namespace sy
