// The config loader: JSON in, a router with its plugin chain and first
// snapshot out. Every error names the JSON path; check mode reports each
// section's error instead of stopping at the first.
#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "connect/connector.hpp"
#include "plan/plan.hpp"
#include "resolve/resolver.hpp"
#include "router/router.hpp"
#include "util/error.hpp"

#ifndef SY_PLUGINDIR
#define SY_PLUGINDIR "/usr/local/lib/switchyard"
#endif

namespace sy {

namespace {

const char *const kTopKeys[] = {"plugin_path", "topology", "selector", "translators", "connect",
                                nullptr};
const char *const kStageKeys[] = {"plugin", "config", nullptr};

// Collects errors: stops at the first unless a report callback is set.
struct Diag {
    sy_diag_fn report = nullptr;
    void *user_data = nullptr;
    sy_error *err = nullptr;
    int first = SY_OK;
    sy_error scratch = SY_STRUCT_INIT(sy_error);

    sy_error *slot() { return report ? &scratch : err; }
    // Records a failure; true when loading should go on with the next section.
    bool failed(int rc) {
        if (!first) first = rc;
        if (!report) return false;
        scratch.code = rc;
        report(&scratch, user_data);
        scratch = SY_STRUCT_INIT(sy_error);
        return rc != SY_ENOMEM;
    }
};

bool is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

// Owned directory strings of the search path.
struct Dirs {
    explicit Dirs(const Alloc &a) : alloc(a), owned(a) {}
    ~Dirs() {
        for (size_t i = 0; i < owned.size(); i++) alloc.strfree(owned[i]);
    }
    bool add(SearchPath &sp, const char *dir, size_t len) {
        if (sp.count == sizeof sp.dirs / sizeof sp.dirs[0] || !len) return true;
        char *d = static_cast<char *>(alloc.alloc(len + 1, 1));
        if (!d || !owned.push(d)) {
            alloc.free(d, len + 1);
            return false;
        }
        std::memcpy(d, dir, len);
        d[len] = 0;
        sp.dirs[sp.count++] = d;
        return true;
    }
    Alloc alloc;
    Vec<char *> owned;
};

int build_search_path(const cJSON *doc, const sy_router_options *o, const char *base_dir,
                      Dirs &dirs, SearchPath &sp, sy_error *err) {
    for (size_t i = 0; o && o->plugin_path && i < o->plugin_path_count; i++)
        if (o->plugin_path[i] && !dirs.add(sp, o->plugin_path[i], std::strlen(o->plugin_path[i])))
            return fail(err, SY_ENOMEM, "", "out of memory");
    const cJSON *pp = cJSON_GetObjectItemCaseSensitive(doc, "plugin_path");
    if (pp) {
        if (!cJSON_IsArray(pp))
            return fail(err, SY_ECONFIG, "plugin_path", "expected an array of directory strings, got %s",
                        json_type_name(pp));
        Path path("plugin_path");
        size_t i = 0;
        for (const cJSON *d = pp->child; d; d = d->next, i++) {
            PathScope ps(path, i);
            if (!cJSON_IsString(d) || !*d->valuestring)
                return fail(err, SY_ECONFIG, path.c_str(), "expected a non-empty directory string, got %s",
                            json_type_name(d));
            const char *dir = d->valuestring;
            bool ok = true;
            if (dir[0] == '/' || is_dir(dir) || !base_dir) {
                ok = dirs.add(sp, dir, std::strlen(dir));
            } else {
                char joined[4096];
                int n = std::snprintf(joined, sizeof joined, "%s/%s", base_dir, dir);
                if (n > 0 && static_cast<size_t>(n) < sizeof joined)
                    ok = dirs.add(sp, joined, static_cast<size_t>(n));
            }
            if (!ok) return fail(err, SY_ENOMEM, path.c_str(), "out of memory");
        }
    }
    if (const char *env = std::getenv("SY_PLUGIN_PATH")) {
        for (const char *p = env; *p;) {
            const char *c = std::strchr(p, ':');
            size_t n = c ? static_cast<size_t>(c - p) : std::strlen(p);
            if (!dirs.add(sp, p, n)) return fail(err, SY_ENOMEM, "", "out of memory");
            p += n + (c ? 1 : 0);
        }
    }
    if (!dirs.add(sp, SY_PLUGINDIR, std::strlen(SY_PLUGINDIR)))
        return fail(err, SY_ENOMEM, "", "out of memory");
    return SY_OK;
}

int check_connect(Router *r, const cJSON *c, sy_error *err) {
    connect_settings_free(r->alloc, &r->connect_cfg);
    return connect_settings_parse(r->alloc, c, &r->connect_cfg, err);
}

// Loads and creates one chain stage from {"plugin", "config"} at `path`.
int create_stage(Router *r, const cJSON *stage, Path &path, bool selector, const SearchPath &sp,
                 sy_error *err) {
    if (!cJSON_IsObject(stage))
        return fail(err, SY_ECONFIG, path.c_str(), "expected an object {\"plugin\", \"config\"}, got %s",
                    json_type_name(stage));
    int rc = json_check_keys(stage, kStageKeys, path, SY_ECONFIG, err);
    if (rc) return rc;
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(stage, "plugin");
    const cJSON *config = cJSON_GetObjectItemCaseSensitive(stage, "config");
    Path ppath = path, cpath = path;
    ppath.key("plugin");
    cpath.key("config");
    if (!cJSON_IsString(name) || !*name->valuestring)
        return fail(err, SY_ECONFIG, ppath.c_str(), "expected a plugin name string, got %s",
                    json_type_name(name));
    if (r->chain_len == kMaxChain)
        return fail(err, SY_ELIMIT, ppath.c_str(), "at most %zu translators", kMaxChain - 1);
    const sy_plugin *vt = nullptr;
    const char *origin = nullptr;
    if ((rc = plugin_find(r, name->valuestring, sp, ppath.c_str(), &vt, &origin, err))) return rc;
    Instance &in = r->chain[r->chain_len];
    in = Instance{};
    std::memcpy(&in.vt, vt, vt->struct_size < sizeof in.vt ? vt->struct_size : sizeof in.vt);
    in.origin = origin;
    if (selector && (!(in.vt.roles & SY_ROLE_SELECTOR) || !in.vt.plan_init || !in.vt.plan_next))
        return fail(err, SY_ECONFIG, ppath.c_str(), "plugin '%.64s' is not a selector", vt->name);
    if (!selector && (!(in.vt.roles & SY_ROLE_TRANSLATOR) || !in.vt.translate))
        return fail(err, SY_ECONFIG, ppath.c_str(), "plugin '%.64s' is not a translator", vt->name);
    in.mem_size = in.vt.instance_size ? in.vt.instance_size : 1;
    in.mem = r->alloc.alloc(in.mem_size, 16);
    if (!in.mem) return fail(err, SY_ENOMEM, ppath.c_str(), "out of memory");
    std::memset(in.mem, 0, in.mem_size);
    r->chain_len++; // owns mem from here: router_destroy frees it
    host_init(&in.host, r, in.vt.name);
    if (config && !cJSON_IsObject(config))
        return fail(err, SY_ECONFIG, cpath.c_str(), "expected an object, got %s",
                    json_type_name(config));
    clear_error(err);
    rc = in.vt.create(in.mem, &in.host.host, reinterpret_cast<const sy_json *>(config),
                      cpath.c_str(), err);
    if (rc != SY_OK) return plugin_failed(err, rc, cpath.c_str(), in.vt.name, "create");
    in.created = true;
    return SY_OK;
}

int configure(Router *r, const char *json, size_t len, const sy_router_options *opts, Diag &d) {
    cJSON *doc = nullptr;
    if (int prc = json_parse(r->alloc, json, len, SY_ECONFIG, "", &doc, d.slot())) {
        d.failed(prc);
        return d.first;
    }
    int rc = SY_OK;
    Dirs dirs(r->alloc);
    SearchPath sp;
    Topology *topo = nullptr;
    const cJSON *sel = nullptr, *tr = nullptr, *conn = nullptr, *tp = nullptr;
    Path path;
    if (!cJSON_IsObject(doc)) {
        rc = fail(d.slot(), SY_ECONFIG, "", "a config is a JSON object, got %s", json_type_name(doc));
        d.failed(rc);
        goto out;
    }
    for (const cJSON *m = doc->child; m; m = m->next) { // report each bad key
        const char *const *k = kTopKeys;
        while (*k && std::strcmp(*k, m->string) != 0) k++;
        const cJSON *o = doc->child;
        while (o != m && std::strcmp(o->string, m->string) != 0) o = o->next;
        Path kp;
        kp.key(m->string);
        if ((!*k || o != m) &&
            !d.failed(fail(d.slot(), SY_ECONFIG, kp.c_str(), !*k ? "unknown key" : "duplicate key")))
            goto out;
    }
    if ((rc = build_search_path(doc, opts, opts->base_dir, dirs, sp, d.slot())) &&
        !d.failed(rc))
        goto out;
    tp = cJSON_GetObjectItemCaseSensitive(doc, "topology");
    {
        Path tpath("topology");
        cJSON *copy = tp ? json_duplicate(r->alloc, tp) : nullptr;
        if (tp && !copy) rc = fail(d.slot(), SY_ENOMEM, "topology", "out of memory");
        else rc = topology_from_json(r->alloc, copy, copy, tpath, SY_ECONFIG, &topo, d.slot());
        if (rc && !d.failed(rc)) goto out;
    }
    conn = cJSON_GetObjectItemCaseSensitive(doc, "connect");
    if (conn && (rc = check_connect(r, conn, d.slot())) && !d.failed(rc)) goto out;
    sel = cJSON_GetObjectItemCaseSensitive(doc, "selector");
    if (!sel) {
        rc = fail(d.slot(), SY_ECONFIG, "selector", "a config needs a selector {\"plugin\": ...}");
        if (!d.failed(rc)) goto out;
    } else {
        Path spath("selector");
        if ((rc = create_stage(r, sel, spath, true, sp, d.slot())) && !d.failed(rc)) goto out;
    }
    tr = cJSON_GetObjectItemCaseSensitive(doc, "translators");
    if (tr && !cJSON_IsArray(tr)) {
        rc = fail(d.slot(), SY_ECONFIG, "translators", "expected an array, got %s", json_type_name(tr));
        if (!d.failed(rc)) goto out;
    } else if (tr) {
        Path tpath("translators");
        size_t i = 0;
        for (const cJSON *t = tr->child; t; t = t->next, i++) {
            PathScope ps(tpath, i);
            // A failed selector leaves no chain[0]: in check mode, still load
            // translators (into the chain) to report their errors.
            if ((rc = create_stage(r, t, tpath, false, sp, d.slot())) && !d.failed(rc)) goto out;
        }
    }
    if (d.first) goto out;
    r->state_offset = plan_state_offset(r->chain_len - 1);
    r->plan_size = r->state_offset + r->chain[0].vt.plan_state_size;
    rc = router_publish(r, topo, d.slot());
    topo = nullptr;
    if (rc) d.failed(rc);
out:
    topology_free(topo);
    json_delete(r->alloc, doc);
    return d.first;
}

// An older caller's smaller options struct, widened: fields it does not
// have read as zero. Too small to hold the first version: SY_EINVAL.
int widen_options(const sy_router_options *opts, sy_router_options *o, sy_error *err) {
    *o = SY_STRUCT_INIT(sy_router_options);
    if (!opts) return SY_OK;
    if (opts->struct_size < offsetof(sy_router_options, base_dir) + sizeof(const char *))
        return fail(err, SY_EINVAL, "", "sy_router_options.struct_size %u is too small (at least %zu)",
                    opts->struct_size, offsetof(sy_router_options, base_dir) + sizeof(const char *));
    std::memcpy(o, opts, opts->struct_size < sizeof *o ? opts->struct_size : sizeof *o);
    o->struct_size = sizeof *o;
    return SY_OK;
}

int router_create(const char *json, size_t len, const sy_router_options *caller_opts, Diag &d,
                  sy_router **out) {
    sy_router_options wide;
    if (int rc = widen_options(caller_opts, &wide, d.slot())) {
        d.failed(rc);
        return d.first;
    }
    const sy_router_options *opts = &wide;
    Alloc a = Alloc::from(opts->allocator);
    Router *r = a.make<Router>(a);
    if (!r) {
        d.failed(fail(d.slot(), SY_ENOMEM, "", "out of memory"));
        return d.first;
    }
    r->log_fn = opts->log;
    r->log_data = opts->log_user_data;
    r->log_destroy = opts->log_destroy;
    if (opts->log_level) r->log_level = opts->log_level;
    r->clock_fn = opts->clock_ns;
    r->clock_data = opts->clock_user_data;
    if (int rrc = resolver_new(a, opts->resolver, &r->resolver, d.slot())) {
        d.failed(rrc);
        r->log_destroy = nullptr;
        router_destroy(r);
        return d.first;
    }
    int rc = configure(r, json, len, opts, d);
    if (rc || !out) {
        r->log_destroy = nullptr; // a failed or check-only call leaves user_data to the caller
        resolver_disarm(r->resolver); // and the resolver's
        router_destroy(r);
        return rc;
    }
    if ((rc = connector_new(r, r->connect_cfg, opts->io_mode, &r->connector, d.slot()))) {
        d.failed(rc);
        router_destroy(r);
        return rc;
    }
    r->connect_cfg = ConnectSettings{}; // the connector owns its strings now
    router_log(r, SY_LOG_INFO, "core", "router ready: selector %s, %zu translator(s)",
               r->chain[0].vt.name, r->chain_len - 1);
    *out = reinterpret_cast<sy_router *>(r);
    return SY_OK;
}

// Reads a whole file with the router's allocator.
int read_file(const Alloc &a, const char *path, char **buf, size_t *len, size_t *cap,
              sy_error *err) {
    FILE *f = std::fopen(path, "rb");
    if (!f) return fail(err, SY_ECONFIG, "", "%s: cannot open: %s", path, std::strerror(errno));
    size_t c = 4096, n = 0;
    char *b = static_cast<char *>(a.alloc(c, 1));
    while (b) {
        size_t got = std::fread(b + n, 1, c - n, f);
        n += got;
        if (n < c) break;
        char *nb = static_cast<char *>(a.alloc(c * 2, 1));
        if (nb) std::memcpy(nb, b, n);
        a.free(b, c);
        b = nb;
        c *= 2;
    }
    bool bad = std::ferror(f);
    std::fclose(f);
    if (!b) return fail(err, SY_ENOMEM, "", "out of memory");
    if (bad) {
        a.free(b, c);
        return fail(err, SY_ECONFIG, "", "%s: read error", path);
    }
    *buf = b;
    *len = n;
    *cap = c;
    return SY_OK;
}

} // namespace

} // namespace sy

using namespace sy;

extern "C" {

SY_API int sy_router_new(const char *config_json, size_t len, const sy_router_options *opts,
                         sy_router **out, sy_error *err) {
    if (!config_json || !out)
        return fail(err, SY_EINVAL, "", "sy_router_new: config_json and out are required");
    clear_error(err);
    Diag d;
    d.err = err;
    return router_create(config_json, len, opts, d, out);
}

SY_API int sy_router_new_from_file(const char *path, const sy_router_options *opts,
                                   sy_router **out, sy_error *err) {
    if (!path || !out)
        return fail(err, SY_EINVAL, "", "sy_router_new_from_file: path and out are required");
    sy_router_options o;
    int rc = widen_options(opts, &o, err);
    if (rc) return rc;
    Alloc a = Alloc::from(o.allocator);
    char *buf = nullptr;
    size_t len = 0, cap = 0;
    if ((rc = read_file(a, path, &buf, &len, &cap, err))) return rc;
    // Relative plugin_path entries resolve against the config's directory.
    char dir[4096];
    if (!o.base_dir) {
        const char *slash = std::strrchr(path, '/');
        size_t n = slash ? static_cast<size_t>(slash - path) : 1;
        if (n >= sizeof dir) n = sizeof dir - 1;
        std::memcpy(dir, slash ? path : ".", n);
        dir[n] = 0;
        if (slash && n == 0) std::strcpy(dir, "/");
        o.base_dir = dir;
    }
    rc = sy_router_new(buf, len, &o, out, err);
    a.free(buf, cap);
    return rc;
}

SY_API int sy_config_check(const char *config_json, size_t len, const sy_router_options *opts,
                           sy_diag_fn report, void *user_data) {
    if (!config_json) return SY_EINVAL;
    Diag d;
    d.report = report;
    d.user_data = user_data;
    sy_error local = SY_STRUCT_INIT(sy_error);
    if (!report) d.err = &local;
    return router_create(config_json, len, opts, d, nullptr);
}
}
