// Fills a plugin's sy_error (when the caller gave one) and returns the code,
// so a hook can `return syp::fail(...)` in one line.
#pragma once
#include <switchyard/plugin.h>

namespace syp {

template <class... Args>
inline int fail(const sy_host *host, sy_error *err, int code, const char *path, const char *fmt,
                Args... args) {
    if (err) host->set_error(err, code, path, fmt, args...);
    return code;
}

} // namespace syp
