// The services table plugins reach the host through (sy_host).
#include <cstdio>

#include "connect/connector.hpp"
#include "hash/murmur3.hpp"
#include "resolve/resolver.hpp"
#include "router/router.hpp"

namespace sy {

namespace {
std::atomic<uint64_t> g_seed{0x9e3779b97f4a7c15ull};
// initial-exec: a plain %fs-relative load instead of __tls_get_addr on
// every plan (8 bytes of the static TLS surplus glibc keeps for dlopen).
thread_local uint64_t tl_random __attribute__((tls_model("initial-exec"))) = 0;

// A thread's first draw, out of line: random_u64 stays a leaf without a frame.
[[gnu::noinline, gnu::cold]] uint64_t random_seed_thread() {
    return tl_random = g_seed.fetch_add(0x9e3779b97f4a7c15ull) ^ mono_ns() ^ 1;
}
} // namespace

// splitmix64 per thread, seeded from a process-wide counter and the clock.
// The connector draws from it too (a random address among a name's answers).
uint64_t random_u64() {
    uint64_t state = tl_random;
    if (__builtin_expect(!state, 0)) state = random_seed_thread();
    uint64_t z = (tl_random = state + 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

namespace {

const HostCtx *ctx(const sy_host *h) { return reinterpret_cast<const HostCtx *>(h); }

void *h_alloc(const sy_host *h, size_t size, size_t align) {
    return ctx(h)->router->alloc.alloc(size, align ? align : alignof(std::max_align_t));
}

void h_free(const sy_host *h, void *p, size_t size) { ctx(h)->router->alloc.free(p, size); }

void h_log(const sy_host *h, uint32_t level, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    router_vlog(ctx(h)->router, level, h->plugin_name, fmt, ap);
    va_end(ap);
}

int h_log_enabled(const sy_host *h, uint32_t level) {
    const Router *r = ctx(h)->router;
    return r->log_fn && level <= r->log_level;
}

void h_set_error(sy_error *err, int code, const char *path, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vfail(err, code, path, fmt, ap);
    va_end(ap);
}

uint64_t h_now_ns(const sy_host *h) { return router_now(ctx(h)->router); }

uint64_t h_random(const sy_host *) { return random_u64(); }

const cJSON *cj(const sy_json *v) { return reinterpret_cast<const cJSON *>(v); }

// cJSON's type bits, read inline: plugins walk request JSON on every plan,
// and each cJSON_IsX is a call into the library.
int kind(const cJSON *j) { return j ? j->type & 0xFF : cJSON_Invalid; }
bool is_container(const cJSON *j) { return kind(j) == cJSON_Array || kind(j) == cJSON_Object; }

uint32_t h_json_type(const sy_json *v) {
    switch (kind(cj(v))) {
    case cJSON_NULL: return SY_JSON_NULL;
    case cJSON_False: return SY_JSON_FALSE;
    case cJSON_True: return SY_JSON_TRUE;
    case cJSON_Number: return SY_JSON_NUMBER;
    case cJSON_String: return SY_JSON_STRING;
    case cJSON_Array: return SY_JSON_ARRAY;
    case cJSON_Object: return SY_JSON_OBJECT;
    default: return SY_JSON_MISSING;
    }
}

const sy_json *h_json_get(const sy_json *o, const char *key) {
    if (kind(cj(o)) != cJSON_Object || !key) return nullptr;
    return reinterpret_cast<const sy_json *>(cJSON_GetObjectItemCaseSensitive(cj(o), key));
}

size_t h_json_count(const sy_json *v) {
    const cJSON *j = cj(v);
    if (!is_container(j)) return 0;
    size_t n = 0;
    for (const cJSON *c = j->child; c; c = c->next) n++;
    return n;
}

const sy_json *h_json_at(const sy_json *v, size_t i) {
    const cJSON *j = cj(v);
    if (!is_container(j)) return nullptr;
    const cJSON *c = j->child;
    while (c && i--) c = c->next;
    return reinterpret_cast<const sy_json *>(c);
}

const char *h_json_key(const sy_json *v) { return cj(v) ? cj(v)->string : nullptr; }

const char *h_json_string(const sy_json *v) {
    return kind(cj(v)) == cJSON_String ? cj(v)->valuestring : nullptr;
}

double h_json_number(const sy_json *v) {
    return kind(cj(v)) == cJSON_Number ? cj(v)->valuedouble : 0.0;
}

int h_json_parse(const sy_host *h, const char *text, size_t len, sy_json **out, sy_error *err) {
    if (!out) return fail(err, SY_EINVAL, "", "json_parse: out is NULL");
    cJSON *v = nullptr;
    if (int rc = json_parse(ctx(h)->router->alloc, text, len, SY_EINVAL, "", &v, err)) return rc;
    *out = reinterpret_cast<sy_json *>(v);
    return SY_OK;
}

void h_json_free(const sy_host *h, sy_json *v) {
    json_delete(ctx(h)->router->alloc, reinterpret_cast<cJSON *>(v));
}

const sy_json *h_json_first(const sy_json *v) {
    const cJSON *c = cj(v);
    return is_container(c) ? reinterpret_cast<const sy_json *>(c->child) : nullptr;
}

const sy_json *h_json_next(const sy_json *v) {
    return cj(v) ? reinterpret_cast<const sy_json *>(cj(v)->next) : nullptr;
}

int h_republish(const sy_host *h, sy_error *err) {
    return router_republish(ctx(h)->router, err);
}

int h_resolve(const sy_host *h, const char *name, size_t index, sy_endpoint *out, char *buf,
              size_t buf_size, sy_error *err) {
    Router *r = ctx(h)->router;
    return resolver_lookup(r, r->resolver, name, index, out, buf, buf_size, err);
}

int h_drain_endpoint(const sy_host *h, const char *hostname, uint32_t port) {
    if (!hostname || !*hostname || port < 1 || port > 65535) return SY_EINVAL;
    // A router always has its connector once plugins run; NULL only in a
    // core built without one, where nothing is pooled to drain.
    Connector *c = ctx(h)->router->connector;
    return c ? connector_drain(c, hostname, port) : SY_OK;
}

} // namespace

void host_init(HostCtx *c, Router *r, const char *plugin_name) {
    sy_host &h = c->host;
    h = sy_host{};
    h.struct_size = sizeof(sy_host);
    h.version = SY_HOST_VERSION;
    h.alloc = h_alloc;
    h.free = h_free;
    h.log = h_log;
    h.log_enabled = h_log_enabled;
    h.set_error = h_set_error;
    h.now_ns = h_now_ns;
    h.random_u64 = h_random;
    h.murmur3_token = murmur3_token;
    h.json_type = h_json_type;
    h.json_get = h_json_get;
    h.json_count = h_json_count;
    h.json_at = h_json_at;
    h.json_key = h_json_key;
    h.json_string = h_json_string;
    h.json_number = h_json_number;
    h.json_parse = h_json_parse;
    h.json_free = h_json_free;
    h.plugin_name = plugin_name;
    h.republish = h_republish;
    h.resolve = h_resolve;
    h.json_first = h_json_first;
    h.json_next = h_json_next;
    h.drain_endpoint = h_drain_endpoint;
    c->router = r;
}

} // namespace sy
