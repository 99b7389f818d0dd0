// The config's "connect" section, parsed once at router creation.
#pragma once
#include <cjson/cJSON.h>
#include <switchyard/switchyard.h>

#include "util/alloc.hpp"

namespace sy {

struct ConnectSettings {
    uint32_t timeout_ms = 2000;       // per attempt
    uint32_t deadline_ms = 0;         // whole connect; 0: none beyond the attempts'
    uint32_t resolve_ttl_ms = 30000;  // DNS answers are reused this long
    uint32_t resolve_cache = 256;     // names cached at once
    uint32_t pool_max_idle = 8;       // idle connections kept per endpoint; 0: no pooling
    uint32_t pool_idle_timeout_ms = 60000;
    uint32_t circuit_failures = 5;    // consecutive failures that open a circuit; 0: off
    uint32_t circuit_retry_ms = 10000; // how long an open circuit waits for its probe
    uint32_t max_endpoints = 4096;    // endpoints tracked (stats, circuits, pools)
    // connect.tls: defaults under every target's own profile (owned strings).
    char *ca_file = nullptr;
    char *ca_dir = nullptr;
    char *cert_file = nullptr;
    char *key_file = nullptr;
    char *server_name = nullptr;
    bool insecure_skip_verify = false;
};

// c may be NULL (all defaults). Errors name the path under "connect".
int connect_settings_parse(const Alloc &a, const cJSON *c, ConnectSettings *out, sy_error *err);
void connect_settings_free(const Alloc &a, ConnectSettings *s);

} // namespace sy
