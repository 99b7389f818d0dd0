// Finding the routes that match a name: a per-snapshot cache answers a name
// seen before without running a single pattern; a miss scans the table in
// lookup order, skipping (when anchored) patterns whose first byte cannot
// match the name's, and fills the cache.
#pragma once
#include "common/words.hpp"
#include "static_routes/routes.hpp"

#include <cstring>

namespace sr {

constexpr uint32_t kEnd = UINT32_MAX;
constexpr uint32_t kBatch = 6;      // matches per cache entry and per scan
constexpr size_t kCacheName = 84;   // longer names are never cached
constexpr uint32_t kProbes = 4;

// 128 bytes: filled once per snapshot (a slot is claimed, written, then
// published), never overwritten, so readers need no lock.
struct alignas(64) CacheSlot {
    std::atomic<uint32_t> state{0}; // 0 empty, 1 being filled, 2 ready
    uint8_t len = 0;
    uint8_t count = 0;
    uint16_t pad_ = 0;
    uint64_t hash = 0;
    uint32_t resume = kEnd; // scan on from here after idx[] (more than kBatch matches)
    uint32_t idx[kBatch] = {};
    char name[kCacheName] = {};
};
static_assert(sizeof(CacheSlot) == 128, "a cache slot is two cache lines");

// One snapshot's view: the table it pinned and its cache.
struct State {
    Table *table = nullptr;
    CacheSlot *slots = nullptr;
    uint32_t nslots = 0; // a power of two, or 0 (no cache)
};

// A batch of matches in lookup order and where to go on.
struct Matches {
    uint32_t count = 0;
    uint32_t idx[kBatch];
    uint32_t resume = kEnd;
};

inline uint64_t name_hash(const char *s, size_t n) { return syp::hash_bytes(s, n); }

inline bool cache_get(const State &st, const char *name, size_t len, uint64_t hash, Matches *m) {
    if (!st.nslots || len > kCacheName) return false;
    for (uint32_t p = 0; p < kProbes; p++) {
        const CacheSlot &s = st.slots[(hash + p) & (st.nslots - 1)];
        uint32_t state = s.state.load(std::memory_order_acquire);
        if (state == 0) return false;
        if (state != 2 || s.hash != hash || s.len != len || !syp::same_bytes(s.name, name, len))
            continue;
        m->count = s.count;
        std::memcpy(m->idx, s.idx, sizeof m->idx);
        m->resume = s.resume;
        return true;
    }
    return false;
}

inline void cache_put(const State &st, const char *name, size_t len, uint64_t hash, const Matches &m) {
    if (!st.nslots || len > kCacheName) return;
    for (uint32_t p = 0; p < kProbes; p++) {
        CacheSlot &s = st.slots[(hash + p) & (st.nslots - 1)];
        uint32_t expect = 0;
        if (!s.state.compare_exchange_strong(expect, 1, std::memory_order_acquire)) continue;
        s.len = static_cast<uint8_t>(len);
        s.count = static_cast<uint8_t>(m.count);
        s.hash = hash;
        s.resume = m.resume;
        std::memcpy(s.idx, m.idx, sizeof s.idx);
        std::memcpy(s.name, name, len);
        s.state.store(2, std::memory_order_release);
        return;
    }
}

// Match data from a small buffer on the caller's stack, so a cold lookup
// allocates nothing (JIT matching needs no heap frames).
struct StackMatcher {
    alignas(16) unsigned char buf[512];
    size_t used = 0;
    pcre2_general_context *g = nullptr;
    pcre2_match_data *md = nullptr;

    static void *take(size_t size, void *data) {
        auto *self = static_cast<StackMatcher *>(data);
        size_t at = (self->used + 15) & ~size_t{15};
        if (at + size > sizeof self->buf) return nullptr;
        self->used = at + size;
        return self->buf + at;
    }
    static void give(void *, void *) {}
    bool init() {
        g = pcre2_general_context_create(take, give, this);
        md = g ? pcre2_match_data_create(1, g) : nullptr;
        return md != nullptr;
    }
    StackMatcher() = default;
    StackMatcher(const StackMatcher &) = delete;
    StackMatcher &operator=(const StackMatcher &) = delete;
};

// A route compiled without JIT matches with heap frames: it gets match data
// from the heap for its match (only where PCRE2 has no JIT).
inline int match_one(const Table &t, const Route &r, const char *name, size_t len, StackMatcher &sm,
                     pcre2_general_context *heap) {
    if (r.jit) return route_match(t, r, name, len, sm.md);
    pcre2_match_data *md = pcre2_match_data_create(1, heap);
    if (!md) return PCRE2_ERROR_NOMEMORY;
    int rc = route_match(t, r, name, len, md);
    pcre2_match_data_free(md);
    return rc;
}

// Up to kBatch matches at positions >= from. 0, or PCRE2's code and the
// route that failed.
inline int scan(const Table &t, const char *name, size_t len, uint32_t from, StackMatcher &sm,
                pcre2_general_context *heap, Matches *m, const Route **bad) {
    m->count = 0;
    m->resume = kEnd;
    auto consider = [&](uint32_t pos) -> int {
        if (m->count == kBatch) {
            m->resume = pos;
            return 1;
        }
        const Route &r = *t.routes[pos];
        if (r.prefix_len && (len < r.prefix_len || std::memcmp(name, r.prefix, r.prefix_len) != 0)) return 0;
        int rc = match_one(t, r, name, len, sm, heap);
        if (rc < 0) {
            *bad = t.routes[pos];
            return rc;
        }
        if (rc == 1) m->idx[m->count++] = pos;
        return 0;
    };
    if (!t.bucket_off || len == 0) {
        for (uint32_t pos = from; pos < t.count; pos++)
            if (int rc = consider(pos)) return rc < 0 ? rc : 0;
        return 0;
    }
    // merge the name's first-byte bucket with the routes of unknown first byte
    auto b0 = static_cast<unsigned char>(name[0]);
    const uint32_t *a = t.bucket_pos + t.bucket_off[b0], *ae = t.bucket_pos + t.bucket_off[b0 + 1];
    const uint32_t *u = t.any_pos, *ue = t.any_pos + t.any_count;
    a = std::lower_bound(a, ae, from);
    u = std::lower_bound(u, ue, from);
    while (a != ae || u != ue) {
        uint32_t pos = (u == ue || (a != ae && *a < *u)) ? *a++ : *u++;
        if (int rc = consider(pos)) return rc < 0 ? rc : 0;
    }
    return 0;
}

} // namespace sr
