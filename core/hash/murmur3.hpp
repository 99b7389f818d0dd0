// The token of Cassandra's Murmur3Partitioner: MurmurHash3 x64/128 with seed
// 0, its first 64 bits, with Cassandra's quirks kept bit for bit.
#pragma once
#include <cstddef>
#include <cstdint>

namespace sy {

// INT64_MIN for an empty key (Cassandra's minimum token); never INT64_MIN
// otherwise (Cassandra normalises it to INT64_MAX).
int64_t murmur3_token(const void *key, size_t len);

} // namespace sy
