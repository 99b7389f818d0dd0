// The host's resolver: a user callback answering node names with endpoints,
// behind a bounded cache with a TTL, shared by every plugin of a router.
#pragma once
#include <switchyard/switchyard.h>

#include "util/alloc.hpp"

namespace sy {

struct Router;
struct Resolver;

// NULL (no resolver) when cfg is NULL or has no callback.
int resolver_new(const Alloc &a, const sy_resolver *cfg, Resolver **out, sy_error *err);
void resolver_free(Resolver *r);
// The user_data stays the caller's: resolver_free will not call destroy.
void resolver_disarm(Resolver *r);
// See sy_host.resolve.
int resolver_lookup(Router *router, Resolver *r, const char *name, size_t index,
                    sy_endpoint *out, char *buf, size_t buf_size, sy_error *err);

} // namespace sy
