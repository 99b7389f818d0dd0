// Installing a new immutable table in a plugin instance and republishing the
// router's snapshot, so attach() builds per-snapshot state over it. Plans
// keep the table their snapshot pinned; the instance's reference to the old
// table is dropped only after republish returns: it takes the router's
// update lock, so every attach that could have read the old table has
// finished by then. Callers serialise changes with their own mutex.
#pragma once
#include <switchyard/plugin.h>

#include <atomic>

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

} // namespace syp
