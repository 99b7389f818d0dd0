// cJSON behind the router's allocator, and typed reads that fail with a path.
#pragma once
#include <cjson/cJSON.h>

#include "util/alloc.hpp"
#include "util/error.hpp"

namespace sy {

// While alive, cJSON allocations and frees on this thread use `a`. Outside any
// scope cJSON behaves exactly as without switchyard (plain malloc/free), so
// applications sharing libcjson are unaffected.
class JsonScope {
public:
    explicit JsonScope(const Alloc &a);
    ~JsonScope();
    JsonScope(const JsonScope &) = delete;
    JsonScope &operator=(const JsonScope &) = delete;

private:
    const Alloc *prev_;
};

// Parses exactly len bytes into *out. A syntax error returns `code` with
// "JSON syntax error at line L, column C" at `path` in err; an allocation
// failure returns SY_ENOMEM.
int json_parse(const Alloc &a, const char *text, size_t len, int code, const char *path,
               cJSON **out, sy_error *err);
void json_delete(const Alloc &a, cJSON *v);
cJSON *json_duplicate(const Alloc &a, const cJSON *v);

const char *json_type_name(const cJSON *v);

// Fails on a key of obj that is not in allowed (NULL-terminated) or appears twice.
int json_check_keys(const cJSON *obj, const char *const *allowed, Path &path, int code,
                    sy_error *err);

// Typed optional reads: absent leaves *out untouched and returns SY_OK.
int json_opt_string(const cJSON *obj, const char *key, Path &path, int code, const char **out,
                    sy_error *err);
int json_opt_bool(const cJSON *obj, const char *key, Path &path, int code, bool *out,
                  sy_error *err);
// An integer in [min, max] (no fraction).
int json_opt_int(const cJSON *obj, const char *key, Path &path, int code, int64_t min,
                 int64_t max, int64_t *out, sy_error *err);

// Signed 64-bit from a string ("-42") or an exactly representable number.
int json_int64(const cJSON *v, Path &path, int code, int64_t *out, sy_error *err);

} // namespace sy
