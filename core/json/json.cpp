#include "json/json.hpp"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <mutex>

namespace sy {

namespace {

thread_local const Alloc *tl_alloc = nullptr;
// Set when an allocation inside a scope fails: cJSON reports that as a parse
// error, and we must report it as SY_ENOMEM instead.
thread_local bool tl_alloc_failed = false;

// Header in front of scoped blocks: cJSON's free carries no size, ours needs it.
struct alignas(std::max_align_t) Header {
    size_t size;
};

void *hook_malloc(size_t size) {
    const Alloc *a = tl_alloc;
    if (!a) return std::malloc(size);
    auto *h = static_cast<Header *>(a->alloc(sizeof(Header) + size));
    if (!h) {
        tl_alloc_failed = true;
        return nullptr;
    }
    h->size = size;
    return h + 1;
}

void hook_free(void *p) {
    const Alloc *a = tl_alloc;
    if (!a) return std::free(p);
    if (!p) return;
    Header *h = static_cast<Header *>(p) - 1;
    a->free(h, sizeof(Header) + h->size);
}

std::once_flag hooks_once;

// Whether a failed parse is a document cut short: it ends inside a string
// that began at or before where cJSON stopped, or with brackets open and
// cJSON stopped at the last byte (where it puts every end of input).
bool cut_short(const char *text, size_t len, const char *pos) {
    long depth = 0;
    const char *string_start = nullptr;
    bool escaped = false;
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (string_start) {
            if (escaped) escaped = false;
            else if (c == '\\') escaped = true;
            else if (c == '"') string_start = nullptr;
        } else if (c == '"') {
            string_start = text + i;
        } else if (c == '{' || c == '[') {
            depth++;
        } else if (c == '}' || c == ']') {
            depth--;
        }
    }
    if (string_start) return pos >= string_start;
    return depth > 0 && pos == text + len - 1;
}

} // namespace

JsonScope::JsonScope(const Alloc &a) : prev_(tl_alloc) {
    std::call_once(hooks_once, [] {
        cJSON_Hooks hooks{hook_malloc, hook_free};
        cJSON_InitHooks(&hooks);
    });
    tl_alloc = &a;
}

JsonScope::~JsonScope() { tl_alloc = prev_; }

int json_parse(const Alloc &a, const char *text, size_t len, int code, const char *path,
               cJSON **out, sy_error *err) {
    if (!text) return fail(err, SY_EINVAL, path, "no JSON text given");
    JsonScope scope(a);
    const char *end = nullptr;
    tl_alloc_failed = false;
    cJSON *v = cJSON_ParseWithLengthOpts(text, len, &end, false);
    if (!v && tl_alloc_failed) return fail(err, SY_ENOMEM, path, "out of memory while parsing JSON");
    const char *pos = end ? end : text;
    bool parsed = v != nullptr; // then what follows is trailing garbage, not a cut
    if (v) {
        while (pos < text + len && (*pos == ' ' || *pos == '\t' || *pos == '\n' || *pos == '\r'))
            pos++;
        if (pos == text + len) {
            *out = v;
            return SY_OK;
        }
        cJSON_Delete(v);
        v = nullptr;
    }
    if (pos < text || pos > text + len) pos = text + len;
    // cJSON points at the last byte when the input simply stops; a document
    // that ends inside a string or with brackets still open was cut short.
    if (!parsed && len && cut_short(text, len, pos)) pos = text + len;
    bool blank = true;
    for (size_t i = 0; i < len && blank; i++)
        blank = text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r';
    size_t line = 1, col = 1;
    for (const char *c = text; c < pos; c++) {
        if (*c == '\n') {
            line++;
            col = 1;
        } else {
            col++;
        }
    }
    if (blank) return fail(err, code, path, "JSON syntax error at line %zu, column %zu: empty document", line, col);
    if (pos == text + len)
        return fail(err, code, path,
                    "JSON syntax error at line %zu, column %zu: unexpected end of input", line, col);
    return fail(err, code, path, "JSON syntax error at line %zu, column %zu, near '%c'", line, col,
                (*pos >= 32 && *pos < 127) ? *pos : '?');
}

void json_delete(const Alloc &a, cJSON *v) {
    if (!v) return;
    JsonScope scope(a);
    cJSON_Delete(v);
}

cJSON *json_duplicate(const Alloc &a, const cJSON *v) {
    JsonScope scope(a);
    return cJSON_Duplicate(v, true);
}

const char *json_type_name(const cJSON *v) {
    if (!v) return "nothing";
    if (cJSON_IsNull(v)) return "null";
    if (cJSON_IsBool(v)) return "a boolean";
    if (cJSON_IsNumber(v)) return "a number";
    if (cJSON_IsString(v)) return "a string";
    if (cJSON_IsArray(v)) return "an array";
    if (cJSON_IsObject(v)) return "an object";
    return "an invalid value";
}

int json_check_keys(const cJSON *obj, const char *const *allowed, Path &path, int code,
                    sy_error *err) {
    for (const cJSON *m = obj ? obj->child : nullptr; m; m = m->next) {
        bool ok = false;
        for (const char *const *k = allowed; *k && !ok; k++) ok = std::strcmp(*k, m->string) == 0;
        PathScope s(path, m->string);
        if (!ok) return fail(err, code, path.c_str(), "unknown key");
        for (const cJSON *o = obj->child; o != m; o = o->next)
            if (std::strcmp(o->string, m->string) == 0)
                return fail(err, code, path.c_str(), "duplicate key");
    }
    return SY_OK;
}

int json_opt_string(const cJSON *obj, const char *key, Path &path, int code, const char **out,
                    sy_error *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v) return SY_OK;
    if (!cJSON_IsString(v)) {
        PathScope s(path, key);
        return fail(err, code, path.c_str(), "expected a string, got %s", json_type_name(v));
    }
    *out = v->valuestring;
    return SY_OK;
}

int json_opt_bool(const cJSON *obj, const char *key, Path &path, int code, bool *out,
                  sy_error *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v) return SY_OK;
    if (!cJSON_IsBool(v)) {
        PathScope s(path, key);
        return fail(err, code, path.c_str(), "expected true or false, got %s", json_type_name(v));
    }
    *out = cJSON_IsTrue(v);
    return SY_OK;
}

int json_opt_int(const cJSON *obj, const char *key, Path &path, int code, int64_t min,
                 int64_t max, int64_t *out, sy_error *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v) return SY_OK;
    PathScope s(path, key);
    if (!cJSON_IsNumber(v))
        return fail(err, code, path.c_str(), "expected an integer in %lld..%lld, got %s",
                    static_cast<long long>(min), static_cast<long long>(max), json_type_name(v));
    double d = v->valuedouble;
    if (!(d >= static_cast<double>(min) && d <= static_cast<double>(max)) || std::floor(d) != d) {
        char got[40];
        if (std::floor(d) == d && std::fabs(d) < 9007199254740992.0)
            std::snprintf(got, sizeof got, "%lld", static_cast<long long>(d));
        else
            std::snprintf(got, sizeof got, "%.17g", d);
        return fail(err, code, path.c_str(), "expected an integer in %lld..%lld, got %s",
                    static_cast<long long>(min), static_cast<long long>(max), got);
    }
    *out = static_cast<int64_t>(d);
    return SY_OK;
}

int json_int64(const cJSON *v, Path &path, int code, int64_t *out, sy_error *err) {
    if (cJSON_IsString(v)) {
        const char *s = v->valuestring;
        char *end = nullptr;
        errno = 0;
        long long x = std::strtoll(s, &end, 10);
        if (!*s || *end || end == s || std::isspace(static_cast<unsigned char>(*s)))
            return fail(err, code, path.c_str(), "expected a signed 64-bit integer, got \"%.40s\"",
                        s);
        if (errno == ERANGE)
            return fail(err, code, path.c_str(), "\"%.40s\" is outside the signed 64-bit range", s);
        *out = x;
        return SY_OK;
    }
    if (cJSON_IsNumber(v)) {
        double d = v->valuedouble;
        // JSON numbers travel as doubles: from 2^53 on, 2^53+1 reads as 2^53.
        if (std::floor(d) != d || std::fabs(d) >= 9007199254740992.0)
            return fail(err, code, path.c_str(),
                        "%g is not an exact integer; give 64-bit values as strings", d);
        *out = static_cast<int64_t>(d);
        return SY_OK;
    }
    return fail(err, code, path.c_str(), "expected an integer (string or number), got %s",
                json_type_name(v));
}

} // namespace sy
