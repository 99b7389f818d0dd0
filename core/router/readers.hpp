// How a plan pins the router's current snapshot, and how a writer knows
// when a snapshot it replaced is free to go.
//
// A pin with locked read-modify-writes costs full barriers that wait for
// the plan's stores to drain: a fifth of a whole pick. So the first
// kOwnedSlots threads that plan get a slot of their own, whose counters
// only they write, with plain loads and stores. The one ordering that needs
// a barrier (a reader announcing itself before it loads `current`, against
// a writer storing `current` before it looks for readers) is paid for by
// the writer: membarrier(2) makes every running thread of the process
// execute a full barrier, so readers need only a compiler barrier (the
// asymmetric fence of liburcu and folly). Without membarrier (old kernels,
// seccomp) readers fall back to a real fence. Threads past kOwnedSlots
// share striped counters with locked adds.
#pragma once
#include <atomic>
#include <cstdint>

#include "router/router.hpp"

namespace sy {

// This thread's slot: < kOwnedSlots its own, else a shared stripe. -1:
// not yet assigned. Initial-exec: one TLS load, no __tls_get_addr call.
extern __thread int32_t tl_reader_slot __attribute__((tls_model("initial-exec")));
// Set once, before the first router exists: writers issue membarrier.
extern bool g_asymmetric_barrier;

uint32_t reader_slot_assign();
Snapshot *snapshot_acquire_shared(Router *r, uint32_t stripe);
// A plan ended on a retired snapshot: free it if it was the last.
void snapshot_release_retired(Router *r);
// Off the fast paths below: a thread without a slot yet, a shared stripe,
// a retired snapshot.
Snapshot *snapshot_acquire_other(Router *r);
void snapshot_release_other(Snapshot *s);
// Process-wide, once: registers for membarrier. Called before a router
// is published to any thread.
void readers_init();
// Writers, after storing `current`: returns once no reader can still pin
// the snapshot that was current before.
void readers_wait(Router *r);

inline uint32_t reader_slot() {
    int32_t k = tl_reader_slot;
    if (__builtin_expect(k < 0, 0)) return reader_slot_assign();
    return static_cast<uint32_t>(k);
}

// A counter only this thread writes: no locked instruction.
inline void own_add(std::atomic<int64_t> &n, int64_t d, std::memory_order mo) {
    n.store(n.load(std::memory_order_relaxed) + d, mo);
}

inline Snapshot *snapshot_acquire(Router *r) {
    // Unassigned (-1) and shared stripes (>= kOwnedSlots): one compare.
    auto k = static_cast<uint32_t>(tl_reader_slot);
    if (__builtin_expect(k >= kOwnedSlots, 0)) return snapshot_acquire_other(r);
    // Odd while between announcing itself and counting itself in.
    std::atomic<int64_t> &window = r->windows[k].n;
    own_add(window, 1, std::memory_order_relaxed);
    if (g_asymmetric_barrier)
        std::atomic_signal_fence(std::memory_order_seq_cst);
    else
        std::atomic_thread_fence(std::memory_order_seq_cst);
    Snapshot *s = r->current.load(std::memory_order_acquire);
    own_add(s->refs[k].n, 1, std::memory_order_relaxed);
    own_add(window, 1, std::memory_order_release);
    return s;
}

inline void snapshot_release(Snapshot *s) {
    // Read before letting go: once released, a writer may free s.
    bool retired = s->retired.load(std::memory_order_acquire);
    auto k = static_cast<uint32_t>(tl_reader_slot);
    if (__builtin_expect(k < kOwnedSlots && !retired, 1)) {
        own_add(s->refs[k].n, -1, std::memory_order_release);
        return;
    }
    snapshot_release_other(s);
}

} // namespace sy
