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
#include "router/readers.hpp"
#include "util/error.hpp"

#ifndef SY_PLUGINDIR
#define SY_PLUGINDIR "/usr/local/lib/switchyard"
#endif

namespace sy {

namespace {

const char *const kTopKeys[] = {"plugin_path", "topology", "selector", "translators", "connect",
                                "plan", nullptr};
const char *const kPlanKeys[] = {"max_waiting", "wait_timeout_ms", nullptr};

// "plan": {"max_waiting", "wait_timeout_ms"} (plans that wait: plan/wait.cpp).
int plan_settings_parse(const cJSON *c, PlanSettings *s, sy_error *err) {
    if (!c) return SY_OK;
    Path path("plan");
    if (!cJSON_IsObject(c))
        return fail(err, SY_ECONFIG, "plan", "expected an object, got %s", json_type_name(c));
    int64_t n = s->max_waiting, ms = s->wait_timeout_ms;
    int rc = json_check_keys(c, kPlanKeys, path, SY_ECONFIG, err);
    if (!rc) rc = json_opt_int(c, "max_waiting", path, SY_ECONFIG, 0, 1000000, &n, err);
    if (!rc) rc = json_opt_int(c, "wait_timeout_ms", path, SY_ECONFIG, 1, 3600000, &ms, err);
    if (rc) return rc;
    s->max_waiting = static_cast<uint32_t>(n);
    s->wait_timeout_ms = static_cast<uint32_t>(ms);
    return SY_OK;
}
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
        bool is_first = !first;
        if (!first) first = rc;
        if (!report) return false;
        scratch.code = rc;
        if (is_first) fail(err, rc, scratch.path, "%s", scratch.message); // err holds the first, as without report
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

// The search path after the options' directories: the config's plugin_path,
// SY_PLUGIN_PATH, then the install directory.
int build_search_path(const cJSON *doc, const char *base_dir, Dirs &dirs, SearchPath &sp,
                      sy_error *err) {
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

// Replaces each {"from_env": "VAR"} under v with VAR's value, the way
// Hasura reads a database URL from the environment: secrets stay out of
// config files. Unset, or from_env beside other keys, is an error naming the
// place. Runs before anything reads the config, so every section sees plain
// strings.
void resolve_env(const Alloc &a, cJSON *v, Path &path, Diag &d) {
    size_t i = 0;
    for (cJSON *c = v->child; c; i++) {
        cJSON *next = c->next;
        size_t mark = path.mark();
        if (cJSON_IsArray(v)) path.index(i);
        else path.key(c->string);
        const cJSON *var = cJSON_IsObject(c) ? cJSON_GetObjectItemCaseSensitive(c, "from_env") : nullptr;
        if (!var) {
            if (cJSON_IsObject(c) || cJSON_IsArray(c)) resolve_env(a, c, path, d);
        } else if (!cJSON_IsString(var) || !*var->valuestring) {
            d.failed(fail(d.slot(), SY_ECONFIG, path.c_str(),
                          "from_env expects the name of an environment variable, got %s",
                          json_type_name(var)));
        } else if (c->child->next) {
            d.failed(fail(d.slot(), SY_ECONFIG, path.c_str(),
                          "{\"from_env\": ...} stands for a string and takes no other key"));
        } else if (const char *val = std::getenv(var->valuestring); !val) {
            d.failed(fail(d.slot(), SY_ECONFIG, path.c_str(),
                          "environment variable %.64s (from_env) is not set", var->valuestring));
        } else {
            JsonScope js(a);
            if (cJSON *str = cJSON_CreateString(val)) {
                str->string = c->string; // the key moves to the replacement (NULL in an array)
                str->type |= c->type & cJSON_StringIsConst;
                c->string = nullptr;
                cJSON_ReplaceItemViaPointer(v, c, str); // cannot fail: both are given
            } else {
                d.failed(fail(d.slot(), SY_ENOMEM, path.c_str(), "out of memory"));
            }
        }
        path.reset(mark);
        if (d.first && !d.report) return;
        c = next;
    }
}

// The options' plugin directories (the router owns them), searched first.
void options_search_path(const Router *r, SearchPath &sp) {
    sp.count = 0;
    for (size_t i = 0; i < r->opt_plugin_path.size() && sp.count < sizeof sp.dirs / sizeof sp.dirs[0]; i++)
        sp.dirs[sp.count++] = r->opt_plugin_path[i];
}

// Same config (both absent, or equal JSON).
bool same_json(const cJSON *a, const cJSON *b) {
    return (!a && !b) || (a && b && cJSON_Compare(a, b, true));
}

// Loads and creates one chain stage from {"plugin", "config"} at `path`
// into gen. An instance of prev with the same plugin, role and config is
// shared instead (taken[] marks those already reused), so its state lives on.
int create_stage(Router *r, Generation *gen, const Generation *prev, bool *taken,
                 const cJSON *stage, Path &path, bool selector, const SearchPath &sp,
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
    if (gen->chain_len == kMaxChain)
        return fail(err, SY_ELIMIT, ppath.c_str(), "at most %zu translators", kMaxChain - 1);
    const sy_plugin *vt = nullptr;
    const char *origin = nullptr;
    if ((rc = plugin_find(r, name->valuestring, sp, ppath.c_str(), &vt, &origin, err))) return rc;
    if (config && !cJSON_IsObject(config))
        return fail(err, SY_ECONFIG, cpath.c_str(), "expected an object, got %s",
                    json_type_name(config));
    for (size_t i = 0; prev && i < prev->chain_len; i++) {
        Instance *old = prev->chain[i];
        if (taken[i] || old->src != vt || old->selector != selector || !same_json(old->config, config))
            continue;
        taken[i] = true;
        old->refs.fetch_add(1, std::memory_order_relaxed);
        gen->chain[gen->chain_len++] = old;
        router_log(r, SY_LOG_INFO, "core", "%s: plugin %s and its config are unchanged: kept",
                   path.c_str(), vt->name);
        return SY_OK;
    }
    Instance *in = r->alloc.make<Instance>();
    if (!in) return fail(err, SY_ENOMEM, ppath.c_str(), "out of memory");
    gen->chain[gen->chain_len++] = in; // owned from here: generation_unref frees it
    std::memcpy(&in->vt, vt, vt->struct_size < sizeof in->vt ? vt->struct_size : sizeof in->vt);
    in->src = vt;
    in->origin = origin;
    in->selector = selector;
    if (selector && (!(in->vt.roles & SY_ROLE_SELECTOR) || !in->vt.plan_init || !in->vt.plan_next))
        return fail(err, SY_ECONFIG, ppath.c_str(), "plugin '%.64s' is not a selector", vt->name);
    if (!selector && (!(in->vt.roles & SY_ROLE_TRANSLATOR) || !in->vt.translate))
        return fail(err, SY_ECONFIG, ppath.c_str(), "plugin '%.64s' is not a translator", vt->name);
    if (config && !(in->config = json_duplicate(r->alloc, config)))
        return fail(err, SY_ENOMEM, cpath.c_str(), "out of memory");
    in->mem_size = in->vt.instance_size ? in->vt.instance_size : 1;
    in->mem = r->alloc.alloc(in->mem_size, 16);
    if (!in->mem) return fail(err, SY_ENOMEM, ppath.c_str(), "out of memory");
    std::memset(in->mem, 0, in->mem_size);
    host_init(&in->host, r, in->vt.name);
    clear_error(err);
    rc = in->vt.create(in->mem, &in->host.host, reinterpret_cast<const sy_json *>(config),
                       cpath.c_str(), err);
    if (rc != SY_OK) return plugin_failed(err, rc, cpath.c_str(), in->vt.name, "create");
    in->created = true;
    return SY_OK;
}

// Each instance the reload created (its config changed) inherits from the
// one of prev it replaces: the first not kept, of the same plugin and role.
int inherit_stages(Router *r, Generation *gen, const Generation *prev, bool *taken, sy_error *err) {
    for (size_t i = 0; i < gen->chain_len; i++) {
        Instance *in = gen->chain[i];
        bool kept = false;
        for (size_t j = 0; j < prev->chain_len && !kept; j++) kept = prev->chain[j] == in;
        if (kept || !in->vt.inherit) continue;
        for (size_t j = 0; j < prev->chain_len; j++) {
            Instance *old = prev->chain[j];
            if (taken[j] || old->src != in->src || old->selector != in->selector) continue;
            taken[j] = true;
            char path[32];
            if (in->selector) std::snprintf(path, sizeof path, "selector");
            else std::snprintf(path, sizeof path, "translators[%zu]", i - 1);
            clear_error(err);
            int rc = in->vt.inherit(in->mem, old->mem, err);
            if (rc != SY_OK) return plugin_failed(err, rc, path, in->vt.name, "inherit");
            router_log(r, SY_LOG_INFO, "core", "%s: plugin %s inherited from the instance its config replaced", path,
                       in->vt.name);
            break;
        }
    }
    return SY_OK;
}

// Builds a generation from a config and publishes it: the first one at
// router creation (prev NULL), or a reload's over prev. The topology section
// replaces the current topology only when it is new or changed: an
// unchanged or absent one keeps what the application has published since.
// On failure nothing is published and every error went to d.
int configure(Router *r, const char *json, size_t len, const char *base_dir, Diag &d) {
    cJSON *doc = nullptr;
    if (int prc = json_parse(r->alloc, json, len, SY_ECONFIG, "", &doc, d.slot())) {
        d.failed(prc);
        return d.first;
    }
    Generation *prev = r->gen;
    int rc = SY_OK;
    Dirs dirs(r->alloc);
    SearchPath sp;
    Topology *topo = nullptr;
    Generation *gen = nullptr;
    bool taken[kMaxChain] = {};
    const cJSON *sel = nullptr, *tr = nullptr;
    const cJSON *conn = nullptr;
    cJSON *tp = nullptr;
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
    resolve_env(r->alloc, doc, path, d);
    if (d.first && !d.report) goto out;
    options_search_path(r, sp);
    if ((rc = build_search_path(doc, base_dir, dirs, sp, d.slot())) && !d.failed(rc)) goto out;
    if (!(gen = r->alloc.make<Generation>())) {
        d.failed(fail(d.slot(), SY_ENOMEM, "", "out of memory"));
        goto out;
    }
    tp = cJSON_DetachItemFromObjectCaseSensitive(doc, "topology");
    gen->topology_src = tp; // kept to tell an unchanged section at the next reload
    if (!prev || (tp && !same_json(tp, prev->topology_src))) {
        Path tpath("topology");
        cJSON *copy = tp ? json_duplicate(r->alloc, tp) : nullptr;
        if (tp && !copy) rc = fail(d.slot(), SY_ENOMEM, "topology", "out of memory");
        else rc = topology_from_json(r->alloc, copy, copy, tpath, SY_ECONFIG, &topo, d.slot());
        if (rc && !d.failed(rc)) goto out;
    }
    if ((rc = plan_settings_parse(cJSON_GetObjectItemCaseSensitive(doc, "plan"), &gen->plan, d.slot())) &&
        !d.failed(rc))
        goto out;
    conn = cJSON_GetObjectItemCaseSensitive(doc, "connect");
    if ((rc = connect_settings_parse(r->alloc, conn, &gen->connect, d.slot())) && !d.failed(rc))
        goto out;
    sel = cJSON_GetObjectItemCaseSensitive(doc, "selector");
    if (!sel) {
        rc = fail(d.slot(), SY_ECONFIG, "selector", "a config needs a selector {\"plugin\": ...}");
        if (!d.failed(rc)) goto out;
    } else {
        Path spath("selector");
        if ((rc = create_stage(r, gen, prev, taken, sel, spath, true, sp, d.slot())) && !d.failed(rc))
            goto out;
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
            if ((rc = create_stage(r, gen, prev, taken, t, tpath, false, sp, d.slot())) &&
                !d.failed(rc))
                goto out;
        }
    }
    if (d.first) goto out;
    if (prev && (rc = inherit_stages(r, gen, prev, taken, d.slot())) && !d.failed(rc)) goto out;
    if (d.first) goto out;
    gen->state_offset = plan_state_offset(gen->chain_len - 1);
    gen->plan_size = gen->state_offset + gen->chain[0]->vt.plan_state_size;
    rc = router_publish_generation(r, gen, topo, d.slot());
    topo = nullptr;
    if (rc) {
        d.failed(rc);
    } else {
        // Walks read their own generation's settings; the connector's
        // shared limits (pools, circuits, DNS cache) follow the new one.
        if (r->connector) connector_update(r->connector, gen->connect);
        gen = nullptr; // the router's now
    }
out:
    generation_unref(r, gen);
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
    readers_init(); // before any thread can plan on this router
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
    // Kept for reloads, which search the same directories.
    bool copied = !opts->base_dir || (r->opt_base_dir = a.strdup(opts->base_dir));
    for (size_t i = 0; copied && opts->plugin_path && i < opts->plugin_path_count; i++) {
        if (!opts->plugin_path[i] || !*opts->plugin_path[i]) continue;
        char *dir = a.strdup(opts->plugin_path[i]);
        if (!dir || !r->opt_plugin_path.push(dir)) {
            a.strfree(dir);
            copied = false;
        }
    }
    int rc = copied ? resolver_new(a, opts->resolver, &r->resolver, d.slot())
                    : fail(d.slot(), SY_ENOMEM, "", "out of memory");
    if (rc) {
        d.failed(rc);
        r->log_destroy = nullptr;
        router_destroy(r);
        return d.first;
    }
    rc = configure(r, json, len, opts->base_dir, d);
    if (rc || !out) {
        r->log_destroy = nullptr; // a failed or check-only call leaves user_data to the caller
        resolver_disarm(r->resolver); // and the resolver's
        router_destroy(r);
        return rc;
    }
    if ((rc = connector_new(r, r->gen->connect, opts->io_mode, &r->connector, d.slot()))) {
        d.failed(rc);
        router_destroy(r);
        return rc;
    }
    router_log(r, SY_LOG_INFO, "core", "router ready: selector %s, %zu translator(s)",
               r->gen->chain[0]->vt.name, r->gen->chain_len - 1);
    *out = reinterpret_cast<sy_router *>(r);
    return SY_OK;
}

int router_reload(Router *r, const char *json, size_t len, const char *base_dir, Diag &d) {
    std::lock_guard<std::mutex> g(r->reload_mu);
    int rc = configure(r, json, len, base_dir ? base_dir : r->opt_base_dir, d);
    if (rc) {
        router_log(r, SY_LOG_WARN, "core", "reload refused: %s; the previous configuration serves on",
                   sy_status_str(rc));
        return rc;
    }
    router_log(r, SY_LOG_INFO, "core", "reloaded: selector %s, %zu translator(s), epoch %llu",
               r->gen->chain[0]->vt.name, r->gen->chain_len - 1,
               static_cast<unsigned long long>(r->epoch.load()));
    return SY_OK;
}

// The directory of a config file, for its relative plugin_path entries.
void file_dir(const char *path, char *dir, size_t size) {
    const char *slash = std::strrchr(path, '/');
    size_t n = slash ? static_cast<size_t>(slash - path) : 1;
    if (n >= size) n = size - 1;
    std::memcpy(dir, slash ? path : ".", n);
    dir[n] = 0;
    if (slash && n == 0) std::strcpy(dir, "/");
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
        file_dir(path, dir, sizeof dir);
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

SY_API int sy_router_reload(sy_router *router, const char *config_json, size_t len,
                            sy_diag_fn report, void *user_data, sy_error *err) {
    if (!valid_router(router) || !config_json)
        return fail(err, SY_EINVAL, "", "sy_router_reload: router and config_json are required");
    clear_error(err);
    Diag d;
    d.err = err;
    d.report = report;
    d.user_data = user_data;
    return router_reload(reinterpret_cast<Router *>(router), config_json, len, nullptr, d);
}

SY_API int sy_router_reload_file(sy_router *router, const char *path, sy_diag_fn report,
                                 void *user_data, sy_error *err) {
    if (!valid_router(router) || !path)
        return fail(err, SY_EINVAL, "", "sy_router_reload_file: router and path are required");
    Router *r = reinterpret_cast<Router *>(router);
    char *buf = nullptr;
    size_t len = 0, cap = 0;
    if (int rc = read_file(r->alloc, path, &buf, &len, &cap, err)) return rc;
    char dir[4096];
    file_dir(path, dir, sizeof dir);
    clear_error(err);
    Diag d;
    d.err = err;
    d.report = report;
    d.user_data = user_data;
    int rc = router_reload(r, buf, len, dir, d);
    r->alloc.free(buf, cap);
    return rc;
}
}
