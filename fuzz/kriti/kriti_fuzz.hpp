// What the two Kriti harnesses share: a counting allocator with one-shot
// failure injection, checks of errors and results, and a fixed context.
// A broken invariant prints "switchyard fuzz invariant: ..." and aborts, so
// libFuzzer and the corpus replay both report it as a crash.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kriti/kriti.hpp"

namespace kfuzz {

// Inputs above this are skipped (-max_len in run-libfuzzer.sh).
constexpr size_t kMaxInput = 64 * 1024;

struct Counts {
    size_t live_bytes = 0;
    size_t live_blocks = 0;
    size_t allocs = 0;   // successful, since reset()
    size_t attempts = 0;
    size_t fail_at = 0;  // 1-based attempt that fails; 0: none
    bool injected = false;
};

extern Counts counts;
void reset(size_t fail_at);
const kriti::Allocator &allocator();

[[noreturn]] void invariant(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

// Every allocation was freed.
void check_no_leak(const char *what);
// A failed call: a code this stage may raise, a non-empty NUL-terminated
// message, a well-formed span. Memory Errors only when one was injected.
void check_error(const char *what, const kriti::Error &err, bool compiling);
// A result: it serialises, reads back, and equals itself.
void check_roundtrip(const kriti::Value &v);

// The limits both harnesses evaluate with: the defaults, but smaller output
// and work budgets so that an input runs in milliseconds.
kriti::Limits limits();

// A context shaped like the conformance suite's source.json (two people),
// so that the conformance templates used as seeds evaluate somewhere.
const kriti::Value &default_context();

uint64_t hash(const uint8_t *data, size_t size);

}  // namespace kfuzz
