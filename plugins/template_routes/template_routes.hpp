// template_routes' model: the configured endpoints, the compiled template,
// and what a template's result means (Hasura's dynamic routing).
#pragma once
#include <switchyard/plugin.h>

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "template_routes/kriti/kriti.hpp"

namespace tr {

constexpr const char kPluginName[] = "template_routes";

struct Endpoint {
    char *name = nullptr; // "primary", a replica's or a member's name
    char *host = nullptr;
    uint32_t port = 0;
    char *url = nullptr;  // handed through in the target (url or url_from_env)
    char *via = nullptr;  // {"routing_to":...,"value":...} for a member
};

// Routes straight to the primary, skipping the template, when a header or
// session variable equals a value (Hasura skips templates for admins).
struct Bypass {
    bool session = false;
    char *name = nullptr; // lowercased
    char *equals = nullptr;
};

// A value a compiled template reads through a bound chain (kriti's
// bind_paths): a constant of `$`, or one taken from the request as it is
// scanned, so no header or session map need be built for it.
enum class SlotKind : uint8_t { Constant, Header, Session, OperationType, OperationName };
struct SlotSpec {
    SlotKind kind = SlotKind::Constant;
    const char *name = nullptr; // Header, Session: as the template spells it (points into the program)
    uint32_t len = 0;
    const kriti::Value *constant = nullptr;
};
constexpr uint32_t kMaxSlots = 32; // more distinct chains stay lookups on `$`

// What a compiled template reads from a request (template_compile finds
// it): the maps some unbound lookup can reach, and the bound values.
struct ContextUse {
    bool headers = true;
    bool session = true;
    bool dollar = true; // some lookup on `$` is left unbound: `$` is built
    uint32_t slot_count = 0;
    uint32_t header_slots = 0, session_slots = 0;
    SlotSpec slots[kMaxSlots];
};

struct Config {
    char *template_text = nullptr;
    size_t template_len = 0;
    kriti::Program *program = nullptr;
    ContextUse use;
    Endpoint primary;
    bool has_primary = false;
    Endpoint *replicas = nullptr;
    uint32_t replica_count = 0;
    Endpoint *members = nullptr;
    uint32_t member_count = 0;
    Bypass *bypass = nullptr;
    uint32_t bypass_count = 0;
    bool functions = true;    // the 15 built-ins (Hasura's runtime passes none)
    bool seeded = false;
    uint64_t seed = 0;
};

enum class RoutingTo : uint8_t { Primary, ReadReplicas, Default, ConnectionSet };
enum class Operation : uint8_t { Query, Mutation, Subscription };

// What a request routes to: the template's answer, then where it lands.
struct Decision {
    RoutingTo routing_to = RoutingTo::Primary;
    int32_t member = -1;    // ConnectionSet: index in members
    bool to_replicas = false; // where Default / ReadReplicas land
    Operation op = Operation::Query;
};

struct Instance {
    const sy_host *host = nullptr;
    kriti::Allocator ka{};
    kriti::Limits limits;
    Config cfg;
    // The constant part of `$`: primary, read_replicas, default, connection_set.
    kriti::Arena *consts = nullptr;
    kriti::Member *fixed = nullptr; // 4 members
    std::atomic<uint64_t> draws{0};
};

// config.cpp
int config_load(Instance *in, const sy_json *config, const char *path, sy_error *err);
void config_free(Instance *in);
// Compiles src and checks it against the config (every connection_set
// member it names exists, read_replicas only with replicas).
int template_compile(const Instance *in, const char *src, size_t len, const char *path,
                     kriti::Program **out, ContextUse *use, sy_error *err);

// resolve.cpp
// Evaluates program for a request context (may be NULL) and decodes the
// result. On success *result is what the template yielded (in arena).
int resolve(const Instance *in, const kriti::Program *program, const ContextUse &use, const sy_json *context,
            kriti::Arena &arena, Decision *d, kriti::Value *result, sy_error *err);

const char *routing_name(RoutingTo r);

} // namespace tr
