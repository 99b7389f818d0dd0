// Number text shared by the JSON reader and the template lexer.
#pragma once

#include <cstddef>

namespace kriti::detail {

enum class NumberStatus { Ok, Invalid, Overflow };

// Reads a whole decimal number (JSON syntax, a leading '-' allowed)
// locale-independently. Magnitudes below the double range read as 0;
// above it, Overflow.
NumberStatus parse_number(const char *s, size_t n, double *out);

}  // namespace kriti::detail
