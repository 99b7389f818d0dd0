// Per-node outcome counters: the hook latency awareness will build on.
//
// on_outcome runs concurrently with everything (plans, attach, other
// outcomes) and is not handed the per-snapshot state, so the counters live in
// the instance, keyed by a 64-bit hash of the node id (ids are stable across
// snapshots, node indices are not). The table is open-addressed and never
// shrinks. attach() grows it when a topology has more nodes than half its
// slots: a larger table is published atomically and the old one is kept
// (counts copied) until destroy, so a concurrent on_outcome never touches
// freed memory. An outcome recorded into the old table during the copy is
// lost; these counters are statistics, not accounting.
#pragma once

#include <switchyard/plugin.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <new>

namespace syp::dp {

struct StatSlot {
    std::atomic<uint64_t> key{0}; // 0: free
    std::atomic<uint64_t> successes{0};
    std::atomic<uint64_t> failures{0};
};

struct StatTable {
    size_t alloc_size;
    StatTable *older; // superseded tables, freed at destroy
    uint64_t mask;    // slots - 1 (a power of two minus one)
    StatSlot *slots() { return reinterpret_cast<StatSlot *>(this + 1); }
};

struct NodeCounts {
    uint64_t successes;
    uint64_t failures;
};

class OutcomeStats {
public:
    // Writers only (attach is serialised by the host). Returns false when a
    // larger table could not be allocated (the old one stays in use).
    bool reserve(const sy_host *h, size_t nodes) {
        StatTable *cur = table_.load(std::memory_order_acquire);
        size_t want = 16;
        while (want < nodes * 2) want *= 2;
        if (cur && cur->mask + 1 >= want) return true;
        size_t size = sizeof(StatTable) + want * sizeof(StatSlot);
        void *mem = h->alloc(h, size, alignof(StatTable));
        if (!mem) return false;
        auto *t = new (mem) StatTable{size, cur, want - 1};
        for (size_t i = 0; i < want; i++) new (&t->slots()[i]) StatSlot();
        if (cur) {
            for (uint64_t i = 0; i <= cur->mask; i++) {
                StatSlot &o = cur->slots()[i];
                uint64_t k = o.key.load(std::memory_order_acquire);
                if (!k) continue;
                StatSlot *n = find(t, k);
                if (!n) continue;
                n->successes.store(o.successes.load(std::memory_order_relaxed), std::memory_order_relaxed);
                n->failures.store(o.failures.load(std::memory_order_relaxed), std::memory_order_relaxed);
            }
        }
        table_.store(t, std::memory_order_release);
        return true;
    }

    // Any thread. Returns false when the table is full or absent.
    bool record(const char *node, bool success, NodeCounts *out) {
        StatTable *t = table_.load(std::memory_order_acquire);
        if (!t || !node) return false;
        StatSlot *s = find(t, hash(node));
        if (!s) return false;
        uint64_t ok = success ? s->successes.fetch_add(1, std::memory_order_relaxed) + 1
                              : s->successes.load(std::memory_order_relaxed);
        uint64_t bad = success ? s->failures.load(std::memory_order_relaxed)
                               : s->failures.fetch_add(1, std::memory_order_relaxed) + 1;
        if (out) *out = NodeCounts{ok, bad};
        return true;
    }

    void release(const sy_host *h) {
        StatTable *t = table_.exchange(nullptr);
        while (t) {
            StatTable *older = t->older;
            h->free(h, t, t->alloc_size);
            t = older;
        }
    }

private:
    // FNV-1a, never 0 (0 marks a free slot).
    static uint64_t hash(const char *s) {
        uint64_t x = 0xcbf29ce484222325ull;
        for (; *s; s++) x = (x ^ static_cast<unsigned char>(*s)) * 0x100000001b3ull;
        return x ? x : 1;
    }

    // Finds or claims the slot of key; NULL when the table is full.
    static StatSlot *find(StatTable *t, uint64_t key) {
        for (uint64_t i = 0, at = key & t->mask; i <= t->mask; i++, at = (at + 1) & t->mask) {
            StatSlot &s = t->slots()[at];
            uint64_t k = s.key.load(std::memory_order_acquire);
            if (k == 0) {
                uint64_t expected = 0;
                if (s.key.compare_exchange_strong(expected, key, std::memory_order_acq_rel)) return &s;
                k = expected;
            }
            if (k == key) return &s;
        }
        return nullptr;
    }

    std::atomic<StatTable *> table_{nullptr};
};

} // namespace syp::dp
