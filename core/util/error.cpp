#include "util/error.hpp"

#include <cctype>
#include <cstdio>
#include <cstring>

namespace sy {

namespace {
bool has(const sy_error *err, size_t end) { return err && err->struct_size >= end; }
} // namespace

int vfail(sy_error *err, int code, const char *path, const char *fmt, va_list ap) {
    if (!err) return code;
    if (has(err, offsetof(sy_error, code) + sizeof(int))) err->code = code;
    if (has(err, offsetof(sy_error, path) + sizeof err->path))
        std::snprintf(err->path, sizeof err->path, "%s", path ? path : "");
    if (has(err, offsetof(sy_error, message) + sizeof err->message))
        std::vsnprintf(err->message, sizeof err->message, fmt, ap);
    set_retry_after(err, 0);
    return code;
}

int fail(sy_error *err, int code, const char *path, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vfail(err, code, path, fmt, ap);
    va_end(ap);
    return code;
}

void clear_error(sy_error *err) {
    if (!err) return;
    if (has(err, offsetof(sy_error, code) + sizeof(int))) err->code = SY_OK;
    if (has(err, offsetof(sy_error, path) + sizeof err->path)) err->path[0] = 0;
    if (has(err, offsetof(sy_error, message) + sizeof err->message)) err->message[0] = 0;
    set_retry_after(err, 0);
}

void set_retry_after(sy_error *err, uint32_t ms) {
    if (has(err, offsetof(sy_error, retry_after_ms) + sizeof err->retry_after_ms))
        err->retry_after_ms = ms;
}

void copy_error(sy_error *dst, const sy_error *src) {
    if (!dst || dst == src) return;
    if (has(dst, offsetof(sy_error, code) + sizeof(int))) dst->code = src->code;
    if (has(dst, offsetof(sy_error, path) + sizeof dst->path)) std::memcpy(dst->path, src->path, sizeof dst->path);
    if (has(dst, offsetof(sy_error, message) + sizeof dst->message))
        std::memcpy(dst->message, src->message, sizeof dst->message);
    set_retry_after(dst, src->retry_after_ms);
}

uint32_t retry_after(const sy_error *err) {
    return has(err, offsetof(sy_error, retry_after_ms) + sizeof err->retry_after_ms) ? err->retry_after_ms : 0;
}

int plugin_failed(sy_error *err, int rc, const char *path, const char *plugin, const char *hook) {
    int code = rc > 0 ? SY_EINTERNAL : rc;
    if (has(err, offsetof(sy_error, message) + sizeof err->message) && err->code == code &&
        err->message[0])
        return code;
    return fail(err, code, path, "plugin '%.64s': %s failed: %s%s", plugin, hook,
                sy_status_str(code), rc > 0 ? " (it returned a positive status)" : "");
}

Path::Path(const char *root) {
    buf_[0] = 0;
    if (root) append(root, std::strlen(root));
}

void Path::append(const char *s, size_t n) {
    if (len_ + n >= sizeof buf_) n = sizeof buf_ - 1 - len_; // truncated, never overflowed
    std::memcpy(buf_ + len_, s, n);
    len_ += n;
    buf_[len_] = 0;
}

void Path::key(const char *k) {
    bool ident = *k && !std::isdigit(static_cast<unsigned char>(*k));
    for (const char *c = k; *c && ident; c++)
        ident = std::isalnum(static_cast<unsigned char>(*c)) || *c == '_' || *c == '-';
    if (ident) {
        if (len_) append(".", 1);
        append(k, std::strlen(k));
    } else {
        append("[\"", 2);
        append(k, std::strlen(k));
        append("\"]", 2);
    }
}

void Path::index(size_t i) {
    char b[32];
    int n = std::snprintf(b, sizeof b, "[%zu]", i);
    append(b, static_cast<size_t>(n));
}

} // namespace sy
