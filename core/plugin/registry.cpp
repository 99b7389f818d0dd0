// Finding plugins: static registrations, then shared objects on the search
// path. A plugin is checked once, when loaded, so the hot path trusts it.
#include <dlfcn.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <mutex>

#include "router/router.hpp"

namespace sy {

namespace {

constexpr size_t kMaxStatic = 128;
constexpr uint32_t kMaxPerModule = 64;

std::mutex g_static_mu;
const sy_plugin *g_static[kMaxStatic];
size_t g_static_count = 0;

// The v1 fields every plugin must have: up to and including destroy.
constexpr size_t kMinPluginSize = offsetof(sy_plugin, destroy) + sizeof(void *);

int check_vtable(const sy_plugin *vt, const char *origin, const char *path, sy_error *err) {
    if (!vt) return fail(err, SY_EPLUGIN, path, "%s: the entry returned a NULL plugin", origin);
    if (vt->abi_version < SY_PLUGIN_ABI_MIN || vt->abi_version > SY_PLUGIN_ABI_VERSION)
        return fail(err, SY_EABI, path,
                    "%s: plugin '%.64s' was built for plugin ABI version %u; this core supports "
                    "versions %d..%d",
                    origin,
                    vt->struct_size >= offsetof(sy_plugin, name) + sizeof(char *) && vt->name
                        ? vt->name
                        : "?",
                    vt->abi_version, SY_PLUGIN_ABI_MIN, SY_PLUGIN_ABI_VERSION);
    if (vt->struct_size < kMinPluginSize)
        return fail(err, SY_EPLUGIN, path, "%s: plugin vtable struct_size %u is too small", origin,
                    vt->struct_size);
    if (!vt->name || !*vt->name)
        return fail(err, SY_EPLUGIN, path, "%s: plugin has no name", origin);
    if (!vt->create || !vt->destroy)
        return fail(err, SY_EPLUGIN, path, "%s: plugin '%.64s' lacks create or destroy", origin,
                    vt->name);
    if (vt->struct_size >= offsetof(sy_plugin, plan_fill) + sizeof(void *) && !vt->plan_advance != !vt->plan_fill)
        return fail(err, SY_EPLUGIN, path, "%s: plugin '%.64s' has only one of plan_advance and plan_fill", origin,
                    vt->name);
    return SY_OK;
}

const sy_plugin *static_find(const char *name) {
    std::lock_guard<std::mutex> g(g_static_mu);
    for (size_t i = 0; i < g_static_count; i++)
        if (std::strcmp(g_static[i]->name, name) == 0) return g_static[i];
    return nullptr;
}

const sy_plugin *loaded_find(Router *r, const char *name, const char **origin) {
    for (size_t i = 0; i < r->loaded.size(); i++)
        if (std::strcmp(r->loaded[i]->name, name) == 0) {
            *origin = r->loaded_origin[i];
            return r->loaded[i];
        }
    return nullptr;
}

// Opens file, registers each plugin it enumerates. Returns SY_OK and the one
// named `name` in *vt, or an error naming the file.
int load_module(Router *r, const char *file, const char *name, const char *path,
                const sy_plugin **vt, sy_error *err) {
    void *h = dlopen(file, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *why = dlerror();
        return fail(err, SY_EPLUGIN, path, "%s: cannot load: %s", file, why ? why : "unknown");
    }
    auto query = reinterpret_cast<sy_plugin_query_fn>(dlsym(h, SY_PLUGIN_ENTRY_NAME));
    if (!query) {
        dlclose(h);
        return fail(err, SY_EPLUGIN, path, "%s: not a switchyard plugin: no symbol %s", file,
                    SY_PLUGIN_ENTRY_NAME);
    }
    char *owned = r->alloc.strdup(file);
    if (!owned || !r->modules.reserve(r->modules.size() + 1)) {
        r->alloc.strfree(owned);
        dlclose(h);
        return fail(err, SY_ENOMEM, path, "out of memory");
    }
    const sy_plugin *found[kMaxPerModule];
    uint32_t n = 0;
    int rc = SY_OK;
    for (uint32_t i = 0;; i++) {
        const sy_plugin *p = nullptr;
        int q = query(i, &p);
        if (q == 0) break;
        if (q < 0) {
            rc = fail(err, SY_EPLUGIN, path, "%s: %s failed at index %u: %s", file,
                      SY_PLUGIN_ENTRY_NAME, i, sy_status_str(q));
            break;
        }
        if (i >= kMaxPerModule) {
            rc = fail(err, SY_EPLUGIN, path, "%s: enumerates more than %u plugins", file,
                      kMaxPerModule);
            break;
        }
        if ((rc = check_vtable(p, file, path, err))) break;
        const char *other = nullptr;
        bool dup = static_find(p->name) || loaded_find(r, p->name, &other);
        for (uint32_t j = 0; j < n && !dup; j++) dup = std::strcmp(found[j]->name, p->name) == 0;
        if (dup) {
            rc = fail(err, SY_ETAKEN, path, "%s: plugin name '%.64s' is already registered%s%s",
                      file, p->name, other ? " by " : "", other ? other : "");
            break;
        }
        found[n++] = p;
    }
    const sy_plugin *want = nullptr;
    for (uint32_t j = 0; j < n && !rc; j++)
        if (std::strcmp(found[j]->name, name) == 0) want = found[j];
    if (!rc && !want)
        rc = fail(err, SY_EPLUGIN, path, "%s: does not provide a plugin named '%.64s' (it has %s%.64s%s)",
                  file, name, n ? "'" : "none", n ? found[0]->name : "", n ? "'" : "");
    if (!rc && (!r->loaded.reserve(r->loaded.size() + n) ||
                !r->loaded_origin.reserve(r->loaded_origin.size() + n)))
        rc = fail(err, SY_ENOMEM, path, "out of memory");
    if (rc) {
        r->alloc.strfree(owned);
        dlclose(h);
        return rc;
    }
    r->modules.push(LoadedModule{h, owned});
    for (uint32_t j = 0; j < n; j++) {
        r->loaded.push(found[j]);
        r->loaded_origin.push(owned);
    }
    *vt = want;
    return SY_OK;
}

} // namespace

int plugin_find(Router *r, const char *name, const SearchPath &sp, const char *path,
                const sy_plugin **vt, const char **origin, sy_error *err) {
    if (!*name || std::strchr(name, '/') || std::strcmp(name, ".") == 0 ||
        std::strcmp(name, "..") == 0)
        return fail(err, SY_EPLUGIN, path, "'%.64s' is not a plugin name", name);
    if (const sy_plugin *p = static_find(name)) {
        *vt = p;
        *origin = "static";
        return SY_OK;
    }
    if (const sy_plugin *p = loaded_find(r, name, origin)) {
        *vt = p;
        return SY_OK;
    }
    char searched[SY_ERROR_MESSAGE_MAX] = "";
    size_t used = 0;
    for (size_t i = 0; i < sp.count; i++) {
        char file[4096];
        int n = std::snprintf(file, sizeof file, "%s/%s.so", sp.dirs[i], name);
        if (n <= 0 || static_cast<size_t>(n) >= sizeof file) continue;
        if (used < sizeof searched) {
            int w = std::snprintf(searched + used, sizeof searched - used, "%s%s", used ? ", " : "",
                                  sp.dirs[i]);
            if (w > 0) used += static_cast<size_t>(w);
        }
        if (access(file, F_OK) != 0) continue;
        int rc = load_module(r, file, name, path, vt, err);
        if (rc) return rc;
        loaded_find(r, name, origin);
        return SY_OK;
    }
    return fail(err, SY_EPLUGIN, path, "plugin '%.64s' not found in: %s", name,
                sp.count ? searched : "(no plugin directories)");
}

void plugin_unload_all(Router *r) {
    for (size_t i = 0; i < r->modules.size(); i++) {
        dlclose(r->modules[i].handle);
        r->alloc.strfree(r->modules[i].path);
    }
    r->modules.reset();
    r->loaded.reset();
    r->loaded_origin.reset();
}

} // namespace sy

using namespace sy;

extern "C" SY_API int sy_register_plugin(const sy_plugin *plugin, sy_error *err) {
    if (!plugin) return fail(err, SY_EINVAL, "", "sy_register_plugin: plugin is NULL");
    int rc = check_vtable(plugin, "static registration", "", err);
    if (rc) return rc;
    std::lock_guard<std::mutex> g(g_static_mu);
    for (size_t i = 0; i < g_static_count; i++) {
        if (g_static[i] == plugin) return SY_OK; // idempotent for the same vtable
        if (std::strcmp(g_static[i]->name, plugin->name) == 0)
            return fail(err, SY_ETAKEN, "", "plugin name '%.64s' is already registered",
                        plugin->name);
    }
    if (g_static_count == kMaxStatic)
        return fail(err, SY_ELIMIT, "", "at most %zu plugins can be registered statically",
                    kMaxStatic);
    g_static[g_static_count++] = plugin;
    return SY_OK;
}
