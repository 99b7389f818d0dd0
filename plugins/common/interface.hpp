// A plugin's typed interface handed out by name and minimum version (the
// get_interface hook of a plugin that offers one).
#pragma once
#include <switchyard/plugin.h>

#include <cstring>

namespace syp {

inline int offer_interface(const char *name, uint32_t min_version, const void **out,
                           const char *offered, uint32_t version, const void *iface) {
    if (!name || !out) return SY_EINVAL;
    if (std::strcmp(name, offered) != 0 || min_version > version) return SY_EUNSUPPORTED;
    *out = iface;
    return SY_OK;
}

} // namespace syp
