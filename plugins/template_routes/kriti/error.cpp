// Error codes, messages and upstream's serialized error form.
#include <cstdarg>
#include <cstdio>
#include <cstring>

#include "internal.hpp"

namespace kriti {

const char *error_code_name(ErrorCode code) {
    switch (code) {
    case ErrorCode::None: return "No Error";
    case ErrorCode::InvalidPath: return "Invalid Path";
    case ErrorCode::AttributeError: return "Attribute Error";
    case ErrorCode::NameError: return "Name Error";
    case ErrorCode::TypeError: return "Type Error";
    case ErrorCode::IndexError: return "Index Error";
    case ErrorCode::ParseError: return "Parse Error";
    case ErrorCode::LexError: return "Lex Error";
    case ErrorCode::FunctionError: return "Function Error";
    case ErrorCode::LimitError: return "Limit Error";
    case ErrorCode::MemoryError: return "Memory Error";
    }
    return "Unknown Error";
}

namespace detail {

bool set_error_v(Error *err, ErrorCode code, const Span &span, const char *fmt, va_list ap) {
    if (!err) return false;
    err->code = code;
    err->span = span;
    int n = std::vsnprintf(err->message, sizeof err->message, fmt, ap);
    if (n >= static_cast<int>(sizeof err->message)) {
        // cut on a code point boundary rather than mid-character
        size_t keep = utf8_trim(err->message, sizeof err->message - 1);
        err->message[keep] = 0;
    } else if (n < 0) {
        err->message[0] = 0;
    }
    return false;
}

bool set_error(Error *err, ErrorCode code, const Span &span, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    set_error_v(err, code, span, fmt, ap);
    va_end(ap);
    return false;
}

}  // namespace detail

size_t write_error_json(const Error &err, char *buf, size_t cap) {
    // Build the value and let write_json escape and format it; it fits in a
    // small stack arena (no allocation).
    Member pos[4];
    pos[0] = Member{"start_line", 10, Value::number(err.span.start_line)};
    pos[1] = Member{"start_column", 12, Value::number(err.span.start_col)};
    pos[2] = Member{"end_line", 8, Value::number(err.span.end_line)};
    pos[3] = Member{"end_column", 10, Value::number(err.span.end_col)};
    const char *name = error_code_name(err.code);
    Member top[3];
    top[0] = Member{"error_code", 10, Value::string(name, static_cast<uint32_t>(std::strlen(name)))};
    top[1] = Member{"message", 7,
                    Value::string(err.message, static_cast<uint32_t>(strnlen(err.message, sizeof err.message)))};
    top[2] = Member{"source_position", 15, Value::object(pos, 4)};
    return write_json(Value::object(top, 3), buf, cap);
}

}  // namespace kriti
