// Installing a new immutable table in a plugin instance and republishing the
// router's snapshot, so attach() builds per-snapshot state over it. Plans
// keep the table their snapshot pinned; the instance's reference to the old
// table is dropped only after republish returns: it takes the router's
// update lock, so every attach that could have read the old table has
// finished by then. Callers serialise changes with their own mutex.
#pragma once
#include <switchyard/plugin.h>

#include <atomic>
#include <mutex>

namespace syp {

// On failure the old table stays current and `next` is released.
template <class Table, class Unref>
int swap_and_republish(const sy_host *host, std::atomic<Table *> &current, Table *next, Unref unref,
                       sy_error *err) {
    Table *old = current.exchange(next);
    int rc = host->republish(host, err);
    if (rc != SY_OK) {
        current.store(old);
        unref(next);
        return rc;
    }
    unref(old);
    return SY_OK;
}

// The current table with a reference taken, read under the mutex that
// serialises its changes (another instance's, on a reload's inherit): the
// caller drops it with the table's unref. NULL when there is none.
template <class Table> Table *pin_current(std::mutex &mu, const std::atomic<Table *> &current) {
    std::lock_guard<std::mutex> g(mu);
    Table *t = current.load();
    if (t) t->refs.fetch_add(1, std::memory_order_relaxed);
    return t;
}

} // namespace syp
