// The token ring of a snapshot and every keyspace's replicas, precomputed.
//
// attach() sorts all nodes' tokens into one ring and, for each distinct
// replication (keyspaces that replicate alike share it), stores the replica
// list of every ring position: a lookup is a binary search plus a slice.
//
// Placement is Cassandra's. The replicas of token t start at the first ring
// token >= t (wrapping). SimpleStrategy takes the next rf distinct nodes.
// NetworkTopologyStrategy does that per datacenter, preferring racks not
// used yet: a node in a rack already used is taken only while there are
// more replicas left to place than racks left unused (Cassandra's
// acceptableRackRepeats = rf - racks). Each DC is placed on its own sub-ring
// (the positions its nodes own), so a DC with few tokens costs no long walks;
// the DCs' lists are then merged in ring order, which is the order LWT
// requests go through.
#pragma once

#include <algorithm>

#include "default_policy/policy.hpp"

namespace syp::dp {

// Replicas kept per ring position; larger replication factors are clamped.
constexpr uint32_t kMaxReplicas = 32;
constexpr size_t kTokenPad = 4; // sentinels after the ring's tokens

// Scylla's shard of a token: the token, unbiased and with its ignore_msb top
// bits dropped, read as a fraction of the shard count.
inline int32_t shard_of(int64_t token, uint32_t shards, uint32_t ignore_msb) {
    uint64_t z = static_cast<uint64_t>(token) + (uint64_t(1) << 63);
    z <<= ignore_msb;
    return static_cast<int32_t>((static_cast<u128>(z) * shards) >> 64);
}

// A token's radix bucket: its top `bits` bits, unbiased so buckets follow
// token order.
inline size_t token_bucket(int64_t token, uint32_t bits) {
    return static_cast<size_t>((static_cast<uint64_t>(token) ^ (uint64_t{1} << 63)) >> (64 - bits));
}

struct ReplicaGroup {
    uint32_t width;        // replicas stored per ring position
    const uint32_t *reps;  // ring length * width node indices
    const uint8_t *counts; // replicas at each position (<= width)
};

struct KeyspaceEntry {
    const char *name;
    int32_t group; // -1: no token awareness for this keyspace
};

// A keyspace by its name's words (zero padded past the NUL, as a request
// view gives it since 0.3): most names are one or two words, so a lookup
// is a hash and a compare or two, not a string search.
struct KeyspaceSlot {
    uint64_t first = 0;             // the name's first word
    size_t len = SIZE_MAX;          // SIZE_MAX: an empty slot
    const uint64_t *words = nullptr; // all len / 8 + 1 words
    int32_t group = -1;
};

inline size_t keyspace_hash(uint64_t first, size_t len) { return (first + len) * 0x9e3779b97f4a7c15ull; }

struct Ring {
    size_t len = 0;
    const int64_t *tokens = nullptr; // sorted
    const uint32_t *owners = nullptr;
    // Radix index over the sorted tokens: bucket b (the top index_bits bits
    // of the unbiased token) starts at ring position index[b]; index has
    // 2^index_bits + 1 entries, the last one len.
    const uint32_t *index = nullptr;
    uint32_t index_bits = 0;
    uint32_t group_count = 0;
    const ReplicaGroup *groups = nullptr;
    size_t keyspace_count = 0;
    const KeyspaceEntry *keyspaces = nullptr; // sorted by name
    // Open addressing over KeyspaceSlot, 2^(64 - ks_shift) slots, at least
    // half empty.
    const KeyspaceSlot *ks_slots = nullptr;
    uint32_t ks_shift = 64;
    size_t ks_mask = 0;
    size_t bytes = 0;                          // memory the ring holds
};

// Node -> datacenter / rack ids (0-based, dense), built once per snapshot.
struct Places {
    uint32_t *dc = nullptr;   // per node
    uint32_t *rack = nullptr; // per node, unique across DCs
    uint32_t dc_count = 0;
    uint32_t *dc_nodes = nullptr; // per dc: node count
    uint32_t *dc_racks = nullptr; // per dc: distinct racks
    const char **dc_name = nullptr;
};

namespace ring_detail {

inline const char *or_empty(const char *s) { return s ? s : ""; }

// Temporary memory, freed when the builder goes away.
struct Scratch {
    static constexpr uint32_t kMax = 4 + 3 * kMaxReplicas;
    const sy_host *h;
    void *p[kMax] = {};
    size_t n[kMax] = {};
    uint32_t count = 0;
    template <class T> T *get(size_t items) {
        if (count == kMax) return nullptr;
        size_t bytes = (items ? items : 1) * sizeof(T);
        void *m = h->alloc(h, bytes, alignof(T) < 16 ? 16 : alignof(T));
        if (!m) return nullptr;
        p[count] = m;
        n[count++] = bytes;
        return static_cast<T *>(m);
    }
    ~Scratch() {
        for (uint32_t i = count; i-- > 0;) h->free(h, p[i], n[i]);
    }
};

struct Placed {
    uint32_t node;
    uint32_t pos; // global ring position it was found at
};

// One datacenter's (or, for SimpleStrategy, the whole ring's) placement.
struct Part {
    uint32_t dc;      // UINT32_MAX: every node (SimpleStrategy)
    uint32_t rf;      // as configured
    uint32_t rf_eff;  // replicas it can place: min(rf, nodes), clamped
    uint32_t racks;   // distinct racks (0: racks are not considered)
    uint32_t *sub;    // global positions its nodes own, increasing
    size_t sub_len;
    Placed *lists;    // sub_len * rf_eff
    uint8_t *counts;  // sub_len
};

// Cassandra's per-DC placement starting at sub-ring index k.
inline void place(const Part &part, const uint32_t *owners, const Places &pl, size_t k) {
    Placed *out = part.lists + k * part.rf_eff;
    uint32_t count = 0, rf_left = part.rf_eff;
    int64_t repeats = static_cast<int64_t>(part.rf) - part.racks; // acceptableRackRepeats
    uint32_t racks_seen[kMaxReplicas];
    uint32_t nracks = 0;
    for (size_t step = 0; step < part.sub_len && rf_left; step++) {
        uint32_t pos = part.sub[(k + step) % part.sub_len];
        uint32_t node = owners[pos];
        bool have = false;
        for (uint32_t i = 0; i < count && !have; i++) have = out[i].node == node;
        if (have) continue;
        if (part.racks) {
            uint32_t rack = pl.rack[node];
            bool seen = false;
            for (uint32_t i = 0; i < nracks && !seen; i++) seen = racks_seen[i] == rack;
            if (seen) {
                if (repeats <= 0) continue;
                repeats--;
            } else if (nracks < kMaxReplicas) {
                racks_seen[nracks++] = rack;
            }
        }
        out[count++] = Placed{node, pos};
        rf_left--;
    }
    part.counts[k] = static_cast<uint8_t>(count);
}

} // namespace ring_detail

// Datacenter and rack ids of every node. Node and rack counts, which
// placement uses, count only nodes that own tokens, as Cassandra's do.
inline bool build_places(const sy_host *h, StateHeader *st, Places *pl) {
    const sy_topology *t = st->topology;
    size_t n = t->node_count;
    pl->dc = state_array<uint32_t>(h, st, n);
    pl->rack = state_array<uint32_t>(h, st, n);
    pl->dc_nodes = state_array<uint32_t>(h, st, n);
    pl->dc_racks = state_array<uint32_t>(h, st, n);
    pl->dc_name = state_array<const char *>(h, st, n);
    ring_detail::Scratch sc{h}; // needed while building only
    auto *rack_first = sc.get<uint32_t>(n); // a node of each rack id
    auto *rack_owns = sc.get<uint8_t>(n);   // the rack has a node with tokens
    if (!pl->dc || !pl->rack || !pl->dc_nodes || !pl->dc_racks || !pl->dc_name || !rack_first || !rack_owns)
        return false;
    std::memset(rack_owns, 0, n ? n : 1);
    uint32_t racks = 0;
    for (size_t i = 0; i < n; i++) {
        const sy_node *node = SY_TOPOLOGY_NODE(t, i);
        const char *dc = ring_detail::or_empty(node->datacenter);
        uint32_t d = 0;
        while (d < pl->dc_count && std::strcmp(pl->dc_name[d], dc) != 0) d++;
        if (d == pl->dc_count) pl->dc_name[pl->dc_count++] = dc;
        pl->dc[i] = d;
        const char *rack = ring_detail::or_empty(node->rack);
        uint32_t r = 0;
        while (r < racks && !(pl->dc[rack_first[r]] == d &&
                              std::strcmp(ring_detail::or_empty(SY_TOPOLOGY_NODE(t, rack_first[r])->rack), rack) == 0))
            r++;
        if (r == racks) rack_first[racks++] = static_cast<uint32_t>(i);
        pl->rack[i] = r;
        if (!node->token_count) continue;
        pl->dc_nodes[d]++;
        if (!rack_owns[r]) {
            rack_owns[r] = 1;
            pl->dc_racks[d]++;
        }
    }
    return true;
}

inline uint32_t find_dc(const Places &pl, const char *name) {
    for (uint32_t d = 0; d < pl.dc_count; d++)
        if (std::strcmp(pl.dc_name[d], name) == 0) return d;
    return UINT32_MAX;
}

// A replication as placement parts; false: not token-aware (no parts).
struct Replication {
    uint32_t strategy;
    uint32_t part_count;
    uint32_t dc[kMaxReplicas];
    uint32_t rf[kMaxReplicas];
    bool same(const Replication &o) const {
        if (strategy != o.strategy || part_count != o.part_count) return false;
        for (uint32_t i = 0; i < part_count; i++)
            if (dc[i] != o.dc[i] || rf[i] != o.rf[i]) return false;
        return true;
    }
};

inline bool replication_of(const sy_keyspace *ks, const Places &pl, Replication *r) {
    *r = Replication{};
    r->strategy = ks->strategy;
    if (ks->strategy == SY_STRATEGY_SIMPLE) {
        if (!ks->replication_factor) return false;
        r->part_count = 1;
        r->dc[0] = UINT32_MAX;
        r->rf[0] = ks->replication_factor;
        return true;
    }
    if (ks->strategy != SY_STRATEGY_NETWORK_TOPOLOGY) return false;
    for (size_t i = 0; i < ks->dc_count && r->part_count < kMaxReplicas; i++) {
        uint32_t d = find_dc(pl, ks->dcs[i].datacenter);
        if (d == UINT32_MAX || ks->dcs[i].replication_factor == 0) continue;
        uint32_t at = r->part_count++; // kept sorted by dc id: equal replications compare equal
        while (at && r->dc[at - 1] > d) {
            r->dc[at] = r->dc[at - 1];
            r->rf[at] = r->rf[at - 1];
            at--;
        }
        r->dc[at] = d;
        r->rf[at] = ks->dcs[i].replication_factor;
    }
    return r->part_count > 0;
}

// Builds one group's replica lists. false: out of memory.
inline bool build_group(const sy_host *h, StateHeader *st, const Ring &ring, const Places &pl,
                        const Replication &rep, ReplicaGroup *g) {
    using namespace ring_detail;
    Scratch sc{h};
    ring_detail::Part parts[kMaxReplicas];
    uint32_t nparts = 0, width = 0;
    size_t distinct_nodes = 0; // nodes that own tokens, for SimpleStrategy
    for (uint32_t d = 0; d < pl.dc_count; d++) distinct_nodes += pl.dc_nodes[d];
    for (uint32_t i = 0; i < rep.part_count; i++) {
        Part &p = parts[nparts];
        p = Part{};
        p.dc = rep.dc[i];
        p.rf = rep.rf[i];
        size_t nodes = p.dc == UINT32_MAX ? distinct_nodes : pl.dc_nodes[p.dc];
        p.racks = p.dc == UINT32_MAX ? 0 : pl.dc_racks[p.dc];
        p.rf_eff = static_cast<uint32_t>(std::min<size_t>({p.rf, nodes, kMaxReplicas - width}));
        if (!p.rf_eff) continue;
        size_t len = 0;
        for (size_t j = 0; j < ring.len; j++) len += p.dc == UINT32_MAX || pl.dc[ring.owners[j]] == p.dc;
        if (!len) continue;
        p.sub = sc.get<uint32_t>(len);
        p.lists = sc.get<Placed>(len * p.rf_eff);
        p.counts = sc.get<uint8_t>(len);
        if (!p.sub || !p.lists || !p.counts) return false;
        p.sub_len = 0;
        for (size_t j = 0; j < ring.len; j++)
            if (p.dc == UINT32_MAX || pl.dc[ring.owners[j]] == p.dc) p.sub[p.sub_len++] = static_cast<uint32_t>(j);
        for (size_t k = 0; k < p.sub_len; k++) place(p, ring.owners, pl, k);
        width += p.rf_eff;
        nparts++;
    }
    g->width = width;
    if (!width) return true;
    auto *reps = state_array<uint32_t>(h, st, ring.len * width);
    auto *counts = state_array<uint8_t>(h, st, ring.len);
    if (!reps || !counts) return false;
    size_t cursor[kMaxReplicas] = {};
    for (size_t i = 0; i < ring.len; i++) {
        Placed merged[kMaxReplicas];
        uint32_t m = 0;
        for (uint32_t q = 0; q < nparts; q++) {
            Part &p = parts[q];
            while (cursor[q] < p.sub_len && p.sub[cursor[q]] < i) cursor[q]++;
            size_t k = cursor[q] == p.sub_len ? 0 : cursor[q];
            const Placed *l = p.lists + k * p.rf_eff;
            for (uint32_t e = 0; e < p.counts[k]; e++) {
                // insertion by ring distance from i: the order a ring walk meets them
                Placed x = l[e];
                size_t dx = (x.pos + ring.len - i) % ring.len;
                uint32_t at = m++;
                while (at && (merged[at - 1].pos + ring.len - i) % ring.len > dx) {
                    merged[at] = merged[at - 1];
                    at--;
                }
                merged[at] = x;
            }
        }
        for (uint32_t e = 0; e < m; e++) reps[i * width + e] = merged[e].node;
        counts[i] = static_cast<uint8_t>(m);
    }
    g->reps = reps;
    g->counts = counts;
    return true;
}

// The keyspace hash table (Ring::ks_slots), names copied into whole words.
inline bool build_keyspace_slots(const sy_host *h, StateHeader *st, const KeyspaceEntry *kss, size_t nks,
                                 Ring *ring) {
    uint32_t bits = 1;
    while ((size_t{1} << bits) < 2 * nks) bits++;
    size_t slots = size_t{1} << bits;
    auto *table = state_array<KeyspaceSlot>(h, st, slots);
    if (!table) return false;
    for (size_t i = 0; i < slots; i++) table[i] = KeyspaceSlot{};
    for (size_t k = 0; k < nks; k++) {
        size_t len = std::strlen(kss[k].name);
        auto *words = state_array<uint64_t>(h, st, len / 8 + 1); // zeroed
        if (!words) return false;
        std::memcpy(words, kss[k].name, len);
        size_t at = keyspace_hash(words[0], len) >> (64 - bits);
        while (table[at].len != SIZE_MAX) at = (at + 1) & (slots - 1);
        table[at] = KeyspaceSlot{words[0], len, words, kss[k].group};
        ring->bytes += (len / 8 + 1) * 8;
    }
    ring->ks_slots = table;
    ring->ks_shift = 64 - bits;
    ring->ks_mask = slots - 1;
    ring->bytes += slots * sizeof(KeyspaceSlot);
    return true;
}

// The ring and every keyspace's replicas. SY_OK or SY_ENOMEM.
inline int build_ring(const sy_host *h, StateHeader *st, const Places &pl, Ring *ring) {
    const sy_topology *t = st->topology;
    size_t total = 0;
    for (size_t i = 0; i < t->node_count; i++) total += SY_TOPOLOGY_NODE(t, i)->token_count;
    struct Entry {
        int64_t token;
        uint32_t node;
    };
    ring_detail::Scratch sc{h};
    auto *entries = sc.get<Entry>(total);
    // + kTokenPad sentinels (INT64_MAX): ring_position reads past a bucket
    auto *tokens = state_array<int64_t>(h, st, total + kTokenPad);
    auto *owners = state_array<uint32_t>(h, st, total);
    if (!entries || !tokens || !owners) return SY_ENOMEM;
    size_t k = 0;
    for (size_t i = 0; i < t->node_count; i++) {
        const sy_node *n = SY_TOPOLOGY_NODE(t, i);
        for (size_t j = 0; j < n->token_count; j++) entries[k++] = Entry{n->tokens[j], static_cast<uint32_t>(i)};
    }
    std::sort(entries, entries + total, [](const Entry &a, const Entry &b) {
        return a.token != b.token ? a.token < b.token : a.node < b.node;
    });
    for (size_t i = 0; i < total; i++) {
        tokens[i] = entries[i].token;
        owners[i] = entries[i].node;
    }
    for (size_t i = 0; i < kTokenPad; i++) tokens[total + i] = INT64_MAX;
    ring->len = total;
    ring->tokens = tokens;
    ring->owners = owners;
    ring->bytes = total * (sizeof(int64_t) + sizeof(uint32_t));
    if (total) {
        // About one token per bucket (Murmur3 tokens are uniform), at most
        // 2^20 buckets (4 MiB for rings past a million tokens).
        uint32_t bits = 1;
        while (bits < 20 && (size_t{1} << bits) < total) bits++;
        size_t buckets = size_t{1} << bits;
        auto *index = state_array<uint32_t>(h, st, buckets + 1);
        if (!index) return SY_ENOMEM;
        size_t at = 0;
        for (size_t b = 0; b < buckets; b++) {
            while (at < total && token_bucket(tokens[at], bits) < b) at++;
            index[b] = static_cast<uint32_t>(at);
        }
        index[buckets] = static_cast<uint32_t>(total);
        ring->index = index;
        ring->index_bits = bits;
        ring->bytes += (buckets + 1) * sizeof(uint32_t);
    }

    size_t nks = t->keyspace_count;
    auto *kss = state_array<KeyspaceEntry>(h, st, nks);
    auto *groups = state_array<ReplicaGroup>(h, st, nks);
    auto *reps = sc.get<Replication>(nks);
    if (!kss || !groups || !reps) return SY_ENOMEM;
    uint32_t ngroups = 0;
    for (size_t i = 0; i < nks; i++) {
        const sy_keyspace *ks = SY_TOPOLOGY_KEYSPACE(t, i);
        kss[i].name = ks->name;
        kss[i].group = -1;
        Replication r;
        if (!total || !replication_of(ks, pl, &r)) continue;
        uint32_t g = 0;
        while (g < ngroups && !reps[g].same(r)) g++;
        if (g == ngroups) {
            if (!build_group(h, st, *ring, pl, r, &groups[g])) return SY_ENOMEM;
            if (!groups[g].width) continue;
            reps[ngroups++] = r;
            ring->bytes += total * (groups[g].width * sizeof(uint32_t) + 1);
        }
        kss[i].group = static_cast<int32_t>(g);
    }
    std::sort(kss, kss + nks, [](const KeyspaceEntry &a, const KeyspaceEntry &b) {
        return std::strcmp(a.name, b.name) < 0;
    });
    if (nks && !build_keyspace_slots(h, st, kss, nks, ring)) return SY_ENOMEM;
    ring->group_count = ngroups;
    ring->groups = groups;
    ring->keyspace_count = nks;
    ring->keyspaces = kss;
    return SY_OK;
}

// The replica group of a keyspace, or -1.
// strcmp's order, inline: keyspace names are short, and the call was most
// of the cost of comparing one per plan.
inline int name_cmp(const char *a, const char *b) {
    for (;; a++, b++) {
        auto x = static_cast<unsigned char>(*a), y = static_cast<unsigned char>(*b);
        if (x != y || !x) return x - y;
    }
}

// n words of a and b equal (b unaligned). A loop, not memcmp: GCC drops a
// `len < 8 ||` guard before memcmp(.., 0) and calls it on every lookup.
inline bool same_words(const uint64_t *a, const char *b, size_t n) {
    for (size_t i = 0; i < n; i++) {
        uint64_t w;
        std::memcpy(&w, b + 8 * i, sizeof w);
        if (w != a[i]) return false;
    }
    return true;
}

// The same from the name's words and length (a view since 0.3).
inline int32_t keyspace_group_words(const Ring &ring, const char *name, size_t len) {
    if (!ring.ks_slots) return -1;
    uint64_t first;
    std::memcpy(&first, name, sizeof first);
    for (size_t at = keyspace_hash(first, len) >> ring.ks_shift;; at = (at + 1) & ring.ks_mask) {
        const KeyspaceSlot &e = ring.ks_slots[at];
        if (e.first == first && e.len == len && same_words(e.words + 1, name + 8, len / 8)) return e.group;
        if (e.len == SIZE_MAX) return -1;
    }
}

inline int32_t keyspace_group(const Ring &ring, const char *name) {
    size_t lo = 0, hi = ring.keyspace_count;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = name_cmp(ring.keyspaces[mid].name, name);
        if (c == 0) return ring.keyspaces[mid].group;
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return -1;
}

// The ring position whose replicas serve token: the first token >= it.
// The radix index narrows the search to the token's bucket (about one
// token), so a lookup is two dependent loads instead of log2(len) of them.
// A bucket of up to kTokenPad tokens is counted without a branch: every
// token after the bucket (the sentinels included) is >= token, so counting
// the kTokenPad tokens from its start is exact. A larger (skewed) bucket
// gets a branchless binary search, logarithmic.
inline size_t ring_position(const Ring &ring, int64_t token) {
    if (!ring.len) return 0;
    size_t b = token_bucket(token, ring.index_bits);
    size_t lo = ring.index[b];
    size_t n = ring.index[b + 1] - lo;
    const int64_t *base = ring.tokens + lo;
    size_t at;
    if (__builtin_expect(n <= kTokenPad, 1)) {
        static_assert(kTokenPad == 4, "four compares below");
        at = lo + static_cast<size_t>(base[0] < token) + static_cast<size_t>(base[1] < token) +
             static_cast<size_t>(base[2] < token) + static_cast<size_t>(base[3] < token);
    } else {
        while (n > 0) {
            size_t half = n / 2;
            bool right = base[half] < token;
            base = right ? base + half + 1 : base;
            n = right ? n - half - 1 : half;
        }
        at = static_cast<size_t>(base - ring.tokens);
    }
    return at == ring.len ? 0 : at;
}

} // namespace syp::dp
