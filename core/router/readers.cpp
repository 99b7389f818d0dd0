// Reader slots: which thread counts where, and the writer's side of the
// barrier pairing (see readers.hpp).
#include "router/readers.hpp"

#include <linux/membarrier.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <mutex>
#include <thread>

namespace sy {

__thread int32_t tl_reader_slot __attribute__((tls_model("initial-exec"))) = -1;
bool g_asymmetric_barrier = false;

namespace {

std::atomic<uint64_t> g_owned{0}; // bit k: slot k has a live thread
std::atomic<uint32_t> g_next_stripe{0};
static_assert(kOwnedSlots <= 64, "g_owned is one word");

long membarrier(int cmd) { return syscall(__NR_membarrier, cmd, 0, 0); }

uint32_t shared_stripe() {
    return kOwnedSlots + g_next_stripe.fetch_add(1, std::memory_order_relaxed) % kSharedStripes;
}

// Hands the slot back when its thread ends. The counts it leaves on
// snapshots stay: only sums mean anything, and the next owner goes on
// from them (the release here orders them before its claim).
struct SlotOwner {
    uint32_t slot = UINT32_MAX;
    ~SlotOwner() {
        if (slot >= kOwnedSlots) return;
        // Plans this thread still releases from later destructors count on
        // a shared stripe, not on a slot another thread may own by then.
        tl_reader_slot = static_cast<int32_t>(shared_stripe());
        g_owned.fetch_and(~(uint64_t{1} << slot), std::memory_order_release);
    }
};
thread_local SlotOwner tl_owner;

} // namespace

void readers_init() {
    static std::once_flag once;
    std::call_once(once, [] {
#if defined(__SANITIZE_THREAD__)
        // TSan cannot see the barrier the kernel runs on readers' behalf.
        return;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
        return;
#endif
#endif
        long cmds = membarrier(MEMBARRIER_CMD_QUERY);
        if (cmds < 0 || !(cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED)) return;
        if (membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) != 0) return;
        g_asymmetric_barrier = true;
        // A forked child is a new process to the kernel: register it again
        // (or fence in its readers), while it has one thread and no reader.
        pthread_atfork(nullptr, nullptr, [] {
            if (g_asymmetric_barrier && membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) != 0)
                g_asymmetric_barrier = false;
        });
    });
}

uint32_t reader_slot_assign() {
    uint64_t owned = g_owned.load(std::memory_order_relaxed);
    for (;;) {
        uint64_t free_bits = ~owned & ((kOwnedSlots == 64) ? ~uint64_t{0} : (uint64_t{1} << kOwnedSlots) - 1);
        if (!free_bits) break;
        uint32_t k = static_cast<uint32_t>(__builtin_ctzll(free_bits));
        if (g_owned.compare_exchange_weak(owned, owned | (uint64_t{1} << k), std::memory_order_acquire,
                                          std::memory_order_relaxed)) {
            tl_owner.slot = k;
            tl_reader_slot = static_cast<int32_t>(k);
            return k;
        }
    }
    uint32_t k = shared_stripe();
    tl_reader_slot = static_cast<int32_t>(k);
    return k;
}

// A reader counts itself in the epoch's slot, then re-reads the epoch: if a
// writer moved on meanwhile, that writer may already have checked the slot,
// so the reader backs out and tries again. Once the epoch is confirmed, the
// writer of the next epoch is bound to wait for this reader before it
// retires the snapshot the reader is about to pin.
Snapshot *snapshot_acquire_shared(Router *r, uint32_t stripe) {
    for (;;) {
        uint64_t e = r->reader_epoch.load();
        std::atomic<int64_t> &slot = r->readers[e & 1][stripe].n;
        slot.fetch_add(1);
        if (r->reader_epoch.load() != e) {
            slot.fetch_sub(1);
            continue;
        }
        Snapshot *s = r->current.load();
        s->refs[kOwnedSlots + stripe].n.fetch_add(1, std::memory_order_relaxed);
        slot.fetch_sub(1, std::memory_order_release);
        return s;
    }
}

Snapshot *snapshot_acquire_other(Router *r) {
    uint32_t k = reader_slot();
    if (k >= kOwnedSlots) return snapshot_acquire_shared(r, k - kOwnedSlots);
    return snapshot_acquire(r); // the slot just assigned: the fast path now
}

void snapshot_release_other(Snapshot *s) {
    // Read before letting go: once released, a writer may free s.
    bool retired = s->retired.load(std::memory_order_acquire);
    Router *r = s->router;
    uint32_t k = reader_slot();
    if (k < kOwnedSlots)
        own_add(s->refs[k].n, -1, std::memory_order_release);
    else
        s->refs[k].n.fetch_sub(1, std::memory_order_release);
    if (retired) snapshot_release_retired(r);
}

void readers_wait(Router *r) {
    // Every thread that announced itself before this point is seen doing
    // so below; every thread that announces itself after loads the new
    // `current`.
    if (!g_asymmetric_barrier || membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) != 0)
        std::atomic_thread_fence(std::memory_order_seq_cst);
    for (const Stripe &w : r->windows) {
        int64_t v = w.n.load(std::memory_order_acquire);
        if (v & 1)
            while (w.n.load(std::memory_order_acquire) == v) std::this_thread::yield();
    }
    uint64_t e = r->reader_epoch.fetch_add(1);
    for (const Stripe &k : r->readers[e & 1])
        while (k.n.load() != 0) std::this_thread::yield();
}

} // namespace sy
