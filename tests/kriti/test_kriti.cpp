// Kriti: every language feature, every error kind with its message and its
// real span, the functions, the limits that keep untrusted templates
// bounded, JSON text in and out, and the allocator contract (no allocation
// for a warm evaluation, nothing left after program_free).
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
#include <string_view>

#include "kriti/bind_context.hpp"
#include "kriti/kriti.hpp"

namespace {

// ---------------------------------------------------------------- counting allocator

struct Counter {
    size_t allocs = 0, frees = 0, live = 0, bad_sizes = 0;
    size_t fail_at = 0;  // 1-based allocation number that fails; 0: never
    size_t attempts = 0;
};

struct Header {
    size_t size;
    size_t pad;  // keeps the payload 16-byte aligned
};

void *count_alloc(size_t size, size_t align, void *ud) {
    auto *c = static_cast<Counter *>(ud);
    c->attempts++;
    if (c->fail_at && c->attempts == c->fail_at) return nullptr;
    if (align > 16) return nullptr;
    auto *h = static_cast<Header *>(std::malloc(sizeof(Header) + size));
    if (!h) return nullptr;
    h->size = size;
    c->allocs++;
    c->live += size;
    return h + 1;
}

void count_free(void *p, size_t size, void *ud) {
    auto *c = static_cast<Counter *>(ud);
    if (!p) return;
    Header *h = static_cast<Header *>(p) - 1;
    if (h->size != size) c->bad_sizes++;
    c->frees++;
    c->live -= h->size;
    std::free(h);
}

kriti::Allocator counting(Counter *c) { return kriti::Allocator{count_alloc, count_free, c}; }

// ---------------------------------------------------------------- helpers

struct Json {
    kriti::Arena arena{kriti::default_allocator()};
    kriti::Value value;
    explicit Json(const char *text) {
        kriti::Error err;
        if (!kriti::parse_json(text, std::strlen(text), arena, &value, &err)) {
            std::fprintf(stderr, "bad test JSON %s: %s\n", text, err.message);
            std::abort();
        }
    }
};

std::string_view as_view(const kriti::Value &v) { return std::string_view(v.str, v.len); }

void print_json(const char *what, const kriti::Value &v) {
    char buf[2048];
    kriti::write_json(v, buf, sizeof buf);
    std::fprintf(stderr, "  %s: %s\n", what, buf);
}

struct Run {
    kriti::Program *prog = nullptr;
    kriti::Error err;
    alignas(16) char stack[4096];
    kriti::Arena arena{kriti::default_allocator(), stack, sizeof stack};
    kriti::Value out;
    bool compiled = false, ok = false;

    Run(const char *tmpl, const char *input = "null", const kriti::FunctionTable *fns = kriti::builtins(),
        const kriti::Limits &limits = kriti::Limits{}) {
        compiled = kriti::compile(tmpl, std::strlen(tmpl), limits, kriti::default_allocator(), &prog, &err);
        if (!compiled) return;
        Json in(input);
        kriti::Binding b{"$", 1, in.value};
        ok = kriti::eval(prog, &b, 1, fns, arena, limits, &out, &err);
        if (ok) {
            // the input arena dies with `in`: keep a copy of the result text
            size_t n = kriti::write_json(out, text, sizeof text);
            text_ok = n < sizeof text;
        }
    }
    ~Run() { kriti::program_free(prog); }
    char text[8192];
    bool text_ok = false;
};

void check_value(const char *tmpl, const char *input, const char *want, const char *file, int line,
                  const kriti::FunctionTable *fns = kriti::builtins()) {
    Run r(tmpl, input, fns);
    if (!r.compiled || !r.ok) {
        std::fprintf(stderr, "%s:%d: %s: %s: %s (%u:%u-%u:%u)\n", file, line, tmpl, kriti::error_code_name(r.err.code),
                     r.err.message, r.err.span.start_line, r.err.span.start_col, r.err.span.end_line,
                     r.err.span.end_col);
        fail();
    }
    assert_true(r.text_ok);
    Json got(r.text), expected(want);
    if (!kriti::equal(got.value, expected.value)) {
        std::fprintf(stderr, "%s:%d: %s\n", file, line, tmpl);
        print_json("got", got.value);
        print_json("want", expected.value);
        fail();
    }
}
#define EXPECT(tmpl, input, want) check_value(tmpl, input, want, __FILE__, __LINE__)

struct SpanWant {
    uint32_t sl, sc, el, ec;
};

void check_error(const char *tmpl, const char *input, kriti::ErrorCode code, const char *message,
                  const SpanWant *span, const char *file, int line,
                  const kriti::FunctionTable *fns = kriti::builtins(), const kriti::Limits &limits = kriti::Limits{}) {
    Run r(tmpl, input, fns, limits);
    if (r.compiled && r.ok) {
        std::fprintf(stderr, "%s:%d: %s: succeeded with %s, expected %s\n", file, line, tmpl, r.text,
                     kriti::error_code_name(code));
        fail();
    }
    bool bad = r.err.code != code || (message && std::strcmp(r.err.message, message) != 0);
    if (span && !bad)
        bad = r.err.span.start_line != span->sl || r.err.span.start_col != span->sc ||
              r.err.span.end_line != span->el || r.err.span.end_col != span->ec;
    if (bad) {
        std::fprintf(stderr, "%s:%d: %s\n  got  %s \"%s\" (%u:%u-%u:%u)\n  want %s \"%s\"", file, line, tmpl,
                     kriti::error_code_name(r.err.code), r.err.message, r.err.span.start_line, r.err.span.start_col,
                     r.err.span.end_line, r.err.span.end_col, kriti::error_code_name(code), message ? message : "*");
        if (span) std::fprintf(stderr, " (%u:%u-%u:%u)", span->sl, span->sc, span->el, span->ec);
        std::fprintf(stderr, "\n");
        fail();
    }
}
#define ERR(tmpl, input, code, msg) check_error(tmpl, input, kriti::ErrorCode::code, msg, nullptr, __FILE__, __LINE__)
#define ERR_AT(tmpl, input, code, msg, sl, sc, el, ec)                                                          \
    do {                                                                                                     \
        SpanWant s_{sl, sc, el, ec};                                                                         \
        check_error(tmpl, input, kriti::ErrorCode::code, msg, &s_, __FILE__, __LINE__);                     \
    } while (0)

// ---------------------------------------------------------------- language

void test_json_literals(void **) {
    EXPECT("null", "null", "null");
    EXPECT("true", "null", "true");
    EXPECT("false", "null", "false");
    EXPECT("1.5", "null", "1.5");
    EXPECT("-42", "null", "-42");
    EXPECT("1e3", "null", "1000");
    EXPECT("007", "null", "7");                     // leading zeros: an Int
    EXPECT("18446744073709551617", "null", "1");    // Int wraps modulo 2^64, as upstream
    EXPECT("\"hello\"", "null", "\"hello\"");
    EXPECT("[1, \"x\", null, [true]]", "null", "[1, \"x\", null, [true]]");
    EXPECT("{\"a\": 1, \"b\": {\"c\": []}}", "null", "{\"a\": 1, \"b\": {\"c\": []}}");
    EXPECT("{}", "null", "{}");
    EXPECT("[]", "null", "[]");
    EXPECT("{\"\": 1}", "null", "{\"\": 1}");
    // the first of duplicate keys wins and the others are never evaluated
    EXPECT("{\"a\": 1, \"a\": $nope}", "null", "{\"a\": 1}");
    EXPECT("# a comment\n[1, # another\n 2]", "null", "[1, 2]");
    EXPECT("{ \"🕣🛸\": \"σ\" }", "null", "{\"🕣🛸\": \"σ\"}");
}

void test_string_templates(void **) {
    EXPECT("\"a{{ 1 }}b\"", "null", "\"a1b\"");
    EXPECT("\"{{ $.s }}!\"", "{\"s\": \"hi\"}", "\"hi!\"");
    EXPECT("\"x{{ null }}{{ true }}{{ 1.5 }}\"", "null", "\"xnulltrue1.5\"");
    EXPECT("\"{{ $ }}\"", "{\"a\": [1, \"b\"]}", "\"{\\\"a\\\":[1,\\\"b\\\"]}\"");
    EXPECT("\"\\{{x\"", "null", "\"{{x\"");
    EXPECT("\"foo{bar\"", "null", "\"foo{bar\"");
    EXPECT("\"a\\n\\t\\\"\\\\b\"", "null", "\"a\\n\\t\\\"\\\\b\"");
    EXPECT("\"\\/\"", "null", "\"\\\\/\"");  // upstream keeps both characters
    EXPECT("\"\\u03C3\"", "null", "\"σ\"");
    EXPECT("\"\\ud800\"", "null", "\"\\ufffd\"");  // a lone surrogate
    EXPECT("\"\"", "null", "\"\"");
    EXPECT("\"{{ \"in{{ \"ner\" }}\" }}\"", "null", "\"inner\"");
    EXPECT("\"-σ- \\{{🍣\"", "null", "\"-σ- {{🍣\"");
    EXPECT("\"{{ {{ 1 }} }}\"", "null", "\"1\"");
}

void test_paths(void **) {
    const char *in = "{\"a\": {\"b\": [10, 20, {\"c\": \"deep\"}]}, \"x y\": 1, \"i\": 1, \"k\": \"a\"}";
    EXPECT("$", "3", "3");
    EXPECT("$.a.b[0]", in, "10");
    EXPECT("$.a.b[2].c", in, "\"deep\"");
    EXPECT("$['x y']", in, "1");
    EXPECT("$[\"x y\"]", in, "1");
    EXPECT("$.a.b[$.i]", in, "20");
    EXPECT("$[$.k].b[0]", in, "10");
    EXPECT("{{ $.a.b[1] }}", in, "20");
    EXPECT("($.a).b[1]", in, "20");
}

void test_optional_chains(void **) {
    const char *in = "{\"a\": {\"b\": [1, 2]}, \"s\": \"str\"}";
    EXPECT("$?.a.b[1]", in, "2");
    EXPECT("$?.nope.b", in, "null");
    EXPECT("$.a?.b[9]", in, "null");
    EXPECT("$.a?['b'][0]", in, "1");
    EXPECT("$.a?.b.c", in, "null");        // a key step on an array: a miss
    EXPECT("$.a?.b[0.5]", in, "null");     // not an integer: a miss
    EXPECT("$.a?.b[-1]", in, "null");
    EXPECT("$bar?", in, "null");            // errors of the base are caught
    EXPECT("$bar?.x.y", in, "null");
    EXPECT("$?[1]?.baz", "[1, {\"baz\": 3}]", "3");
    EXPECT("\"foo={{$bar? ?? \"\"}}\"", in, "\"foo=\"");
    // index expressions are strict: their errors are not caught
    ERR_AT("$.a?[$nope]", in, NameError, "Variable '$nope' not in scope", 0, 6, 0, 11);
    // a scalar base is a Type Error (span: the base)
    ERR_AT("$.s?.x", in, TypeError, "Couldn't match expected type 'Object' with actual type 'String'", 0, 1, 0, 4);
}

void test_defaulting(void **) {
    EXPECT("null ?? 1", "null", "1");
    EXPECT("2 ?? 1", "null", "2");
    EXPECT("$.a ?? 1", "{\"a\": null}", "1");
    EXPECT("$.a ?? 1", "{\"a\": false}", "false");
    EXPECT("$?.nope ?? \"d\"", "{}", "\"d\"");
    EXPECT("1 ?? $nope", "null", "1");  // the right side only when needed
    ERR("$nope ?? 1", "null", NameError, "Variable '$nope' not in scope");
}

void test_comparisons(void **) {
    EXPECT("1 == 1.0", "null", "true");
    EXPECT("1 != 2", "null", "true");
    EXPECT("{\"a\": 1, \"b\": [2]} == {\"b\": [2], \"a\": 1}", "null", "true");
    EXPECT("[1, 2] == [2, 1]", "null", "false");
    EXPECT("\"a\" < \"b\"", "null", "true");
    EXPECT("\"b\" <= \"a\"", "null", "false");
    EXPECT("2 >= 2", "null", "true");
    EXPECT("[1, 2] < [1, 3]", "null", "true");
    EXPECT("[1] < [1, 0]", "null", "true");
    // aeson's Ord across types: Object < Array < String < Number < Bool < Null
    EXPECT("{\"a\": 1} < [1]", "null", "true");
    EXPECT("[1] < \"a\"", "null", "true");
    EXPECT("\"a\" < 1", "null", "true");
    EXPECT("1 > true", "null", "false");
    EXPECT("true < null", "null", "true");
    EXPECT("false < true", "null", "true");
    EXPECT("{\"a\": 1} < {\"a\": 2}", "null", "true");
    EXPECT("{\"b\": 0} > {\"a\": 9}", "null", "true");
}

void test_boolean_operators(void **) {
    EXPECT("true && false", "null", "false");
    EXPECT("true || false", "null", "true");
    EXPECT("(1 == 1) && (2 == 2)", "null", "true");
    // strict: both sides are evaluated, as upstream
    ERR("false && $nope", "null", NameError, "Variable '$nope' not in scope");
    ERR("true || $nope", "null", NameError, "Variable '$nope' not in scope");
    ERR_AT("true && 1", "null", TypeError, "Couldn't match expected type 'Boolean' with actual type 'Number'", 0, 1,
           0, 10);
    ERR_AT("\"s\" || true", "null", TypeError, "Couldn't match expected type 'Boolean' with actual type 'String'", 0,
           1, 0, 12);
    EXPECT("\"a\" in {\"a\": 1}", "null", "true");
    EXPECT("\"b\" in {\"a\": 1}", "null", "false");
    EXPECT("2 in [1, 2]", "null", "true");
    EXPECT("{\"x\": 1} in [{\"x\": 1.0}]", "null", "true");
    ERR_AT("1 in {\"a\": 1}", "null", TypeError, "Couldn't match expected type 'String' with actual type 'Number'", 0,
           1, 0, 14);
    ERR("1 in 2", "null", TypeError, "Couldn't match expected type 'Array' with actual type 'Number'");
    EXPECT("not true", "null", "false");
    EXPECT("not 1 == 2", "null", "true");  // not takes a whole expression
    EXPECT("not not true", "null", "true");
}

void test_conditionals(void **) {
    EXPECT("{{ if true }} 1 {{ else }} 2 {{ end }}", "null", "1");
    EXPECT("{{ if $.a }} 1 {{ elif $.b }} 2 {{ else }} 3 {{ end }}", "{\"a\": false, \"b\": true}", "2");
    EXPECT("{{ if false }} 1 {{ elif false }} 2 {{ else }} 3 {{ end }}", "null", "3");
    EXPECT("{{ if 1 < 2 }} {{ $.x }} {{ else }} $nope {{ end }}", "{\"x\": 5}", "5");  // lazy branches
    EXPECT("[{{ if true }} \"y\" {{ else }} \"n\" {{ end }}, 1]", "null", "[\"y\", 1]");
    ERR_AT("{{ if 1 }} 1 {{ else }} 2 {{ end }}", "null", TypeError,
           "Couldn't match expected type 'Boolean' with actual type 'Number'", 0, 1, 0, 36);
    ERR_AT("{{ if false }} 1 {{ elif \"x\" }} 2 {{ else }} 3 {{ end }}", "null", TypeError,
           "Couldn't match expected type 'Boolean' with actual type 'String'", 0, 21, 0, 29);
    ERR("{{ if null }} 1 {{ else }} 2 {{ end }}", "null", TypeError,
        "Couldn't match expected type 'Boolean' with actual type 'Null'");
}

void test_ranges(void **) {
    const char *in = "{\"xs\": [\"a\", \"b\", \"c\"]}";
    EXPECT("{{ range i, x := $.xs }} {\"i\": {{ i }}, \"x\": {{ x }}} {{ end }}", in,
           "[{\"i\": 0, \"x\": \"a\"}, {\"i\": 1, \"x\": \"b\"}, {\"i\": 2, \"x\": \"c\"}]");
    EXPECT("{{ range _, x := $.xs }} \"{{ x }}!\" {{ end }}", in, "[\"a!\", \"b!\", \"c!\"]");
    EXPECT("[{{ range _, x := $.xs }} {{ x }} {{ end }}]", in, "[[\"a\", \"b\", \"c\"]]");  // nested, as upstream
    EXPECT("{{ range _, x := [] }} 1 {{ end }}", "null", "[]");
    EXPECT("{{ range _, x := [[1, 2], [3]] }} {{ range _, y := x }} {{ y }} {{ end }} {{ end }}", "null",
           "[[1, 2], [3]]");
    // binders shadow: `$` itself may be rebound
    EXPECT("{{ range _, $ := [1, 2] }} {{ $ }} {{ end }}", "\"outer\"", "[1, 2]");
    EXPECT("{{ range x, x := [\"a\", \"b\"] }} {{ x }} {{ end }}", "null", "[0, 1]");  // the index wins
    ERR_AT("{{ range _, x := $?.nope ?? 1 }} 1 {{ end }}", "{}", TypeError,
           "Couldn't match expected type 'Array' with actual type 'Number'", 0, 1, 0, 45);
    ERR("{{ range _, x := [1] }} x {{ end }} {{ x }}", "null", ParseError, "Unexpected token '{{'.");
}

void test_functions(void **) {
    EXPECT("empty([])", "null", "true");
    EXPECT("empty({\"a\": 1})", "null", "false");
    EXPECT("empty(\" \\t\\n \")", "null", "true");
    EXPECT("empty(0)", "null", "true");
    EXPECT("empty(null)", "null", "true");
    ERR_AT("empty(true)", "null", FunctionError, "Cannot define emptiness for a boolean", 0, 7, 0, 11);
    EXPECT("size(\"héllo\")", "null", "5");
    EXPECT("size([1, 2])", "null", "2");
    EXPECT("size({\"a\": 1})", "null", "1");
    EXPECT("size(7.5)", "null", "7.5");
    EXPECT("size(true)", "null", "1");
    EXPECT("size(null)", "null", "0");
    EXPECT("inverse([1, 2, 3])", "null", "[3, 2, 1]");
    EXPECT("inverse(\"héllo\")", "null", "\"olléh\"");
    EXPECT("inverse(4)", "null", "0.25");
    EXPECT("inverse(0.5)", "null", "2");
    EXPECT("inverse(-8)", "null", "-0.125");
    EXPECT("inverse(true)", "null", "false");
    EXPECT("inverse({\"a\": 1})", "null", "{\"a\": 1}");
    EXPECT("inverse(null)", "null", "null");
    ERR_AT("inverse(0)", "null", FunctionError, "Cannot compute inverse of 0: division by zero", 0, 9, 0, 10);
    ERR("inverse(3)", "null", FunctionError,
        "Cannot compute inverse of 3: 1/3 has no finite decimal representation");
    EXPECT("head([1, 2])", "null", "1");
    EXPECT("head(\"éa\")", "null", "\"é\"");
    ERR("head([])", "null", FunctionError, "Empty array");
    ERR("head(\"\")", "null", FunctionError, "Empty string");
    ERR("head(1)", "null", FunctionError, "Expected an array or string");
    EXPECT("tail([1, 2])", "null", "[2]");
    EXPECT("tail([1])", "null", "[]");
    EXPECT("tail(\"éab\")", "null", "\"ab\"");
    ERR_AT("tail([])", "null", FunctionError, "Empty array", 0, 6, 0, 8);  // upstream crashes
    ERR("tail(\"\")", "null", FunctionError, "Empty string");
    ERR("tail(null)", "null", FunctionError, "Expected an array or string");
    EXPECT("toLower(\"HeLLo ÀÉÎ ΣΑΣ ДОМ\")", "null", "\"hello àéî σασ дом\"");
    EXPECT("toUpper(\"straße àéî σας дом ÿ\")", "null", "\"STRASSE ÀÉÎ ΣΑΣ ДОМ Ÿ\"");
    EXPECT("toCaseFold(\"Straße ΣΑς µ\")", "null", "\"strasse σασ μ\"");
    EXPECT("toTitle(\"hELLO wORLD o'neil 1st ßa\")", "null", "\"Hello World O'neil 1St Ssa\"");
    ERR("toUpper(1)", "null", FunctionError, "parsing String failed, expected String, but encountered Number");
    ERR("toTitle([])", "null", FunctionError, "parsing String failed, expected String, but encountered Array");
    EXPECT("escapeUri(\"?foo=bar/baz\")", "null", "\"%3Ffoo%3Dbar%2Fbaz\"");
    EXPECT("escapeUri(\"a b-._~ü\")", "null", "\"a%20b-._~%C3%BC\"");
    ERR("escapeUri(null)", "null", FunctionError, "parsing String failed, expected String, but encountered Null");
    EXPECT("toPairs({\"a\": 1, \"b\": [2]})", "null", "[[\"a\", 1], [\"b\", [2]]]");
    EXPECT("toPairs({})", "null", "[]");
    ERR("toPairs([])", "null", FunctionError, "parsing Object failed, expected Object, but encountered Array");
    EXPECT("fromPairs([[\"a\", 1], [\"b\", 2], [\"a\", 3]])", "null", "{\"a\": 3, \"b\": 2}");
    EXPECT("fromPairs([])", "null", "{}");
    ERR("fromPairs({})", "null", FunctionError,
        "parsing Nested Arrays failed, expected Array, but encountered Object");
    ERR("fromPairs([1])", "null", FunctionError,
        "parsing Array of Pair failed, expected Array, but encountered Number");
    ERR("fromPairs([[\"a\"]])", "null", FunctionError,
        "Expected an array of shape [ [k1,v1], [k2,v2] ... ] - With String keys.");
    ERR("fromPairs([[1, 2]])", "null", FunctionError, "parsing Key failed, expected String, but encountered Number");
    EXPECT("removeNulls([1, null, 2, null])", "null", "[1, 2]");
    EXPECT("removeNulls([null])", "null", "[]");
    ERR("removeNulls(1)", "null", FunctionError, "parsing Array failed, expected Array, but encountered Number");
    EXPECT("concat([[1], [], [2, 3]])", "null", "[1, 2, 3]");
    EXPECT("concat([\"a\", \"\", \"bc\"])", "null", "\"abc\"");
    EXPECT("concat([{\"a\": 1, \"b\": 2}, {\"b\": 3}])", "null", "{\"a\": 1, \"b\": 3}");
    EXPECT("concat([])", "null", "[]");
    ERR("concat([[1], \"a\"])", "null", FunctionError,
        "parsing Nested Object failed, expected Object, but encountered Array");
    ERR("concat(1)", "null", FunctionError, "parsing Array failed, expected Array, but encountered Number");
    EXPECT("not(false)", "null", "true");
    ERR("not(1)", "null", FunctionError, "parsing Bool failed, expected Boolean, but encountered Number");
    ERR_AT("nope(1)", "null", NameError, "Variable 'nope' not in scope", 0, 1, 0, 8);
    // the argument is evaluated before the function is looked up
    ERR("nope($x)", "null", NameError, "Variable '$x' not in scope");
    EXPECT("\"{{ toUpper($.a) }}-{{ size($.b) }}\"", "{\"a\": \"x\", \"b\": [1, 2]}", "\"X-2\"");
}

void test_function_tables(void **) {
    // without a table (upstream's runEval) even `not` is unknown
    check_error("not true", "null", kriti::ErrorCode::NameError, "Variable 'not' not in scope", nullptr, __FILE__,
                 __LINE__, nullptr);
    // a host function
    static const kriti::FunctionEntry entries[] = {
        {"twice",
         [](kriti::CallContext &ctx, const kriti::Value &v, kriti::Value *out) {
             if (v.type != kriti::Type::Number) return ctx.error("twice wants a number, not %s", "that");
             *out = kriti::Value::number(v.num * 2);
             return true;
         }},
    };
    static const kriti::FunctionTable table = {entries, 1};
    check_value("twice(21)", "null", "42", __FILE__, __LINE__, &table);
    check_error("twice(\"a\")", "null", kriti::ErrorCode::FunctionError, "twice wants a number, not that", nullptr,
                 __FILE__, __LINE__, &table);
}

// ---------------------------------------------------------------- errors and spans

void test_eval_errors(void **) {
    const char *in = "{\"a\": {\"b\": 1}, \"xs\": [1, 2, 3]}";
    ERR_AT("{{ $nope }}", in, NameError, "Variable '$nope' not in scope", 0, 4, 0, 9);
    ERR_AT("[1,\n  $.a.missing]", in, AttributeError, "'Object' has no attritubte 'missing'.", 1, 3, 1, 14);
    ERR_AT("$.a['zz']", in, AttributeError, "'Object' has no attritubte 'zz'.", 0, 1, 0, 10);
    ERR_AT("$.a.b.c", in, TypeError, "Couldn't match expected type 'Object' with actual type 'Number'", 0, 1, 0, 6);
    ERR_AT("$.xs[5]", in, IndexError, "Can only range over an array", 0, 1, 0, 8);
    ERR_AT("$.xs[-1]", in, IndexError, "Can only range over an array", 0, 1, 0, 9);
    ERR_AT("$.xs[1.5]", in, TypeError, "Couldn't match expected type 'Integer' with actual type 'Number'", 0, 1, 0,
           10);
    ERR_AT("$.xs['k']", in, TypeError, "Couldn't match expected type 'Integer' with actual type 'String'", 0, 1, 0,
           10);
    ERR_AT("$.xs.k", in, TypeError, "Couldn't match expected type 'Object' with actual type 'Array'", 0, 1, 0, 5);
    ERR_AT("$.a[1]", in, TypeError, "Couldn't match expected type 'String' with actual type 'Number'", 0, 1, 0, 4);
    // columns count code points
    ERR_AT("\"é{{ $nope }}\"", in, NameError, "Variable '$nope' not in scope", 0, 6, 0, 11);
}

void test_parse_errors(void **) {
    ERR_AT("{{ $.path }\n", "null", ParseError, "Unexpected token '}'.", 0, 11, 0, 12);
    ERR_AT("{ 1: null }", "null", ParseError, "Unexpected token '1'.", 0, 3, 0, 4);
    ERR_AT("[true, ]", "null", ParseError, "Unexpected token ']'.", 0, 8, 0, 9);
    ERR_AT("true && false && true", "null", ParseError, "Unexpected token '&&'.", 0, 15, 0, 17);
    ERR_AT("x == 1 || y == 2", "null", ParseError, "Unexpected token '||'.", 0, 8, 0, 10);
    ERR_AT("{{ if true }} 1 {{ end }}", "null", ParseError, "Unexpected token 'end'.", 0, 20, 0, 23);
    ERR("{{ range x := $ }} 1 {{ end }}", "null", ParseError, "Unexpected token ':='.");
    ERR_AT("", "null", ParseError, "ParseError: Empty token stream.", 0, 1, 0, 1);
    ERR("  # only a comment", "null", ParseError, "ParseError: Empty token stream.");
    ERR_AT("[1, 2", "null", ParseError, "ParseError: Empty token stream.", 0, 6, 0, 6);
    ERR("\"abc", "null", ParseError, "ParseError: Empty token stream.");
    ERR("{\"a{{ 1 }}\": 1}", "null", ParseError, "Unexpected token '{{'.");
    ERR("$.if", "null", ParseError, "Unexpected token 'if'.");
    ERR("$['']", "null", ParseError, "Unexpected token '''.");
    ERR("1 2", "null", ParseError, "Unexpected token '2'.");
    ERR("f(1) == 1", "null", ParseError, "Unexpected token '=='.");
    ERR("[\"a\" \"b\"]", "null", ParseError, "Unexpected token '\"'.");
    ERR("{{ 1 }} == 1", "null", ParseError, "Unexpected token '=='.");
}

void test_lex_errors(void **) {
    ERR_AT("1 = 2", "null", LexError, "Invalid Lexeme: '1 = 2'", 0, 3, 0, 4);
    ERR_AT("[1,\n @]", "null", LexError, "Invalid Lexeme: '[1,\n @]'", 1, 2, 1, 3);
    ERR_AT("\"a\\x\"", "null", LexError, "Invalid Lexeme: '\"a\\x\"'", 0, 3, 0, 4);
    ERR("\"\\u12\"", "null", LexError, nullptr);
    ERR("$['a{b']", "null", LexError, nullptr);
    ERR("-x", "null", LexError, nullptr);
    ERR("\"\xff\"", "null", LexError, nullptr);  // not UTF-8
    // a lex error anywhere wins over an earlier parse error: lexing comes first
    ERR("] ! ", "null", LexError, nullptr);
    // the quoted source is cut to fit the message
    char big[2000];
    std::memset(big, ' ', sizeof big);
    big[sizeof big - 2] = '!';
    big[sizeof big - 1] = 0;
    Run r(big);
    assert_false(r.compiled);
    assert_int_equal(r.err.code, kriti::ErrorCode::LexError);
    assert_true(std::strlen(r.err.message) < kriti::kErrorMessageMax);
    assert_non_null(std::strstr(r.err.message, "...'"));
}

// ---------------------------------------------------------------- limits

void test_limits(void **) {
    // 10,000 '[': bounded recursion, a named error
    static char deep[20002];
    std::memset(deep, '[', 10000);
    std::memset(deep + 10000, ']', 10000);
    deep[20000] = 0;
    ERR(deep, "null", LimitError, "Nesting depth limit exceeded (max_depth = 64)");
    static char nots[40010];
    size_t o = 0;
    for (int i = 0; i < 10000; i++) o += std::snprintf(nots + o, sizeof nots - o, "not ");
    std::snprintf(nots + o, sizeof nots - o, "true");
    ERR(nots, "null", LimitError, "Nesting depth limit exceeded (max_depth = 64)");
    static char strs[40010];
    o = 0;
    for (int i = 0; i < 5000; i++) o += std::snprintf(strs + o, sizeof strs - o, "\"{{");
    ERR(strs, "null", LimitError, "Nesting depth limit exceeded (max_depth = 64)");
    // long lookup chains deepen the tree too
    static char chain[1000];
    o = std::snprintf(chain, sizeof chain, "$");
    for (int i = 0; i < 100; i++) o += std::snprintf(chain + o, sizeof chain - o, ".a");
    ERR(chain, "null", LimitError, "Nesting depth limit exceeded (max_depth = 64)");
    // 63 levels are fine
    static char ok[200];
    std::memset(ok, '[', 63);
    std::memset(ok + 63, ']', 63);
    ok[126] = 0;
    Run fine(ok);
    assert_true(fine.ok);

    // a huge range
    static char arr[8000];
    o = std::snprintf(arr, sizeof arr, "[");
    for (int i = 0; i < 200; i++) o += std::snprintf(arr + o, sizeof arr - o, "%s%d", i ? "," : "", i);
    std::snprintf(arr + o, sizeof arr - o, "]");
    ERR("{{ range _, x := $ }} {{ range _, y := $ }} 1 {{ end }} {{ end }}", arr, LimitError,
        "Range iteration limit exceeded (max_range_iterations = 10000)");
    // long output: each element is the whole input as text
    ERR("{{ range _, x := $ }} {{ range _, y := [1, 2, 3, 4, 5, 6, 7, 8, 9, 10] }} \"{{ $ }}\" {{ end }} {{ end }}", arr, LimitError,
        "Output size limit exceeded (max_output_bytes = 1048576)");
    // a long string
    ERR("concat({{ range _, x := [1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20] }} \"{{ $ }}{{ $ }}{{ $ }}{{ $ }}{{ $ }}{{ $ }}{{ $ }}{{ $ }}\" {{ end }})", arr,
        LimitError, "String length limit exceeded (max_string_bytes = 65536)");
    // CPU: work units
    kriti::Limits few;
    few.max_eval_steps = 100;
    check_error("{{ range _, x := $ }} x {{ end }}", arr, kriti::ErrorCode::LimitError,
                 "Evaluation step limit exceeded (max_eval_steps = 100)", nullptr, __FILE__, __LINE__,
                 kriti::builtins(), few);
    // comparing big objects with their keys in another order is quadratic:
    // the walk stops once the budget is spent
    static char obj[40000];
    o = std::snprintf(obj, sizeof obj, "{");
    for (int i = 0; i < 3000; i++) o += std::snprintf(obj + o, sizeof obj - o, "%s\"k%d\": %d", i ? "," : "", i, i);
    std::snprintf(obj + o, sizeof obj - o, "}");
    ERR("$ == (fromPairs(inverse(toPairs($))))", obj, LimitError,
        "Evaluation step limit exceeded (max_eval_steps = 1000000)");
    ERR("$ < (fromPairs(inverse(toPairs($))))", obj, LimitError,
        "Evaluation step limit exceeded (max_eval_steps = 1000000)");
    EXPECT("$ == $", obj, "true");  // the same object: no walk at all
    // template size
    kriti::Limits small;
    small.max_template_bytes = 4;
    check_error("12345", "null", kriti::ErrorCode::LimitError,
                 "Template size limit exceeded: 5 bytes (max_template_bytes = 4)", nullptr, __FILE__, __LINE__,
                 kriti::builtins(), small);
    ERR("1e999", "null", LimitError, nullptr);
    EXPECT("1e-999", "null", "0");
    // resource errors are not caught by `?`
    ERR("{{ range _, x := $ }} {{ range _, y := $ }} 1 {{ end }} {{ end }}?", arr, LimitError, nullptr);
}

// ---------------------------------------------------------------- JSON text

void check_json_text(const kriti::Value &v, const char *want) {
    char buf[512];
    size_t n = kriti::write_json(v, buf, sizeof buf);
    assert_int_equal(n, std::strlen(want));
    assert_string_equal(buf, want);
}

void test_json_text(void **) {
    check_json_text(kriti::Value::number(1), "1");
    check_json_text(kriti::Value::number(-0.0), "0");
    check_json_text(kriti::Value::number(1.5), "1.5");
    check_json_text(kriti::Value::number(0.1), "0.1");
    check_json_text(kriti::Value::number(0.05), "5.0e-2");
    check_json_text(kriti::Value::number(0.0123), "1.23e-2");
    check_json_text(kriti::Value::number(1234567.5), "1234567.5");
    check_json_text(kriti::Value::number(12345678.5), "1.23456785e7");
    check_json_text(kriti::Value::number(1e20), "100000000000000000000");
    check_json_text(kriti::Value::number(-9007199254740993.0), "-9007199254740992");
    check_json_text(kriti::Value::string("a\"\\\n\r\t\x01\x7f", 8), "\"a\\\"\\\\\\n\\r\\t\\u0001\x7f\"");

    Json j("  {\"b\": [1, 2.5, \"x\"], \"a\": {}, \"c\": null, \"d\": true, \"e\": false} ");
    check_json_text(j.value, "{\"b\":[1,2.5,\"x\"],\"a\":{},\"c\":null,\"d\":true,\"e\":false}");
    // size reporting and truncation
    char tiny[8];
    size_t need = kriti::write_json(j.value, tiny, sizeof tiny);
    assert_int_equal(need, 52);
    assert_string_equal(tiny, "{\"b\":[1");
    assert_int_equal(kriti::write_json(j.value, nullptr, 0), 52);

    Json dup("{\"a\": 1, \"b\": 2, \"a\": 3}");  // the last wins, at the first position
    check_json_text(dup.value, "{\"a\":3,\"b\":2}");
    Json sur("\"\\ud83c\\udf63 \\ud800 \\u00e9\"");
    check_json_text(sur.value, "\"🍣 \xEF\xBF\xBD é\"");

    const char *bad[] = {"", "[1,]", "{\"a\" 1}", "01", "1.", "\"\\x\"", "\"a", "[1] 2", "nul", "\"\x01\"",
                         "\"\xc3\x28\"", "1e999", "{1: 2}"};
    for (const char *b : bad) {
        kriti::Arena a(kriti::default_allocator());
        kriti::Value v;
        kriti::Error err;
        if (kriti::parse_json(b, std::strlen(b), a, &v, &err)) {
            std::fprintf(stderr, "parse_json accepted %s\n", b);
            fail();
        }
        assert_int_equal(err.code, kriti::ErrorCode::ParseError);
    }
    kriti::Arena a(kriti::default_allocator());
    kriti::Value v;
    kriti::Error err;
    assert_false(kriti::parse_json("[\n  1,\n  x]", 11, a, &v, &err));
    assert_int_equal(err.span.start_line, 2);
    assert_int_equal(err.span.start_col, 3);
    static char deep[2000];
    std::memset(deep, '[', 1000);
    std::memset(deep + 1000, ']', 1000);
    assert_false(kriti::parse_json(deep, 2000, a, &v, &err));  // nesting bounded (512)
    assert_true(kriti::parse_json(deep + 600, 800, a, &v, &err));

    // equality and order
    Json x("{\"a\": [1, {\"b\": null}], \"c\": \"d\"}"), y("{\"c\": \"d\", \"a\": [1.0, {\"b\": null}]}");
    assert_true(kriti::equal(x.value, y.value));
    assert_int_equal(kriti::compare(x.value, y.value), 0);
}

void test_error_json(void **) {
    Run r("{{ $nope }}");
    assert_false(r.ok);
    char buf[512];
    kriti::write_error_json(r.err, buf, sizeof buf);
    assert_string_equal(buf,
                        "{\"error_code\":\"Name Error\",\"message\":\"Variable '$nope' not in scope\","
                        "\"source_position\":{\"start_line\":0,\"start_column\":4,\"end_line\":0,\"end_column\":9}}");
    assert_string_equal(kriti::error_code_name(kriti::ErrorCode::AttributeError), "Attribute Error");
    assert_string_equal(kriti::error_code_name(kriti::ErrorCode::IndexError), "Index Error");
    assert_string_equal(kriti::error_code_name(kriti::ErrorCode::LexError), "Lex Error");
    assert_string_equal(kriti::error_code_name(kriti::ErrorCode::FunctionError), "Function Error");
    assert_string_equal(kriti::error_code_name(kriti::ErrorCode::LimitError), "Limit Error");
    assert_string_equal(kriti::error_code_name(kriti::ErrorCode::TypeError), "Type Error");
    assert_string_equal(kriti::error_code_name(kriti::ErrorCode::ParseError), "Parse Error");
}

// ---------------------------------------------------------------- analysis

struct Paths {
    char lines[16][128];
    int n = 0;
};

void collect(const kriti::PathStep *steps, size_t count, const kriti::Span &span, void *ud) {
    auto *p = static_cast<Paths *>(ud);
    if (p->n == 16) return;
    char *l = p->lines[p->n++];
    size_t o = 0;
    for (size_t i = 0; i < count && o < 100; i++)
        o += std::snprintf(l + o, 128 - o, "%s%s%.*s", i ? "." : "", steps[i].optional ? "?" : "",
                           static_cast<int>(steps[i].key_len < 20 ? steps[i].key_len : 20), steps[i].key);
    if (o < 100) std::snprintf(l + o, 128 - o, " @%u:%u-%u", span.start_line, span.start_col, span.end_col);
}

void test_paths_analysis(void **) {
    const char *t = "{\"a\": {{ $.connection_set.tenant_a }},\n"
                    " \"b\": $['connection_set'][\"b\"].x[$.i].y,\n"
                    " \"c\": {{ range _, $ := [1] }} {{ $.shadowed }} {{ end }},\n"
                    " \"d\": $?.opt.x, \"e\": $x.notdollar, \"f\": toUpper($.f)}";
    kriti::Program *prog;
    kriti::Error err;
    assert_true(kriti::compile(t, std::strlen(t), kriti::Limits{}, kriti::default_allocator(), &prog, &err));
    Paths p;
    assert_true(kriti::for_each_path(prog, collect, &p));
    kriti::program_free(prog);
    assert_int_equal(p.n, 5);
    assert_string_equal(p.lines[0], "connection_set.tenant_a @0:10-35");
    assert_string_equal(p.lines[1], "connection_set.b.x @1:7-33");
    assert_string_equal(p.lines[2], "i @1:34-37");
    assert_string_equal(p.lines[3], "?opt.?x @3:7-8");  // upstream's span of `?`: the base
    assert_string_equal(p.lines[4], "f @3:49-52");

    // an optional chain is flat, so it may be longer than the depth limit;
    // the reported keys are capped, not overrun
    static char longchain[20000];
    size_t o = std::snprintf(longchain, sizeof longchain, "($?");
    for (int i = 0; i < 2100; i++) o += std::snprintf(longchain + o, sizeof longchain - o, ".a");
    o += std::snprintf(longchain + o, sizeof longchain - o, ").b.c");
    assert_true(kriti::compile(longchain, o, kriti::Limits{}, kriti::default_allocator(), &prog, &err));
    Paths q;
    assert_true(kriti::for_each_path(prog, collect, &q));
    assert_int_equal(q.n, 1);
    Run r(longchain, "{\"a\": {\"a\": 1}}");
    assert_false(r.ok);  // .b on the chain's null
    assert_int_equal(r.err.code, kriti::ErrorCode::TypeError);
    kriti::program_free(prog);
}

// ---------------------------------------------------------------- bound paths

// One template on one input, evaluated with lookups and with its chains
// bound to slots: both must give the same value or the same error.
struct Both {
    Json in;
    kriti::Program *plain = nullptr, *bound = nullptr;
    kriti::ContextBinder binder;
    bool decision_alone = false; // the bound form ran in a budget of one work unit
    Both(const char *tmpl, const char *input) : in(input), binder(in.value) {
        kriti::Error err;
        if (!kriti::compile(tmpl, std::strlen(tmpl), kriti::Limits{}, kriti::default_allocator(), &plain, &err)) {
            std::fprintf(stderr, "template %s: %s\n", tmpl, err.message);
            fail();
        }
        assert_true(kriti::compile(tmpl, std::strlen(tmpl), kriti::Limits{}, kriti::default_allocator(), &bound, &err));
        assert_true(kriti::bind_paths(bound, kriti::ContextBinder::bind, &binder));
    }
    ~Both() {
        kriti::program_free(plain);
        kriti::program_free(bound);
    }
    // false when the bound run needed the lookups (a required value absent)
    bool check(const char *tmpl) {
        kriti::Binding b{"$", 1, in.value};
        alignas(16) char s1[4096], s2[4096];
        kriti::Arena a1(kriti::default_allocator(), s1, sizeof s1), a2(kriti::default_allocator(), s2, sizeof s2);
        kriti::Value want, got;
        kriti::Error e1, e2;
        bool ok1 = kriti::eval(plain, &b, 1, kriti::builtins(), a1, kriti::Limits{}, &want, &e1);
        kriti::Slots slots{binder.values};
        bool ok2 = kriti::eval(bound, &b, 1, kriti::builtins(), a2, kriti::Limits{}, &got, &e2, &slots);
        bool missed = !ok2 && slots.missed;
        if (missed) ok2 = kriti::eval(bound, &b, 1, kriti::builtins(), a2, kriti::Limits{}, &got, &e2);
        if (ok1 != ok2 || (ok1 && !kriti::equal(want, got)) ||
            (!ok1 && (e1.code != e2.code || std::strcmp(e1.message, e2.message) != 0))) {
            std::fprintf(stderr, "template %s: lookups %s, bound %s\n", tmpl, ok1 ? "ok" : e1.message,
                         ok2 ? "ok" : e2.message);
            if (ok1) print_json("lookups", want);
            if (ok2) print_json("bound", got);
            fail();
        }
        kriti::Limits one;
        one.max_eval_steps = 1;
        kriti::Slots again{binder.values};
        kriti::Value v;
        decision_alone = kriti::eval(bound, &b, 1, kriti::builtins(), a2, one, &v, &e2, &again);
        return !missed;
    }
};

void test_bound_paths(void **) {
    const char *ctx = "{\"request\": {\"headers\": {\"x-a\": \"1\", \"n\": \"5\"}, \"query\": {\"t\": \"query\"}},"
                      " \"primary\": \"PRIMARY\", \"set\": {\"a\": {\"type\": \"connection_set\", \"name\": \"a\"}},"
                      " \"s\": \"text\", \"xs\": [1, 2], \"nul\": null}";
    struct Case {
        const char *tmpl;
        bool needs_lookups; // a required bound value is absent
        bool decision;      // evaluated from the slots alone
    } cases[] = {
        {"{{ if ($.request.query.t == \"query\") && ($.request.headers?['x-a'] == \"1\") }} $.primary {{ else }} $.set.a {{ end }}",
         false, true},
        {"{{ if $.request.headers?['x-b'] == \"1\" }} $.primary {{ elif $.request.headers?.n >= \"5\" }} $.set.a {{ else }} \"no\" {{ end }}",
         false, true},
        {"{{ if $.request.headers['x-b'] == \"1\" }} $.primary {{ else }} $.set.a {{ end }}", true, false},
        {"{{ if $?.missing.deeper != null }} 1 {{ else }} $.request.headers?['x-b'] {{ end }}", false, true},
        {"{{ if true || ($.absent == 1) }} 1 {{ else }} 2 {{ end }}", true, false},
        {"$.request.headers.n", false, true},
        {"$.absent", true, false},
        {"$?.absent", false, true},
        {"$.s.x", false, false},             // a Type Error: not bound (a non-object on the way)
        {"$.s?.x", false, false},            // also a Type Error upstream, not null
        {"$.xs?.a", false, false},           // null through `?` on an array: left a lookup
        {"$.nul?.a", false, false},          // null
        {"$.s?", false, false},              // `?` on a string: a Type Error, so never bound
        {"$?.request?.headers.n", false, false}, // a `?` inside the chain: left a lookup
        {"$.request?.headers.n", false, true},
        {"$.request?.absent.n", false, true},
        {"{{ range _, x := $.xs }} \"{{ $.request.headers.n }}-{{ x }}\" {{ end }}", false, false},
        {"{{ range _, $ := $.xs }} {{ $ }} {{ end }}", false, false}, // `$` rebound: not bound inside
        {"\"{{ $.request.query.t }}:{{ $.set.a.name }}\"", false, false},
        {"{{ if $.request.query.t }} 1 {{ else }} 2 {{ end }}", false, false}, // a Type Error: not a decision
    };
    for (const Case &c : cases) {
        Both both(c.tmpl, ctx);
        bool complete = both.check(c.tmpl);
        if (complete == c.needs_lookups || both.decision_alone != c.decision) {
            std::fprintf(stderr, "template %s: needs lookups %d, decision %d\n", c.tmpl, !complete,
                         both.decision_alone);
            fail();
        }
    }
    // for_each_path still reports bound chains
    Both both("{{ if $.request.query.t == \"q\" }} $.set.a {{ else }} $.primary {{ end }}", ctx);
    Paths p;
    assert_true(kriti::for_each_path(both.bound, collect, &p));
    assert_int_equal(p.n, 3);
    assert_string_equal(p.lines[1], "set.a @0:35-42");
}

// ---------------------------------------------------------------- memory

void test_allocations(void **) {
    Counter c;
    kriti::Allocator a = counting(&c);
    const char *t = "{{ if $.tenant == \"a\" }} $.connection_set.a {{ elif $?.tenant in [\"b\", \"c\"] }}"
                    " \"{{ toUpper($.tenant) }}-{{ size($.xs) }}\" {{ else }} [1, {\"x\": $.xs}] {{ end }}";
    kriti::Program *prog;
    kriti::Error err;
    assert_true(kriti::compile(t, std::strlen(t), kriti::Limits{}, a, &prog, &err));
    size_t after_compile = c.allocs;
    assert_true(after_compile > 0);

    Json in("{\"tenant\": \"b\", \"xs\": [1, 2, 3], \"connection_set\": {\"a\": \"pool-a\"}}");
    kriti::Binding b{"$", 1, in.value};
    alignas(16) char stack[4096];
    kriti::Arena arena(a, stack, sizeof stack);
    for (int i = 0; i < 100; i++) {
        kriti::Value out;
        assert_true(kriti::eval(prog, &b, 1, kriti::builtins(), arena, kriti::Limits{}, &out, &err));
        assert_int_equal(out.type, kriti::Type::String);
        assert_true(as_view(out) == "B-3");
        arena.reset();
    }
    assert_int_equal(c.allocs, after_compile);  // no allocation for an evaluation
    Paths p;
    assert_true(kriti::for_each_path(prog, collect, &p));
    kriti::program_free(prog);
    assert_int_equal(c.allocs, c.frees);
    assert_int_equal(c.live, 0);
    assert_int_equal(c.bad_sizes, 0);

    // an arena that grew keeps its blocks over reset(): warm evaluations of a
    // large result allocate nothing either
    Counter c2;
    kriti::Allocator a2 = counting(&c2);
    const char *t2 = "{{ range i, x := $ }} {\"i\": {{ i }}, \"s\": \"{{ x }}-{{ i }}\"} {{ end }}";
    assert_true(kriti::compile(t2, std::strlen(t2), kriti::Limits{}, a2, &prog, &err));
    static char arr[4000];
    size_t o = std::snprintf(arr, sizeof arr, "[");
    for (int i = 0; i < 300; i++) o += std::snprintf(arr + o, sizeof arr - o, "%s%d", i ? "," : "", i);
    std::snprintf(arr + o, sizeof arr - o, "]");
    Json big(arr);
    kriti::Binding bb{"$", 1, big.value};
    {
        kriti::Arena grow(a2, stack, sizeof stack);
        kriti::Value out;
        assert_true(kriti::eval(prog, &bb, 1, nullptr, grow, kriti::Limits{}, &out, &err));
        assert_int_equal(out.len, 300);
        size_t warm = c2.allocs;
        assert_true(grow.grown_blocks() > 0);
        grow.reset();
        assert_true(kriti::eval(prog, &bb, 1, nullptr, grow, kriti::Limits{}, &out, &err));
        assert_int_equal(c2.allocs, warm);
    }
    kriti::program_free(prog);
    assert_int_equal(c2.live, 0);
    assert_int_equal(c2.allocs, c2.frees);
}

// Every allocation of compile and of a growing evaluation may fail: a
// Memory Error, and nothing leaks.
void test_allocation_failures(void **) {
    const char *t = "[{{ range i, x := $ }} {\"i\": \"{{ i }}\", \"x\": toUpper(x)} {{ end }}, $?.a, 1.5]";
    const char *in = "[\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\",\"h\",\"i\",\"j\",\"k\",\"l\",\"m\",\"n\",\"o\",\"p\","
                     "\"q\",\"r\",\"s\",\"t\",\"u\",\"v\",\"w\",\"x\",\"y\",\"z\",\"aa\",\"bb\",\"cc\",\"dd\",\"ee\"]";
    Json input(in);
    kriti::Binding b{"$", 1, input.value};
    bool succeeded = false;
    for (size_t fail_at = 1; fail_at < 200 && !succeeded; fail_at++) {
        Counter c;
        c.fail_at = fail_at;
        kriti::Allocator a = counting(&c);
        kriti::Program *prog = nullptr;
        kriti::Error err;
        if (kriti::compile(t, std::strlen(t), kriti::Limits{}, a, &prog, &err)) {
            kriti::Arena arena(a);  // no stack buffer: the evaluation allocates
            kriti::Value out;
            if (kriti::eval(prog, &b, 1, kriti::builtins(), arena, kriti::Limits{}, &out, &err)) {
                succeeded = true;
                assert_int_equal(out.type, kriti::Type::Array);
            } else {
                assert_int_equal(err.code, kriti::ErrorCode::MemoryError);
            }
            arena.release();
            kriti::program_free(prog);
        } else {
            assert_int_equal(err.code, kriti::ErrorCode::MemoryError);
        }
        assert_int_equal(c.live, 0);
        assert_int_equal(c.allocs, c.frees);
    }
    assert_true(succeeded);
}

}  // namespace

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_literals),
        cmocka_unit_test(test_string_templates),
        cmocka_unit_test(test_paths),
        cmocka_unit_test(test_optional_chains),
        cmocka_unit_test(test_defaulting),
        cmocka_unit_test(test_comparisons),
        cmocka_unit_test(test_boolean_operators),
        cmocka_unit_test(test_conditionals),
        cmocka_unit_test(test_ranges),
        cmocka_unit_test(test_functions),
        cmocka_unit_test(test_function_tables),
        cmocka_unit_test(test_eval_errors),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_lex_errors),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_json_text),
        cmocka_unit_test(test_error_json),
        cmocka_unit_test(test_paths_analysis),
        cmocka_unit_test(test_bound_paths),
        cmocka_unit_test(test_allocations),
        cmocka_unit_test(test_allocation_failures),
    };
    return cmocka_run_group_tests(tests, nullptr, nullptr);
}
