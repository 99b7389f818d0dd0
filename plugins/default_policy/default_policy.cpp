// default_policy: the selector modelled on ScyllaDB's DefaultPolicy.
//
// Config (DESIGN.md contract):
//   {"mode": "default" | "round_robin" | "single_target",   (default "default")
//    "target": "<node id or host:port>",                    (single_target only)
//    "preferred_datacenter": "dc1", "preferred_rack": "r1",
//    "token_aware": true, "permit_dc_failover": false, "enable_shuffling": true,
//    "seed": <int>, "shard_ignore_msb": 12,
//    "latency_awareness": {"exclusion_threshold": 2.0, "scale_ms": 100,
//                          "retry_period_ms": 10000, "update_rate_ms": 100,
//                          "minimum_measurements": 50}}
// Every key is type-checked, unknown keys are errors, and errors name
// config_path + ".key". A preferred datacenter that the config's own
// topology does not have is an error too (found at the first attach).
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <new>

#include "common/steps.hpp"
#include "default_policy/default_mode.hpp"
#include "default_policy/node_stats.hpp"
#include "default_policy/policy.hpp"
#include "default_policy/round_robin.hpp"
#include "default_policy/single_target.hpp"

namespace syp::dp {
namespace {

// Plan storage of every mode.
union PlanState {
    DefaultPlan standard;
    RoundRobinPlan round_robin;
    SingleTargetPlan single_target;
};
// Leaves room in SY_PLAN_STORAGE_SIZE (1024) for the header (32 bytes) and
// 3 translators' scratch (3 x 128).
static_assert(sizeof(PlanState) <= 288, "plan state must stay small");

// ---------------------------------------------------------------- config

const char *const kKeys[] = {"mode",          "target",           "preferred_datacenter",
                             "preferred_rack", "token_aware",      "permit_dc_failover",
                             "enable_shuffling", "seed",           "latency_awareness",
                             "shard_ignore_msb", nullptr};
const char *const kLatencyKeys[] = {"exclusion_threshold", "scale_ms", "retry_period_ms",
                                    "update_rate_ms", "minimum_measurements", nullptr};
const char kModes[] = "expected one of \"default\", \"round_robin\", \"single_target\"";

struct Parser {
    const sy_host *h;
    const char *base; // config_path
    sy_error *err;

    // Fails at base + "." + key (key may itself be dotted, or start with a
    // quoted `["..."]`).
    int fail(const char *key, const char *fmt, ...) __attribute__((format(printf, 3, 4))) {
        char path[SY_ERROR_PATH_MAX * 2];
        std::snprintf(path, sizeof path, "%s%s%s", base, *base && key[0] != '[' ? "." : "", key);
        char msg[SY_ERROR_MESSAGE_MAX];
        va_list ap;
        va_start(ap, fmt);
        std::vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        h->set_error(err, SY_ECONFIG, path, "%s", msg);
        return SY_ECONFIG;
    }

    int oom() {
        h->set_error(err, SY_ENOMEM, base, "out of memory");
        return SY_ENOMEM;
    }

    // "got ..." text for a value: strings and numbers are quoted, others named.
    const char *describe(const sy_json *v, char *buf, size_t size) const {
        switch (h->json_type(v)) {
        case SY_JSON_STRING: {
            size_t len = 0;
            if (size > 2) {
                buf[len++] = '"';
                syp::json_escape_into(buf, size - 1, &len, h->json_string(v));
                if (len > size - 2) len = size - 2;
                buf[len++] = '"';
                buf[len] = '\0';
            }
            return buf;
        }
        case SY_JSON_NUMBER: std::snprintf(buf, size, "%.17g", h->json_number(v)); return buf;
        case SY_JSON_NULL: return "null";
        case SY_JSON_TRUE: return "true";
        case SY_JSON_FALSE: return "false";
        case SY_JSON_ARRAY: return "an array";
        case SY_JSON_OBJECT: return "an object";
        default: return "nothing";
        }
    }

    // Unknown and duplicate member names of an object. prefix: "" or "x".
    int check_keys(const sy_json *obj, const char *const *known, const char *prefix) {
        size_t n = h->json_count(obj);
        for (size_t i = 0; i < n; i++) {
            const char *key = h->json_key(h->json_at(obj, i));
            if (!key) continue;
            char sub[SY_ERROR_PATH_MAX];
            size_t len = static_cast<size_t>(std::snprintf(sub, sizeof sub, "%s", prefix));
            if (len >= sizeof sub) len = sizeof sub - 1;
            syp::path_append_key(sub, sizeof sub, &len, key);
            const char *const *k = known;
            while (*k && std::strcmp(*k, key) != 0) k++;
            if (!*k) return fail(sub, "unknown key");
            for (size_t j = 0; j < i; j++)
                if (str_eq(h->json_key(h->json_at(obj, j)), key)) return fail(sub, "duplicate key");
        }
        return SY_OK;
    }

    int boolean(const sy_json *obj, const char *key, bool *out) {
        const sy_json *v = h->json_get(obj, key);
        uint32_t t = h->json_type(v);
        if (t == SY_JSON_MISSING) return SY_OK;
        if (t != SY_JSON_TRUE && t != SY_JSON_FALSE) {
            char b[64];
            return fail(key, "expected true or false, got %s", describe(v, b, sizeof b));
        }
        *out = t == SY_JSON_TRUE;
        return SY_OK;
    }

    int string(const sy_json *obj, const char *key, OwnedString *out) {
        const sy_json *v = h->json_get(obj, key);
        if (h->json_type(v) == SY_JSON_MISSING) return SY_OK;
        const char *s = h->json_string(v);
        if (!s || !*s) {
            char b[64];
            return fail(key, "expected a non-empty string, got %s", describe(v, b, sizeof b));
        }
        return out->assign(h, s) ? SY_OK : oom();
    }

    // A number satisfying `ok`; `what` completes "expected ...".
    template <class Ok>
    int number(const sy_json *obj, const char *key, const char *path, const char *what, Ok ok,
               double *out) {
        const sy_json *v = h->json_get(obj, key);
        if (h->json_type(v) == SY_JSON_MISSING) return SY_OK;
        double x = h->json_number(v);
        if (h->json_type(v) != SY_JSON_NUMBER || !std::isfinite(x) || !ok(x)) {
            char b[64];
            return fail(path, "expected %s, got %s", what, describe(v, b, sizeof b));
        }
        *out = x;
        return SY_OK;
    }
};

// Integral and within int64 (no libm: plugins link nothing but libc).
bool is_integer(double x) {
    return x >= -9223372036854775808.0 && x < 9223372036854775808.0 &&
           static_cast<double>(static_cast<int64_t>(x)) == x;
}

int parse_mode(Parser &ps, const sy_json *config, Mode *mode) {
    const sy_json *v = ps.h->json_get(config, "mode");
    if (ps.h->json_type(v) == SY_JSON_MISSING) return SY_OK;
    const char *s = ps.h->json_string(v);
    if (str_eq(s, "default")) *mode = Mode::standard;
    else if (str_eq(s, "round_robin")) *mode = Mode::round_robin;
    else if (str_eq(s, "single_target")) *mode = Mode::single_target;
    else {
        char b[96];
        return ps.fail("mode", "%s, got %s", kModes, ps.describe(v, b, sizeof b));
    }
    return SY_OK;
}

// A target containing '[' first or ending in ":<digits>" (or ':') is meant
// as host:port and must be a valid one; anything else is a node id.
bool looks_like_endpoint(const char *s) {
    if (s[0] == '[') return true;
    const char *colon = std::strrchr(s, ':');
    if (!colon) return false;
    for (const char *c = colon + 1; *c; c++)
        if (!hp_is_digit(*c)) return false;
    return true;
}

int parse_target(Parser &ps, Policy *p, const sy_json *config) {
    const sy_json *v = ps.h->json_get(config, "target");
    if (ps.h->json_type(v) == SY_JSON_MISSING) {
        if (p->cfg.mode == Mode::single_target)
            return ps.fail("target", "mode \"single_target\" needs a \"target\": a node id or host:port");
        return SY_OK;
    }
    if (p->cfg.mode != Mode::single_target)
        return ps.fail("target", "only used with \"mode\": \"single_target\" (mode is \"%s\")",
                       mode_name(p->cfg.mode));
    const char *s = ps.h->json_string(v);
    char b[64];
    if (!s || !*s)
        return ps.fail("target", "expected a node id or host:port string, got %s", ps.describe(v, b, sizeof b));
    for (const char *c = s; *c; c++)
        if (static_cast<unsigned char>(*c) <= 0x20 || *c == 0x7f)
            return ps.fail("target", "a node id or host:port has no spaces or control characters");
    if (looks_like_endpoint(s)) {
        Endpoint ep;
        if (const char *why = parse_endpoint(s, &ep))
            return ps.fail("target", "\"%.200s\" is not host:port: %s", s, why);
        char host[kMaxHostName + 1];
        if (!format_host(ep, host, sizeof host))
            return ps.fail("target", "\"%.200s\": host too long", s);
        if (!p->target_host.assign(ps.h, host)) return ps.oom();
        p->target_ep = ep;
        p->target_ep.host = p->target_host.s; // outlive the config
        p->target_ep.host_len = std::strlen(host);
        p->target_is_endpoint = true;
    }
    return p->cfg.target.assign(ps.h, s) ? SY_OK : ps.oom();
}

int parse_latency(Parser &ps, const sy_json *config, LatencyConfig *lc) {
    const sy_json *la = ps.h->json_get(config, "latency_awareness");
    uint32_t t = ps.h->json_type(la);
    if (t == SY_JSON_MISSING) return SY_OK;
    if (t != SY_JSON_OBJECT) {
        char b[64];
        return ps.fail("latency_awareness", "expected an object {\"exclusion_threshold\", \"scale_ms\", "
                       "\"retry_period_ms\", \"update_rate_ms\", \"minimum_measurements\"}, got %s",
                       ps.describe(la, b, sizeof b));
    }
    int rc = ps.check_keys(la, kLatencyKeys, "latency_awareness");
    // Durations in ms, kept in ns; the upper bound keeps ns within 64 bits.
    double mm = static_cast<double>(lc->minimum_measurements);
    double scale = static_cast<double>(lc->scale_ns) / 1e6, retry = static_cast<double>(lc->retry_period_ns) / 1e6,
           rate = static_cast<double>(lc->update_rate_ns) / 1e6;
    auto positive_ms = [](double x) { return x > 0 && x <= 1e12; };
    if (!rc)
        rc = ps.number(la, "exclusion_threshold", "latency_awareness.exclusion_threshold", "a number > 1",
                       [](double x) { return x > 1; }, &lc->exclusion_threshold);
    if (!rc)
        rc = ps.number(la, "scale_ms", "latency_awareness.scale_ms", "a number of ms > 0", positive_ms, &scale);
    if (!rc)
        rc = ps.number(la, "retry_period_ms", "latency_awareness.retry_period_ms", "a number of ms > 0", positive_ms,
                       &retry);
    if (!rc)
        rc = ps.number(la, "update_rate_ms", "latency_awareness.update_rate_ms", "a number of ms > 0", positive_ms,
                       &rate);
    if (!rc)
        rc = ps.number(la, "minimum_measurements", "latency_awareness.minimum_measurements", "an integer >= 1",
                       [](double x) { return x >= 1 && x <= 1e15 && is_integer(x); }, &mm);
    if (rc) return rc;
    lc->minimum_measurements = static_cast<uint64_t>(mm);
    lc->scale_ns = static_cast<uint64_t>(scale * 1e6);
    lc->retry_period_ns = static_cast<uint64_t>(retry * 1e6);
    lc->update_rate_ns = static_cast<uint64_t>(rate * 1e6);
    if (!lc->scale_ns) lc->scale_ns = 1;
    if (!lc->update_rate_ns) lc->update_rate_ns = 1;
    lc->enabled = true;
    return SY_OK;
}

int parse_config(Policy *p, const sy_json *config, Parser &ps) {
    Config &c = p->cfg;
    if (ps.h->json_type(config) == SY_JSON_MISSING) return SY_OK; // every default
    if (ps.h->json_type(config) != SY_JSON_OBJECT) {
        char b[64];
        ps.h->set_error(ps.err, SY_ECONFIG, ps.base, "expected an object, got %s", ps.describe(config, b, sizeof b));
        return SY_ECONFIG;
    }
    int rc = ps.check_keys(config, kKeys, "");
    if (!rc) rc = parse_mode(ps, config, &c.mode);
    if (!rc) rc = parse_target(ps, p, config);
    if (!rc) rc = ps.string(config, "preferred_datacenter", &c.preferred_dc);
    if (!rc) rc = ps.string(config, "preferred_rack", &c.preferred_rack);
    if (!rc && c.preferred_rack.s && !c.preferred_dc.s)
        rc = ps.fail("preferred_rack", "needs \"preferred_datacenter\" (a rack is preferred within a datacenter)");
    if (!rc) rc = ps.boolean(config, "token_aware", &c.token_aware);
    if (!rc) rc = ps.boolean(config, "permit_dc_failover", &c.permit_dc_failover);
    if (!rc) rc = ps.boolean(config, "enable_shuffling", &c.enable_shuffling);
    if (!rc) {
        double seed = 0;
        rc = ps.number(config, "seed", "seed", "an integer", [](double x) { return is_integer(x); }, &seed);
        if (!rc && ps.h->json_type(ps.h->json_get(config, "seed")) != SY_JSON_MISSING) {
            c.has_seed = true;
            c.seed = static_cast<int64_t>(seed);
        }
    }
    if (!rc) {
        double msb = c.shard_ignore_msb;
        rc = ps.number(config, "shard_ignore_msb", "shard_ignore_msb", "an integer 0..63",
                       [](double x) { return x >= 0 && x <= 63 && is_integer(x); }, &msb);
        c.shard_ignore_msb = static_cast<uint32_t>(msb);
    }
    if (!rc) rc = parse_latency(ps, config, &c.latency);
    if (!rc && c.mode != Mode::standard) {
        // Options of the default mode do nothing in the others: say so rather than ignore them.
        static const char *const only_default[] = {"preferred_datacenter", "preferred_rack", "token_aware",
                                                   "permit_dc_failover", "enable_shuffling", "latency_awareness",
                                                   "shard_ignore_msb"};
        for (const char *k : only_default)
            if (ps.h->json_type(ps.h->json_get(config, k)) != SY_JSON_MISSING)
                return ps.fail(k, "only used with \"mode\": \"default\" (mode is \"%s\")", mode_name(c.mode));
    }
    return rc;
}

void release(Policy *p) {
    const sy_host *h = p->host;
    p->cfg.target.reset(h);
    p->cfg.preferred_dc.reset(h);
    p->cfg.preferred_rack.reset(h);
    p->target_host.reset(h);
    p->config_path.reset(h);
}

// ---------------------------------------------------------------- vtable

Policy *policy(void *instance) { return static_cast<Policy *>(instance); }

int dp_create(void *instance, const sy_host *host, const sy_json *config, const char *config_path,
              sy_error *err) {
    Policy *p = new (instance) Policy();
    p->host = host;
    Parser ps{host, config_path ? config_path : "", err};
    int rc = parse_config(p, config, ps);
    if (rc) {
        release(p);
        p->~Policy();
        return rc;
    }
    if (!p->config_path.assign(host, config_path ? config_path : "")) {
        release(p);
        p->~Policy();
        host->set_error(err, SY_ENOMEM, config_path, "out of memory");
        return SY_ENOMEM;
    }
    // Successive plans start at successive nodes; where the rotation begins
    // is the seed's, or random so that many clients do not all start at node 0.
    // Without a seed, shuffling off still needs one fixed permutation: pick it now.
    if (!p->cfg.has_seed) p->cfg.seed = static_cast<int64_t>(host->random_u64(host));
    p->rotation.store(p->cfg.has_seed ? static_cast<uint64_t>(p->cfg.seed) : host->random_u64(host));
    return SY_OK;
}

void dp_destroy(void *instance) {
    Policy *p = policy(instance);
    release(p);
    p->~Policy();
}

int dp_attach(void *instance, const sy_topology *topology, void **state, sy_error *err) {
    Policy *p = policy(instance);
    StateHeader *st = nullptr;
    int rc = p->cfg.mode == Mode::single_target ? st_attach(p, topology, &st, err)
             : p->cfg.mode == Mode::round_robin ? rr_attach(p, topology, &st, err)
                                                : dm_attach(p, topology, &st, err);
    if (rc != SY_OK) return rc;
    // Without room for every node's counters the snapshot would silently lose
    // outcomes: refuse it instead, so the update fails and nothing changes.
    if ((rc = stats_attach(p, st, err)) != SY_OK) {
        state_free(p->host, st);
        return rc;
    }
    p->attached_once = true;
    *state = st;
    return SY_OK;
}

void dp_detach(void *instance, void *state) {
    if (!state) return;
    Policy *p = policy(instance);
    stats_detach(p, static_cast<StateHeader *>(state));
    state_free(p->host, static_cast<StateHeader *>(state));
}

int dp_plan_init(void *instance, const void *state, const sy_topology *, const sy_request_view *request,
                 void *plan_state, sy_error *err) {
    Policy *p = policy(instance);
    if (!state) {
        p->host->set_error(err, SY_EINTERNAL, "", "default_policy: no topology attached");
        return SY_EINTERNAL;
    }
    // The default mode first: the others are a branch further.
    if (__builtin_expect(p->cfg.mode == Mode::standard, 1))
        return dm_plan_init(p, static_cast<const DefaultState *>(state), request, plan_state, err);
    if (p->cfg.mode == Mode::single_target)
        return st_plan_init(p, static_cast<const SingleTargetState *>(state), plan_state, err);
    return rr_plan_init(p, static_cast<const RoundRobinState *>(state), plan_state, err);
}

int dp_plan_advance(void *instance, void *plan_state) {
    auto *ps = static_cast<PlanState *>(plan_state);
    Mode mode = policy(instance)->cfg.mode;
    if (__builtin_expect(mode == Mode::standard, 1)) return dm_plan_advance(&ps->standard);
    if (mode == Mode::single_target) return st_plan_advance(&ps->single_target);
    return rr_plan_advance(&ps->round_robin);
}

void dp_plan_fill(void *instance, void *plan_state, sy_target *target) {
    auto *ps = static_cast<PlanState *>(plan_state);
    Mode mode = policy(instance)->cfg.mode;
    if (__builtin_expect(mode == Mode::standard, 1)) return dm_plan_fill(&ps->standard, target);
    if (mode == Mode::single_target) return st_plan_fill(&ps->single_target, target);
    rr_plan_fill(&ps->round_robin, target);
}

const char *outcome_name(uint32_t kind) {
    static const char *const names[] = {"success", "timeout",       "refused",    "reset",
                                        "tls_error", "resolve_error", "overloaded", "other_error"};
    return kind < sizeof names / sizeof names[0] ? names[kind] : "unknown";
}

// Counts successes and failures and feeds latency awareness, in the current
// snapshot's statistics; only targets this plugin produced count.
void dp_on_outcome(void *instance, const void *state, const sy_topology *, const sy_target *target,
                   const sy_outcome *outcome) {
    Policy *p = policy(instance);
    if (!state || !target->node || target->via_count == 0 || !str_eq(target->via[0], kPluginName)) return;
    const auto *st = static_cast<const StateHeader *>(state);
    uint32_t i = resolve_target(st, target);
    if (i == kNoNode) return; // a node the topology no longer has
    const sy_host *h = p->host;
    uint64_t now = p->cfg.latency.enabled ? h->now_ns(h) : 0;
    NodeStats &s = st->stats[i];
    stats_record(p, s, outcome, now);
    if (p->cfg.latency.enabled) maybe_update_min(p, st, now);
    if (h->log_enabled(h, SY_LOG_DEBUG))
        h->log(h, SY_LOG_DEBUG, "outcome %s at node '%s' after %.3f ms: %llu successes, %llu failures",
               outcome_name(outcome->kind), target->node, static_cast<double>(outcome->latency_ns) / 1e6,
               static_cast<unsigned long long>(s.successes.load(std::memory_order_relaxed)),
               static_cast<unsigned long long>(s.failures.load(std::memory_order_relaxed)));
}

} // namespace
} // namespace syp::dp

namespace {
const sy_plugin kDefaultPolicy = {
    .abi_version = SY_PLUGIN_ABI_VERSION,
    .struct_size = sizeof(sy_plugin),
    .name = syp::dp::kPluginName,
    .description = "ScyllaDB-style default policy: token/DC/rack/latency-aware, round_robin, single_target",
    .roles = SY_ROLE_SELECTOR,
    .instance_size = sizeof(syp::dp::Policy),
    .plan_state_size = sizeof(syp::dp::PlanState),
    .reserved_ = 0,
    .create = syp::dp::dp_create,
    .destroy = syp::dp::dp_destroy,
    .attach = syp::dp::dp_attach,
    .detach = syp::dp::dp_detach,
    .plan_init = syp::dp::dp_plan_init,
    .plan_next = syp::next_by_steps<syp::dp::dp_plan_advance, syp::dp::dp_plan_fill>,
    .translate = nullptr,
    .on_outcome = syp::dp::dp_on_outcome,
    .get_interface = nullptr,
    .plan_advance = syp::dp::dp_plan_advance,
    .plan_fill = syp::dp::dp_plan_fill,
    .inherit = nullptr,
};
} // namespace

SY_PLUGIN_DEFINE(default_policy, kDefaultPolicy)
