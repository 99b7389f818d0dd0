// Fuzz target: the Kriti lexer and parser (kriti::compile) on arbitrary
// bytes. It checks that
//  - a rejected template gives a Parse, Lex or Limit Error with a message
//    and a well-formed span, never a crash, however deep or long the input;
//  - a compiled template walks through for_each_path, and evaluates against
//    a fixed context (with the built-ins) to a value that re-serialises and
//    reads back equal, or to a runtime error of a known kind;
//  - compile, evaluation and program_free leave nothing allocated.
#include <cstdint>
#include <cstring>

#include "kriti_fuzz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

namespace {

void on_path(const kriti::PathStep *steps, size_t count, const kriti::Span &span, void *ud) {
    auto *n = static_cast<size_t *>(ud);
    ++*n;
    // count 0 is `$` used whole or through a computed key: no steps to check
    for (size_t i = 0; i < count; i++)
        if (!steps[i].key && steps[i].key_len) kfuzz::invariant("for_each_path: a key without text");
    if (span.start_col < 1 || span.start_line > span.end_line) kfuzz::invariant("for_each_path: bad span");
}

}  // namespace

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > kfuzz::kMaxInput) return 0;
    kfuzz::reset(0);
    const char *src = reinterpret_cast<const char *>(data);
    kriti::Program *prog = nullptr;
    kriti::Error err;
    kriti::Limits limits = kfuzz::limits();
    if (!kriti::compile(src, size, limits, kfuzz::allocator(), &prog, &err)) {
        if (prog) kfuzz::invariant("compile failed but returned a program");
        kfuzz::check_error("compile", err, true);
        kfuzz::check_no_leak("failed compile");
        return 0;
    }
    size_t paths = 0;
    if (!kriti::for_each_path(prog, on_path, &paths)) kfuzz::invariant("for_each_path failed without injection");

    kriti::Binding b{"$", 1, kfuzz::default_context()};
    alignas(16) char stack[4096];
    {
        kriti::Arena arena(kfuzz::allocator(), stack, sizeof stack);
        kriti::Value out;
        if (kriti::eval(prog, &b, 1, kriti::builtins(), arena, limits, &out, &err)) {
            if (arena.used() > limits.max_output_bytes) kfuzz::invariant("arena use %zu over the limit", arena.used());
            kfuzz::check_roundtrip(out);
        } else {
            kfuzz::check_error("eval", err, false);
        }
    }
    kriti::program_free(prog);
    kfuzz::check_no_leak("compile + eval");
    return 0;
}
