// CLOCK_MONOTONIC in nanoseconds: the real clock, for timeouts and for
// everything time-based when the application gave no clock of its own.
#pragma once
#include <time.h>

#include <cstdint>

namespace sy {

inline uint64_t mono_ns() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000000000u + static_cast<uint64_t>(ts.tv_nsec);
}

} // namespace sy
