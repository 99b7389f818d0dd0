// Plans over one snapshot's State, lazily: plan_init finds where to start,
// each plan_advance moves to one target, plan_fill fills it.
//
// A service plan walks its instances in phases: up ones in the preferred
// datacenter, other up ones, then the up ones that were skipped because a
// failure demoted them (same two tiers), then down ones. Each phase starts
// at the plan's rotation, so successive requests start one instance further.
// A contact plan walks the contact endpoints (source, configured, learned)
// from an offset that moves one endpoint further per liveness window the
// topology has gone without an update; demoted ones, then down ones, last.
#pragma once
#include "service_map/state.hpp"

namespace syp::svc {

struct Filter {
    const char *key;
    const char *str;
    double num;
    uint32_t type; // as Attr
};

struct Plan {
    const State *st;
    const Service *svc;     // NULL: a contact plan
    const char *const *via; // contact plan: its via detail per ContactKind
    uint32_t rot;           // where each phase starts (modulo its size)
    uint64_t now1;          // the clock + 1 once read, else 0
    uint32_t phase, pos, start, lo, hi; // the phase, its range [lo, hi) and its walk
    uint32_t filter_count;
    uint32_t cur; // the instance or contact plan_advance moved to
    bool check; // demotion stamps are looked at (some endpoint has failed)
    Filter filters[kMaxFilters];
    // Positions skipped in the healthy phases because they were demoted:
    // the demoted phases plan exactly these, so a stamp that changes
    // mid-plan can neither drop an instance nor plan it twice.
    uint64_t skipped[kMaxDemotable / 64];
};

int plan_init(void *instance, const void *state, const sy_topology *topo, const sy_request_view *req, void *plan_state,
              sy_error *err);
int plan_advance(void *instance, void *plan_state);
void plan_fill(void *instance, void *plan_state, sy_target *target);

} // namespace syp::svc
