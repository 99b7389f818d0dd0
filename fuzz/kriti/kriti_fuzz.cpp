#include "kriti_fuzz.hpp"

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace kfuzz {

Counts counts;

namespace {

struct Header {
    size_t size;
    size_t pad;  // keeps the payload 16-byte aligned
};

void *count_alloc(size_t size, size_t align, void *) {
    counts.attempts++;
    if (counts.fail_at && counts.attempts == counts.fail_at) {
        counts.injected = true;
        return nullptr;
    }
    if (align > 16) invariant("alignment %zu asked for", align);
    auto *h = static_cast<Header *>(std::malloc(sizeof(Header) + size));
    if (!h) std::abort();
    h->size = size;
    counts.live_bytes += size;
    counts.live_blocks++;
    counts.allocs++;
    return h + 1;
}

void count_free(void *p, size_t size, void *) {
    if (!p) return;
    Header *h = static_cast<Header *>(p) - 1;
    if (h->size != size) invariant("free of %zu bytes with size %zu", h->size, size);
    counts.live_bytes -= size;
    counts.live_blocks--;
    std::free(h);
}

const kriti::Allocator kAllocator = {count_alloc, count_free, nullptr};

const char kContext[] =
    "[{\"_id\": \"6103\", \"index\": 0, \"guid\": \"43A922DA-9665\", \"isActive\": false,"
    " \"balance\": \"$1,179.12\", \"age\": 26, \"eyeColor\": \"blue\", \"name\": \"Shepard Mccall\","
    " \"gender\": \"male\", \"email\": \"shepard@zensus.com\", \"latitude\": -77.486891,"
    " \"tags\": [\"esse\", \"magna\"], \"friends\": [{\"id\": 0, \"name\": \"Wilkerson Gill\"},"
    " {\"id\": 1, \"name\": \"Gonzalez Long\"}], \"connection_set\": {\"a\": \"pool-a\"}},"
    " {\"_id\": \"6104\", \"index\": 1, \"guid\": \"d6efff1c\", \"isActive\": true,"
    " \"balance\": \"$1,227.32\", \"age\": 31, \"eyeColor\": \"brown\", \"name\": \"Wanda Payne\","
    " \"gender\": \"female\", \"email\": \"wanda@zensus.com\", \"latitude\": 12.5,"
    " \"tags\": [], \"friends\": [{\"id\": 0, \"name\": \"Shanna Emerson\"}], \"nothing\": null}]";

}  // namespace

void reset(size_t fail_at) {
    counts.allocs = 0;
    counts.attempts = 0;
    counts.fail_at = fail_at;
    counts.injected = false;
}

const kriti::Allocator &allocator() { return kAllocator; }

void invariant(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    std::fprintf(stderr, "switchyard fuzz invariant: ");
    std::vfprintf(stderr, fmt, ap);
    std::fprintf(stderr, "\n");
    va_end(ap);
    std::abort();
}

void check_no_leak(const char *what) {
    if (counts.live_blocks || counts.live_bytes)
        invariant("%s: %zu blocks (%zu bytes) not freed", what, counts.live_blocks, counts.live_bytes);
}

void check_error(const char *what, const kriti::Error &err, bool compiling) {
    using kriti::ErrorCode;
    bool known;
    switch (err.code) {
    case ErrorCode::ParseError:
    case ErrorCode::LexError: known = compiling; break;
    case ErrorCode::LimitError: known = true; break;
    case ErrorCode::MemoryError: known = counts.injected; break;
    case ErrorCode::AttributeError:
    case ErrorCode::NameError:
    case ErrorCode::TypeError:
    case ErrorCode::IndexError:
    case ErrorCode::FunctionError: known = !compiling; break;
    default: known = false; break;
    }
    if (!known) invariant("%s: unexpected error code %s", what, kriti::error_code_name(err.code));
    size_t len = strnlen(err.message, sizeof err.message);
    if (len == 0 || len == sizeof err.message) invariant("%s: empty or unterminated message", what);
    const kriti::Span &s = err.span;
    if (s.start_col < 1 || s.end_col < 1 || s.start_line > s.end_line ||
        (s.start_line == s.end_line && s.start_col > s.end_col))
        invariant("%s: bad span %u:%u-%u:%u (%s)", what, s.start_line, s.start_col, s.end_line, s.end_col,
                  err.message);
    char json[2048];
    if (kriti::write_error_json(err, json, sizeof json) == 0) invariant("%s: write_error_json", what);
}

void check_roundtrip(const kriti::Value &v) {
    size_t need = kriti::write_json(v, nullptr, 0);
    char *text = static_cast<char *>(std::malloc(need + 1));
    if (!text) std::abort();
    if (kriti::write_json(v, text, need + 1) != need || text[need] != 0)
        invariant("write_json reported %zu bytes, then wrote a different length", need);
    kriti::Arena arena(kriti::default_allocator());
    kriti::Value back;
    kriti::Error err;
    if (!kriti::parse_json(text, need, arena, &back, &err, 4096))
        invariant("output does not read back: %s: %.200s", err.message, text);
    if (!kriti::equal(v, back)) invariant("output reads back different: %.200s", text);
    // compare() walks objects in key order, quadratically: small values only
    if (need < 4096 && kriti::compare(v, back) != 0) invariant("compare() disagrees with equal(): %.200s", text);
    std::free(text);
}

kriti::Limits limits() {
    kriti::Limits l;
    l.max_output_bytes = 256 * 1024;
    l.max_eval_steps = 200000;
    l.max_range_iterations = 5000;
    return l;
}

const kriti::Value &default_context() {
    static kriti::Arena arena(kriti::default_allocator());
    static kriti::Value value;
    static bool ready = false;
    if (!ready) {
        kriti::Error err;
        if (!kriti::parse_json(kContext, sizeof kContext - 1, arena, &value, &err))
            invariant("the default context does not parse: %s", err.message);
        ready = true;
    }
    return value;
}

uint64_t hash(const uint8_t *data, size_t size) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < size; i++) h = (h ^ data[i]) * 1099511628211ull;
    return h;
}

}  // namespace kfuzz
