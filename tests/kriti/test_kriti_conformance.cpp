// Upstream's golden data (shared/conformance/kriti, read in place through
// SY_SOURCE_ROOT): every MANIFEST.tsv case is run and compared.
//  - eval: the template against source.json bound to `$`, with the 15
//    built-ins; the result must equal the golden JSON structurally.
//  - parse-ok: the template must compile.
//  - parse-fail: compiling must fail with the golden's _code and _message
//    (not its _span: upstream reports the end of input, we the token).
// All 52 cases pass; no case is skipped.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

// cmocka.h has no extern "C" of its own
extern "C" {
#include <cmocka.h>
}

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "kriti/kriti.hpp"

namespace {

struct Buf {
    char *data = nullptr;
    size_t len = 0;
    ~Buf() { std::free(data); }
};

bool read_all(const char *path, Buf *b) {
    FILE *f = std::fopen(path, "rb");
    if (!f) return false;
    size_t cap = 4096;
    b->data = static_cast<char *>(std::malloc(cap));
    b->len = 0;
    size_t n;
    while ((n = std::fread(b->data + b->len, 1, cap - b->len, f)) > 0) {
        b->len += n;
        if (b->len == cap) {
            cap *= 2;
            b->data = static_cast<char *>(std::realloc(b->data, cap));
        }
    }
    std::fclose(f);
    return true;
}

const char *data_dir() {
    static char dir[4096];
    const char *root = std::getenv("SY_SOURCE_ROOT");
    if (!root) return nullptr;
    std::snprintf(dir, sizeof dir, "%s/../shared/conformance/kriti", root);
    return dir;
}

struct Case {
    char suite[32];
    char name[64];
    char tmpl[256];
    char expected[256];
};

// The MANIFEST rows of one suite.
size_t load_cases(const char *suite, Case *out, size_t cap) {
    char path[4352];
    std::snprintf(path, sizeof path, "%s/MANIFEST.tsv", data_dir());
    Buf b;
    if (!read_all(path, &b)) {
        std::fprintf(stderr, "cannot read %s (is SY_SOURCE_ROOT set?)\n", path);
        return 0;
    }
    size_t n = 0;
    char *save = nullptr;
    b.data = static_cast<char *>(std::realloc(b.data, b.len + 1));
    b.data[b.len] = 0;
    for (char *line = strtok_r(b.data, "\n", &save); line; line = strtok_r(nullptr, "\n", &save)) {
        char *cols[7] = {};
        int c = 0;
        for (char *p = line; c < 7;) {
            cols[c++] = p;
            char *tab = std::strchr(p, '\t');
            if (!tab) break;
            *tab = 0;
            p = tab + 1;
        }
        if (c < 5 || std::strcmp(cols[0], suite) != 0 || n == cap) continue;
        Case &k = out[n++];
        std::snprintf(k.suite, sizeof k.suite, "%s", cols[0]);
        std::snprintf(k.name, sizeof k.name, "%s", cols[1]);
        std::snprintf(k.tmpl, sizeof k.tmpl, "%s", cols[2]);
        std::snprintf(k.expected, sizeof k.expected, "%s", cols[4]);
    }
    return n;
}

bool read_case_file(const char *rel, Buf *b) {
    char path[4352];
    std::snprintf(path, sizeof path, "%s/%s", data_dir(), rel);
    if (read_all(path, b)) return true;
    std::fprintf(stderr, "cannot read %s\n", path);
    return false;
}

void print_value(const char *what, const kriti::Value &v) {
    size_t need = kriti::write_json(v, nullptr, 0);
    char *text = static_cast<char *>(std::malloc(need + 1));
    kriti::write_json(v, text, need + 1);
    std::fprintf(stderr, "  %s: %.2000s\n", what, text);
    std::free(text);
}

void test_eval_goldens(void **state) {
    (void)state;
    static Case cases[64];
    size_t n = load_cases("eval", cases, 64);
    assert_int_equal(n, 34);

    Buf src;
    assert_true(read_case_file("eval/success/source.json", &src));
    kriti::Arena input_arena(kriti::default_allocator());
    kriti::Value input;
    kriti::Error err;
    assert_true(kriti::parse_json(src.data, src.len, input_arena, &input, &err));
    kriti::Binding dollar{"$", 1, input};

    size_t failed = 0;
    for (size_t i = 0; i < n; i++) {
        Buf tmpl, golden;
        if (!read_case_file(cases[i].tmpl, &tmpl) || !read_case_file(cases[i].expected, &golden)) {
            failed++;
            continue;
        }
        kriti::Program *prog = nullptr;
        if (!kriti::compile(tmpl.data, tmpl.len, kriti::Limits{}, kriti::default_allocator(), &prog, &err)) {
            std::fprintf(stderr, "%s: compile failed: %s: %s\n", cases[i].name, kriti::error_code_name(err.code),
                         err.message);
            failed++;
            continue;
        }
        alignas(16) char stack[4096];
        kriti::Arena arena(kriti::default_allocator(), stack, sizeof stack);
        kriti::Value out, want;
        bool ok = kriti::eval(prog, &dollar, 1, kriti::builtins(), arena, kriti::Limits{}, &out, &err);
        if (!ok) {
            std::fprintf(stderr, "%s: eval failed: %s: %s (line %u col %u)\n", cases[i].name,
                         kriti::error_code_name(err.code), err.message, err.span.start_line, err.span.start_col);
            failed++;
        } else {
            kriti::Arena golden_arena(kriti::default_allocator());
            if (!kriti::parse_json(golden.data, golden.len, golden_arena, &want, &err)) {
                std::fprintf(stderr, "%s: golden does not parse: %s\n", cases[i].name, err.message);
                failed++;
            } else if (!kriti::equal(out, want)) {
                std::fprintf(stderr, "%s: result differs from the golden\n", cases[i].name);
                print_value("got", out);
                print_value("want", want);
                failed++;
            }
        }
        kriti::program_free(prog);
    }
    std::fprintf(stderr, "eval: %zu/%zu passed\n", n - failed, n);
    assert_int_equal(failed, 0);
}

void test_parse_success(void **state) {
    (void)state;
    static Case cases[64];
    size_t n = load_cases("parse-ok", cases, 64);
    assert_int_equal(n, 15);
    size_t failed = 0;
    for (size_t i = 0; i < n; i++) {
        Buf tmpl;
        if (!read_case_file(cases[i].tmpl, &tmpl)) {
            failed++;
            continue;
        }
        kriti::Program *prog = nullptr;
        kriti::Error err;
        if (!kriti::compile(tmpl.data, tmpl.len, kriti::Limits{}, kriti::default_allocator(), &prog, &err)) {
            std::fprintf(stderr, "%s: %s: %s (line %u col %u)\n", cases[i].name, kriti::error_code_name(err.code),
                         err.message, err.span.start_line, err.span.start_col);
            failed++;
        }
        kriti::program_free(prog);
    }
    std::fprintf(stderr, "parse-ok: %zu/%zu passed\n", n - failed, n);
    assert_int_equal(failed, 0);
}

// From `SerializedError {_code = ParseErrorCode, _message = "…", _span = …}`.
bool parse_golden_error(const char *text, char *code, size_t code_cap, char *msg, size_t msg_cap) {
    const char *c = std::strstr(text, "_code = ");
    const char *m = std::strstr(text, "_message = \"");
    if (!c || !m) return false;
    c += 8;
    size_t k = 0;
    while (*c && *c != ',' && k + 1 < code_cap) code[k++] = *c++;
    code[k] = 0;
    m += 12;
    k = 0;
    for (; *m && *m != '"' && k + 1 < msg_cap; m++) {
        if (*m == '\\' && m[1]) m++;  // Haskell show escapes: \" and \\ here
        msg[k++] = *m;
    }
    msg[k] = 0;
    return *m == '"';
}

kriti::ErrorCode code_from_haskell(const char *name) {
    static const struct {
        const char *haskell;
        kriti::ErrorCode code;
    } map[] = {
        {"InvalidPathCode", kriti::ErrorCode::InvalidPath},     {"AttributeErrorCode", kriti::ErrorCode::AttributeError},
        {"NameErrorCode", kriti::ErrorCode::NameError},         {"TypeErrorCode", kriti::ErrorCode::TypeError},
        {"IndexErrorCode", kriti::ErrorCode::IndexError},       {"ParseErrorCode", kriti::ErrorCode::ParseError},
        {"LexErrorCode", kriti::ErrorCode::LexError},           {"FunctionErrorCode", kriti::ErrorCode::FunctionError},
    };
    for (const auto &e : map)
        if (std::strcmp(e.haskell, name) == 0) return e.code;
    return kriti::ErrorCode::None;
}

void test_parse_failure(void **state) {
    (void)state;
    static Case cases[64];
    size_t n = load_cases("parse-fail", cases, 64);
    assert_int_equal(n, 3);
    size_t failed = 0;
    for (size_t i = 0; i < n; i++) {
        Buf tmpl, golden;
        if (!read_case_file(cases[i].tmpl, &tmpl) || !read_case_file(cases[i].expected, &golden)) {
            failed++;
            continue;
        }
        golden.data = static_cast<char *>(std::realloc(golden.data, golden.len + 1));
        golden.data[golden.len] = 0;
        char code[64], msg[512];
        if (!parse_golden_error(golden.data, code, sizeof code, msg, sizeof msg)) {
            std::fprintf(stderr, "%s: cannot read the golden\n", cases[i].name);
            failed++;
            continue;
        }
        kriti::Program *prog = nullptr;
        kriti::Error err;
        if (kriti::compile(tmpl.data, tmpl.len, kriti::Limits{}, kriti::default_allocator(), &prog, &err)) {
            std::fprintf(stderr, "%s: compiled, but must fail\n", cases[i].name);
            kriti::program_free(prog);
            failed++;
            continue;
        }
        if (err.code != code_from_haskell(code) || std::strcmp(err.message, msg) != 0) {
            std::fprintf(stderr, "%s: got %s \"%s\", want %s \"%s\"\n", cases[i].name,
                         kriti::error_code_name(err.code), err.message, code, msg);
            failed++;
        }
    }
    std::fprintf(stderr, "parse-fail: %zu/%zu passed\n", n - failed, n);
    assert_int_equal(failed, 0);
}

}  // namespace

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_eval_goldens),
        cmocka_unit_test(test_parse_success),
        cmocka_unit_test(test_parse_failure),
    };
    return cmocka_run_group_tests(tests, nullptr, nullptr);
}
