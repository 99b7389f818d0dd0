// connect.{timeout_ms, deadline_ms, resolve, tls, pool, circuit}: checked
// whole at load, so a bad file path fails the config, not the first connect.
#include "connect/settings.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "json/json.hpp"
#include "util/error.hpp"

namespace sy {

namespace {

const char *const kConnectKeys[] = {"timeout_ms", "deadline_ms", "resolve", "tls", "pool",
                                    "circuit", nullptr};
const char *const kResolveKeys[] = {"ttl_ms", "cache_entries", nullptr};
const char *const kTlsKeys[] = {"ca_file", "ca_dir", "cert_file", "key_file", "server_name",
                                "insecure_skip_verify", nullptr};
const char *const kPoolKeys[] = {"max_idle", "idle_timeout_ms", "max_endpoints", nullptr};
const char *const kCircuitKeys[] = {"failures", "retry_ms", nullptr};

// An optional sub-object with known keys; *out NULL when absent.
int section(const cJSON *c, const char *key, const char *const *keys, Path &path,
            const cJSON **out, sy_error *err) {
    *out = cJSON_GetObjectItemCaseSensitive(c, key);
    if (!*out) return SY_OK;
    PathScope ps(path, key);
    if (!cJSON_IsObject(*out))
        return fail(err, SY_ECONFIG, path.c_str(), "expected an object, got %s",
                    json_type_name(*out));
    return json_check_keys(*out, keys, path, SY_ECONFIG, err);
}

int opt_u32(const cJSON *o, const char *key, Path &path, int64_t min, int64_t max, uint32_t *out,
            sy_error *err) {
    int64_t v = *out;
    if (int rc = json_opt_int(o, key, path, SY_ECONFIG, min, max, &v, err)) return rc;
    *out = static_cast<uint32_t>(v);
    return SY_OK;
}

// A TLS file or directory must be readable now.
int opt_path(const Alloc &a, const cJSON *o, const char *key, bool dir, Path &path, char **out,
             sy_error *err) {
    const char *s = nullptr;
    if (int rc = json_opt_string(o, key, path, SY_ECONFIG, &s, err)) return rc;
    if (!s) return SY_OK;
    PathScope ps(path, key);
    if (!*s) return fail(err, SY_ECONFIG, path.c_str(), "expected a non-empty path");
    if (access(s, dir ? (R_OK | X_OK) : R_OK) != 0)
        return fail(err, SY_ECONFIG, path.c_str(), "%.200s: %s", s, std::strerror(errno));
    if (!(*out = a.strdup(s))) return fail(err, SY_ENOMEM, path.c_str(), "out of memory");
    return SY_OK;
}

int parse(const Alloc &a, const cJSON *c, ConnectSettings *s, sy_error *err) {
    Path path("connect");
    if (!cJSON_IsObject(c))
        return fail(err, SY_ECONFIG, "connect", "expected an object, got %s", json_type_name(c));
    int rc = json_check_keys(c, kConnectKeys, path, SY_ECONFIG, err);
    if (!rc) rc = opt_u32(c, "timeout_ms", path, 1, 3600000, &s->timeout_ms, err);
    if (!rc) rc = opt_u32(c, "deadline_ms", path, 0, 86400000, &s->deadline_ms, err);
    if (rc) return rc;

    const cJSON *o = nullptr;
    if ((rc = section(c, "resolve", kResolveKeys, path, &o, err))) return rc;
    if (o) {
        PathScope ps(path, "resolve");
        if ((rc = opt_u32(o, "ttl_ms", path, 0, 86400000, &s->resolve_ttl_ms, err)) ||
            (rc = opt_u32(o, "cache_entries", path, 1, 65536, &s->resolve_cache, err)))
            return rc;
    }
    if ((rc = section(c, "pool", kPoolKeys, path, &o, err))) return rc;
    if (o) {
        PathScope ps(path, "pool");
        if ((rc = opt_u32(o, "max_idle", path, 0, 4096, &s->pool_max_idle, err)) ||
            (rc = opt_u32(o, "idle_timeout_ms", path, 1, 86400000, &s->pool_idle_timeout_ms,
                          err)) ||
            (rc = opt_u32(o, "max_endpoints", path, 1, 1 << 20, &s->max_endpoints, err)))
            return rc;
    }
    if ((rc = section(c, "circuit", kCircuitKeys, path, &o, err))) return rc;
    if (o) {
        PathScope ps(path, "circuit");
        if ((rc = opt_u32(o, "failures", path, 0, 1000000, &s->circuit_failures, err)) ||
            (rc = opt_u32(o, "retry_ms", path, 1, 86400000, &s->circuit_retry_ms, err)))
            return rc;
    }
    if ((rc = section(c, "tls", kTlsKeys, path, &o, err))) return rc;
    if (o) {
        PathScope ps(path, "tls");
        const char *sn = nullptr;
        if ((rc = opt_path(a, o, "ca_file", false, path, &s->ca_file, err)) ||
            (rc = opt_path(a, o, "ca_dir", true, path, &s->ca_dir, err)) ||
            (rc = opt_path(a, o, "cert_file", false, path, &s->cert_file, err)) ||
            (rc = opt_path(a, o, "key_file", false, path, &s->key_file, err)) ||
            (rc = json_opt_string(o, "server_name", path, SY_ECONFIG, &sn, err)) ||
            (rc = json_opt_bool(o, "insecure_skip_verify", path, SY_ECONFIG,
                                &s->insecure_skip_verify, err)))
            return rc;
        if (!s->cert_file != !s->key_file)
            return fail(err, SY_ECONFIG, path.c_str(),
                        "cert_file and key_file go together: %s is missing",
                        s->cert_file ? "key_file" : "cert_file");
        if (sn && !(s->server_name = a.strdup(sn)))
            return fail(err, SY_ENOMEM, path.c_str(), "out of memory");
    }
    return SY_OK;
}

} // namespace

int connect_settings_parse(const Alloc &a, const cJSON *c, ConnectSettings *out, sy_error *err) {
    ConnectSettings s;
    if (c) {
        if (int rc = parse(a, c, &s, err)) {
            connect_settings_free(a, &s);
            return rc;
        }
    }
    *out = s;
    return SY_OK;
}

void connect_settings_free(const Alloc &a, ConnectSettings *s) {
    for (char **p : {&s->ca_file, &s->ca_dir, &s->cert_file, &s->key_file, &s->server_name}) {
        a.strfree(*p);
        *p = nullptr;
    }
}

} // namespace sy
