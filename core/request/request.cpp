#include "request/request.hpp"

#include <cstdio>
#include <cstring>
#include <strings.h>

#include "hash/murmur3.hpp"
#include "router/router.hpp"
#include "util/error.hpp"

namespace sy {

namespace {

const struct {
    const char *name;
    uint32_t value;
} kConsistency[] = {
    {"ANY", SY_CONSISTENCY_ANY},
    {"ONE", SY_CONSISTENCY_ONE},
    {"TWO", SY_CONSISTENCY_TWO},
    {"THREE", SY_CONSISTENCY_THREE},
    {"QUORUM", SY_CONSISTENCY_QUORUM},
    {"ALL", SY_CONSISTENCY_ALL},
    {"LOCAL_QUORUM", SY_CONSISTENCY_LOCAL_QUORUM},
    {"EACH_QUORUM", SY_CONSISTENCY_EACH_QUORUM},
    {"SERIAL", SY_CONSISTENCY_SERIAL},
    {"LOCAL_SERIAL", SY_CONSISTENCY_LOCAL_SERIAL},
    {"LOCAL_ONE", SY_CONSISTENCY_LOCAL_ONE},
};

Request *as_mut(sy_request *q) { return reinterpret_cast<Request *>(q); }

// Makes room for len bytes (+NUL) in b; the old contents are not kept.
char *buf_reserve(const Alloc &a, Buf &b, size_t len) {
    if (len + 1 > b.cap) {
        size_t cap = b.cap ? b.cap : 32;
        while (cap < len + 1) cap *= 2;
        char *p = static_cast<char *>(a.alloc(cap, 1));
        if (!p) return nullptr;
        a.free(b.p, b.cap);
        b.p = p;
        b.cap = cap;
    }
    // Zero to the end of the word holding the NUL: plans compare names a
    // word at a time (sy_request_view.keyspace_len). cap is a power of two
    // >= 32, so the word is inside.
    std::memset(b.p + len, 0, 8 - len % 8);
    return b.p;
}

// Copies len bytes (+NUL) into b, growing it when needed.
const char *buf_set(const Alloc &a, Buf &b, const void *data, size_t len) {
    char *p = buf_reserve(a, b, len);
    if (p && len) std::memcpy(p, data, len);
    return p;
}

int set_string(Request *q, Buf &b, const char *s, const char **field, uint32_t flag, size_t *len = nullptr) {
    if (!s) {
        *field = nullptr;
        if (len) *len = 0;
        q->view.fields &= ~flag;
        return SY_OK;
    }
    size_t n = std::strlen(s);
    const char *p = buf_set(q->alloc, b, s, n);
    if (!p) return SY_ENOMEM;
    *field = p;
    if (len) *len = n;
    q->view.fields |= flag;
    return SY_OK;
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int set_key_bytes(Request *q, const void *key, size_t len) {
    const char *p = buf_set(q->alloc, q->key, key, len);
    if (!p) return SY_ENOMEM;
    q->view.key = reinterpret_cast<const uint8_t *>(p);
    q->view.key_len = len;
    q->view.token = murmur3_token(p, len);
    q->view.fields |= SY_REQ_KEY | SY_REQ_TOKEN;
    return SY_OK;
}

// The context's shape, the same for a parsed request and for
// sy_request_set_context_json: an object of objects named headers, session, query.
int check_context(const cJSON *ctx, Path &path, sy_error *err) {
    const int code = SY_EREQUEST;
    if (!cJSON_IsObject(ctx))
        return fail(err, code, path.c_str(), "expected an object, got %s", json_type_name(ctx));
    const char *const keys[] = {"headers", "session", "query", nullptr};
    if (int rc = json_check_keys(ctx, keys, path, code, err)) return rc;
    for (const cJSON *m = ctx->child; m; m = m->next) {
        if (!cJSON_IsObject(m)) {
            PathScope pm(path, m->string);
            return fail(err, code, path.c_str(), "expected an object, got %s", json_type_name(m));
        }
    }
    return SY_OK;
}

int parse_fields(Request *q, const cJSON *doc, sy_error *err) {
    const int code = SY_EREQUEST;
    Path path;
    if (!cJSON_IsObject(doc))
        return fail(err, code, "", "a request is a JSON object, got %s", json_type_name(doc));
    // Keys other than the core's are kept in the document for plugins; a key
    // given twice is refused (which one would count?).
    for (const cJSON *m = doc->child; m; m = m->next)
        for (const cJSON *o = doc->child; o != m; o = o->next)
            if (std::strcmp(o->string, m->string) == 0) {
                PathScope ps(path, m->string);
                return fail(err, code, path.c_str(), "duplicate key");
            }
    int rc;
    const cJSON *key = cJSON_GetObjectItemCaseSensitive(doc, "key");
    const cJSON *key_hex = cJSON_GetObjectItemCaseSensitive(doc, "key_hex");
    if (key && key_hex)
        return fail(err, code, "key_hex", "give either key or key_hex, not both");
    if (key) {
        if (!cJSON_IsString(key))
            return fail(err, code, "key", "expected a string, got %s", json_type_name(key));
        if ((rc = set_key_bytes(q, key->valuestring, std::strlen(key->valuestring))))
            return fail(err, rc, "key", "out of memory");
    }
    if (key_hex) {
        if (!cJSON_IsString(key_hex))
            return fail(err, code, "key_hex", "expected a hex string, got %s",
                        json_type_name(key_hex));
        const char *h = key_hex->valuestring;
        size_t n = std::strlen(h);
        if (n % 2) return fail(err, code, "key_hex", "odd number of hex digits");
        // Decode in place into the key buffer, then hash.
        if (!buf_reserve(q->alloc, q->key, n / 2)) return fail(err, SY_ENOMEM, "key_hex", "out of memory");
        for (size_t i = 0; i < n / 2; i++) {
            int hi = hex_value(h[2 * i]), lo = hex_value(h[2 * i + 1]);
            if (hi < 0 || lo < 0)
                return fail(err, code, "key_hex", "invalid hex digit at offset %zu",
                            hi < 0 ? 2 * i : 2 * i + 1);
            q->key.p[i] = static_cast<char>(hi * 16 + lo);
        }
        q->view.key = reinterpret_cast<const uint8_t *>(q->key.p);
        q->view.key_len = n / 2;
        q->view.token = murmur3_token(q->key.p, n / 2);
        q->view.fields |= SY_REQ_KEY | SY_REQ_TOKEN;
    }
    const cJSON *token = cJSON_GetObjectItemCaseSensitive(doc, "token");
    if (token) {
        PathScope ps(path, "token");
        int64_t t;
        if ((rc = json_int64(token, path, code, &t, err))) return rc;
        q->view.token = t; // an explicit token wins over the key's
        q->view.fields |= SY_REQ_TOKEN;
    }
    struct {
        const char *name;
        Buf *buf;
        const char **field;
        uint32_t flag;
        size_t *len;
    } strings[] = {
        {"keyspace", &q->keyspace, &q->view.keyspace, SY_REQ_KEYSPACE, &q->view.keyspace_len},
        {"table", &q->table, &q->view.table, SY_REQ_TABLE, nullptr},
        {"node", &q->node, &q->view.node, SY_REQ_NODE, nullptr},
    };
    for (auto &s : strings) {
        const char *v = nullptr;
        if ((rc = json_opt_string(doc, s.name, path, code, &v, err))) return rc;
        if (v && (rc = set_string(q, *s.buf, v, s.field, s.flag, s.len)))
            return fail(err, rc, s.name, "out of memory");
    }
    const cJSON *cons = cJSON_GetObjectItemCaseSensitive(doc, "consistency");
    if (cons) {
        uint32_t c = 0;
        if (cJSON_IsString(cons))
            for (auto &k : kConsistency)
                if (strcasecmp(k.name, cons->valuestring) == 0) c = k.value;
        if (!c)
            return fail(err, code, "consistency",
                        "expected a consistency level such as \"LOCAL_QUORUM\" or \"SERIAL\"");
        q->view.consistency = c;
        q->view.fields |= SY_REQ_CONSISTENCY;
    }
    bool lwt = false;
    if ((rc = json_opt_bool(doc, "lwt", path, code, &lwt, err))) return rc;
    if (cJSON_GetObjectItemCaseSensitive(doc, "lwt")) {
        q->view.lwt = lwt;
        q->view.fields |= SY_REQ_LWT;
    }
    const cJSON *entity = cJSON_GetObjectItemCaseSensitive(doc, "entity");
    if (entity) {
        PathScope ps(path, "entity");
        if (!cJSON_IsObject(entity))
            return fail(err, code, path.c_str(), "expected an object, got %s",
                        json_type_name(entity));
        const char *const keys[] = {"type", "id", nullptr};
        if ((rc = json_check_keys(entity, keys, path, code, err))) return rc;
        const char *type = nullptr, *id = nullptr;
        if ((rc = json_opt_string(entity, "type", path, code, &type, err))) return rc;
        const cJSON *idv = cJSON_GetObjectItemCaseSensitive(entity, "id");
        char num[32];
        if (cJSON_IsNumber(idv)) { // an integer id is its decimal text
            PathScope pi(path, "id");
            int64_t x;
            if ((rc = json_int64(idv, path, code, &x, err))) return rc;
            std::snprintf(num, sizeof num, "%lld", static_cast<long long>(x));
            id = num;
        } else if ((rc = json_opt_string(entity, "id", path, code, &id, err))) {
            return rc;
        }
        if (!type || !id) {
            PathScope pk(path, type ? "id" : "type");
            return fail(err, code, path.c_str(), "an entity needs a type and an id");
        }
        if (set_string(q, q->entity_type, type, &q->view.entity_type, SY_REQ_ENTITY, &q->view.entity_type_len) ||
            set_string(q, q->entity_id, id, &q->view.entity_id, SY_REQ_ENTITY, &q->view.entity_id_len))
            return fail(err, SY_ENOMEM, "entity", "out of memory");
    }
    const cJSON *ctx = cJSON_GetObjectItemCaseSensitive(doc, "context");
    if (ctx) {
        PathScope ps(path, "context");
        if ((rc = check_context(ctx, path, err))) return rc;
        q->view.context = reinterpret_cast<const sy_json *>(ctx);
        q->view.fields |= SY_REQ_CONTEXT;
    }
    return SY_OK;
}

} // namespace

Request::Request(const Alloc &a) : magic(kRequestMagic), alloc(a) {
    view.struct_size = sizeof(sy_request_view);
}

Request::~Request() {
    for (Buf *b : {&key, &keyspace, &table, &node, &entity_type, &entity_id}) alloc.free(b->p, b->cap);
    json_delete(alloc, document);
    json_delete(alloc, context);
    magic = 0;
}

bool valid_request(const sy_request *q) { return q && as_request(q)->magic == kRequestMagic; }

} // namespace sy

using namespace sy;

extern "C" {

SY_API int sy_request_new(sy_router *router, sy_request **out, sy_error *err) {
    if (!valid_router(router) || !out)
        return fail(err, SY_EINVAL, "", "sy_request_new: router and out are required");
    const Router *r = reinterpret_cast<const Router *>(router);
    Request *q = r->alloc.make<Request>(r->alloc);
    if (!q) return fail(err, SY_ENOMEM, "", "out of memory");
    *out = reinterpret_cast<sy_request *>(q);
    return SY_OK;
}

SY_API void sy_request_free(sy_request *req) {
    if (!valid_request(req)) return;
    Request *q = as_mut(req);
    Alloc a = q->alloc;
    a.destroy(q);
}

SY_API void sy_request_clear(sy_request *req) {
    if (!valid_request(req)) return;
    Request *q = as_mut(req);
    json_delete(q->alloc, q->document);
    json_delete(q->alloc, q->context);
    q->document = q->context = nullptr;
    q->view = sy_request_view{};
    q->view.struct_size = sizeof(sy_request_view);
}

SY_API int sy_request_parse_json(sy_request *req, const char *json, size_t len, sy_error *err) {
    if (!valid_request(req) || !json)
        return fail(err, SY_EINVAL, "", "sy_request_parse_json: request and json are required");
    Request *q = as_mut(req);
    sy_request_clear(req);
    cJSON *doc = nullptr;
    if (int rc = json_parse(q->alloc, json, len, SY_EREQUEST, "", &doc, err)) return rc;
    q->document = doc;
    q->view.document = reinterpret_cast<const sy_json *>(doc);
    int rc = parse_fields(q, doc, err);
    if (rc) sy_request_clear(req); // never half a request
    return rc;
}

SY_API int sy_request_set_key(sy_request *req, const void *key, size_t len) {
    if (!valid_request(req) || (!key && len)) return SY_EINVAL;
    return set_key_bytes(as_mut(req), key ? key : "", len);
}

SY_API int sy_request_set_token(sy_request *req, int64_t token) {
    if (!valid_request(req)) return SY_EINVAL;
    Request *q = as_mut(req);
    q->view.token = token;
    q->view.fields |= SY_REQ_TOKEN;
    return SY_OK;
}

SY_API int sy_request_set_keyspace(sy_request *req, const char *keyspace) {
    if (!valid_request(req)) return SY_EINVAL;
    Request *q = as_mut(req);
    return set_string(q, q->keyspace, keyspace, &q->view.keyspace, SY_REQ_KEYSPACE, &q->view.keyspace_len);
}

SY_API int sy_request_set_table(sy_request *req, const char *table) {
    if (!valid_request(req)) return SY_EINVAL;
    Request *q = as_mut(req);
    return set_string(q, q->table, table, &q->view.table, SY_REQ_TABLE);
}

SY_API int sy_request_set_consistency(sy_request *req, uint32_t consistency) {
    if (!valid_request(req) || consistency > SY_CONSISTENCY_LOCAL_ONE) return SY_EINVAL;
    Request *q = as_mut(req);
    q->view.consistency = consistency;
    if (consistency) q->view.fields |= SY_REQ_CONSISTENCY;
    else q->view.fields &= ~static_cast<uint32_t>(SY_REQ_CONSISTENCY);
    return SY_OK;
}

SY_API int sy_request_set_lwt(sy_request *req, int lwt) {
    if (!valid_request(req)) return SY_EINVAL;
    Request *q = as_mut(req);
    q->view.lwt = lwt != 0;
    q->view.fields |= SY_REQ_LWT;
    return SY_OK;
}

SY_API int sy_request_set_node(sy_request *req, const char *node) {
    if (!valid_request(req)) return SY_EINVAL;
    Request *q = as_mut(req);
    return set_string(q, q->node, node, &q->view.node, SY_REQ_NODE);
}

SY_API int sy_request_set_entity(sy_request *req, const char *type, const char *id) {
    if (!valid_request(req) || (!type) != (!id)) return SY_EINVAL;
    Request *q = as_mut(req);
    int rc = set_string(q, q->entity_type, type, &q->view.entity_type, SY_REQ_ENTITY, &q->view.entity_type_len);
    if (!rc) rc = set_string(q, q->entity_id, id, &q->view.entity_id, SY_REQ_ENTITY, &q->view.entity_id_len);
    return rc;
}

SY_API int sy_request_set_context_json(sy_request *req, const char *json, size_t len,
                                       sy_error *err) {
    if (!valid_request(req) || !json)
        return fail(err, SY_EINVAL, "", "sy_request_set_context_json: request and json are required");
    Request *q = as_mut(req);
    cJSON *ctx = nullptr;
    if (int rc = json_parse(q->alloc, json, len, SY_EREQUEST, "context", &ctx, err)) return rc;
    Path path("context");
    if (int rc = check_context(ctx, path, err)) {
        json_delete(q->alloc, ctx);
        return rc;
    }
    json_delete(q->alloc, q->context);
    q->context = ctx;
    q->view.context = reinterpret_cast<const sy_json *>(ctx);
    q->view.fields |= SY_REQ_CONTEXT;
    return SY_OK;
}
}
