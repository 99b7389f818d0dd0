// Filling a caller's sy_error, and building the JSON path it names.
#pragma once
#include <switchyard/switchyard.h>

#include <cstdarg>
#include <cstddef>

namespace sy {

// Writes code, path and a formatted message into err (which may be NULL or an
// older, smaller struct). Returns code so callers can `return fail(...)`.
int fail(sy_error *err, int code, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
int vfail(sy_error *err, int code, const char *path, const char *fmt, va_list ap);
void clear_error(sy_error *err);
// err->retry_after_ms, when the caller's sy_error has it (else ignored / 0).
void set_retry_after(sy_error *err, uint32_t ms);
uint32_t retry_after(const sy_error *err);
// dst gets what src (a whole sy_error) says, as much as dst's size holds.
void copy_error(sy_error *dst, const sy_error *src);

// After a plugin hook failed with rc: the status the caller sees (a positive
// rc breaks the ABI and becomes SY_EINTERNAL), with err filled by the plugin
// if it did so for that status, else with a message naming plugin and hook.
// Clear err (clear_error) before calling the hook.
int plugin_failed(sy_error *err, int rc, const char *path, const char *plugin, const char *hook);

// A JSON path such as `topology.nodes[2].port`, built on the stack.
class Path {
public:
    Path() { buf_[0] = 0; }
    explicit Path(const char *root);
    const char *c_str() const { return buf_; }
    size_t mark() const { return len_; }
    void reset(size_t mark) {
        len_ = mark;
        buf_[len_] = 0;
    }
    void key(const char *k);   // .k, or ["k"] when k is not an identifier
    void index(size_t i);      // [i]

private:
    void append(const char *s, size_t n);
    char buf_[SY_ERROR_PATH_MAX];
    size_t len_ = 0;
};

// Restores a path when it leaves scope.
class PathScope {
public:
    PathScope(Path &p, const char *k) : p_(p), mark_(p.mark()) { p.key(k); }
    PathScope(Path &p, size_t i) : p_(p), mark_(p.mark()) { p.index(i); }
    ~PathScope() { p_.reset(mark_); }
    PathScope(const PathScope &) = delete;
    PathScope &operator=(const PathScope &) = delete;

private:
    Path &p_;
    size_t mark_;
};

} // namespace sy
