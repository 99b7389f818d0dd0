// UTF-8 and the slice of Unicode case mapping Kriti's text functions need.
//
// Upstream uses Data.Text (all of Unicode, full mappings). We cover ASCII,
// Latin-1, Latin Extended-A, Greek and Coptic, and Cyrillic (U+0000-U+017F,
// U+0370-U+04FF) with their full (multi-character) mappings, which is what
// routing keys and names are made of; anything else maps to itself.
#include <cstdint>
#include <cstring>

#include "internal.hpp"

namespace kriti::detail {

size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp) {
    unsigned char c = s[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    size_t len;
    uint32_t v, min;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
        v = c & 0x1F;
        min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        v = c & 0x0F;
        min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        v = c & 0x07;
        min = 0x10000;
    } else {
        return 0;
    }
    if (n < len) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        v = (v << 6) | (s[i] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0;
    *cp = v;
    return len;
}

size_t utf8_encode(uint32_t cp, char *out) {
    unsigned char *o = reinterpret_cast<unsigned char *>(out);
    if (cp < 0x80) {
        o[0] = static_cast<unsigned char>(cp);
        return 1;
    }
    if (cp < 0x800) {
        o[0] = static_cast<unsigned char>(0xC0 | (cp >> 6));
        o[1] = static_cast<unsigned char>(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = static_cast<unsigned char>(0xE0 | (cp >> 12));
        o[1] = static_cast<unsigned char>(0x80 | ((cp >> 6) & 0x3F));
        o[2] = static_cast<unsigned char>(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = static_cast<unsigned char>(0xF0 | (cp >> 18));
    o[1] = static_cast<unsigned char>(0x80 | ((cp >> 12) & 0x3F));
    o[2] = static_cast<unsigned char>(0x80 | ((cp >> 6) & 0x3F));
    o[3] = static_cast<unsigned char>(0x80 | (cp & 0x3F));
    return 4;
}

size_t utf8_count(const char *s, size_t n) {
    size_t count = 0;
    for (size_t i = 0; i < n; i++)
        if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) count++;
    return count;
}

size_t utf8_trim(const char *s, size_t n) {
    size_t i = n;
    // back up over continuation bytes to a lead byte, then keep that code
    // point only if it is complete
    size_t back = 0;
    while (i > 0 && back < 4 && (static_cast<unsigned char>(s[i - 1]) & 0xC0) == 0x80) {
        i--;
        back++;
    }
    if (i == 0) return 0;
    unsigned char lead = static_cast<unsigned char>(s[i - 1]);
    if (lead < 0x80) return n;
    if (utf8_len(lead) == back + 1) return n;
    return i - 1;
}

bool is_space(uint32_t cp) {
    return cp == 0x20 || (cp >= 0x09 && cp <= 0x0D) || cp == 0xA0 || cp == 0x1680 ||
           (cp >= 0x2000 && cp <= 0x200A) || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

bool is_letter(uint32_t cp) {
    if (cp < 0x80) return (cp | 0x20) >= 'a' && (cp | 0x20) <= 'z';
    if (cp < 0x100) return cp == 0xAA || cp == 0xB5 || cp == 0xBA || (cp >= 0xC0 && cp != 0xD7 && cp != 0xF7);
    if (cp < 0x2B0) return true;  // Latin Extended-A/B, IPA
    if (cp < 0x370) return cp >= 0x2B0 && cp <= 0x2C1;  // modifier letters; combining marks are not
    if (cp < 0x400)
        return cp != 0x375 && cp != 0x37E && cp != 0x384 && cp != 0x385 && cp != 0x387 && cp != 0x3F6 &&
               !(cp >= 0x378 && cp <= 0x379) && !(cp >= 0x380 && cp <= 0x383) && cp != 0x38B &&
               cp != 0x38D && cp != 0x3A2;
    if (cp < 0x530) return !(cp >= 0x482 && cp <= 0x489);
    // Elsewhere, an approximation: scripts are letters; punctuation, symbol,
    // private-use and emoji blocks are not.
    if (cp >= 0x2000 && cp <= 0x2BFF) return false;
    if (cp >= 0x3000 && cp <= 0x303F) return false;
    if (cp >= 0xD800 && cp <= 0xF8FF) return false;
    if (cp >= 0xFE00 && cp <= 0xFE6F) return false;
    if (cp >= 0xFF00 && cp <= 0xFF20) return false;
    if (cp >= 0x1F000) return false;
    return true;
}

namespace {

// For the blocks where case pairs alternate: is cp the upper of its pair?
bool in_pairs(uint32_t cp, uint32_t lo, uint32_t hi) { return cp >= lo && cp <= hi; }

uint32_t simple_lower(uint32_t cp) {
    if (cp < 0x80) return cp >= 'A' && cp <= 'Z' ? cp + 32 : cp;
    if (cp < 0x100) return cp >= 0xC0 && cp <= 0xDE && cp != 0xD7 ? cp + 32 : cp;
    if (cp < 0x180) {
        if (cp == 0x178) return 0xFF;
        if (in_pairs(cp, 0x100, 0x12F) || in_pairs(cp, 0x132, 0x137) || in_pairs(cp, 0x14A, 0x177))
            return cp % 2 == 0 ? cp + 1 : cp;
        if (in_pairs(cp, 0x139, 0x148) || in_pairs(cp, 0x179, 0x17E)) return cp % 2 == 1 ? cp + 1 : cp;
        return cp;
    }
    if (cp >= 0x370 && cp < 0x400) {
        if (cp == 0x370 || cp == 0x372 || cp == 0x376) return cp + 1;
        if (cp == 0x37F) return 0x3F3;
        if (cp == 0x386) return 0x3AC;
        if (cp >= 0x388 && cp <= 0x38A) return cp + 37;
        if (cp == 0x38C) return 0x3CC;
        if (cp == 0x38E || cp == 0x38F) return cp + 63;
        if ((cp >= 0x391 && cp <= 0x3A1) || (cp >= 0x3A3 && cp <= 0x3AB)) return cp + 32;
        if (cp == 0x3CF) return 0x3D7;
        if (in_pairs(cp, 0x3D8, 0x3EF)) return cp % 2 == 0 ? cp + 1 : cp;
        if (cp == 0x3F4) return 0x3B8;
        if (cp == 0x3F7 || cp == 0x3FA) return cp + 1;
        if (cp == 0x3F9) return 0x3F2;
        if (cp >= 0x3FD) return cp - 130;
        return cp;
    }
    if (cp >= 0x400 && cp < 0x500) {
        if (cp <= 0x40F) return cp + 80;
        if (cp <= 0x42F) return cp + 32;
        if (cp == 0x4C0) return 0x4CF;
        if (in_pairs(cp, 0x460, 0x481) || in_pairs(cp, 0x48A, 0x4BF) || in_pairs(cp, 0x4D0, 0x4FF))
            return cp % 2 == 0 ? cp + 1 : cp;
        if (in_pairs(cp, 0x4C1, 0x4CE)) return cp % 2 == 1 ? cp + 1 : cp;
        return cp;
    }
    return cp;
}

uint32_t simple_upper(uint32_t cp) {
    if (cp < 0x80) return cp >= 'a' && cp <= 'z' ? cp - 32 : cp;
    if (cp < 0x100) {
        if (cp == 0xB5) return 0x39C;
        if (cp == 0xFF) return 0x178;
        return cp >= 0xE0 && cp <= 0xFE && cp != 0xF7 ? cp - 32 : cp;
    }
    if (cp < 0x180) {
        if (cp == 0x131) return 'I';
        if (cp == 0x17F) return 'S';
        if (in_pairs(cp, 0x100, 0x12F) || in_pairs(cp, 0x132, 0x137) || in_pairs(cp, 0x14A, 0x177))
            return cp % 2 == 1 ? cp - 1 : cp;
        if (in_pairs(cp, 0x139, 0x148) || in_pairs(cp, 0x179, 0x17E)) return cp % 2 == 0 ? cp - 1 : cp;
        return cp;
    }
    if (cp >= 0x370 && cp < 0x400) {
        if (cp == 0x371 || cp == 0x373 || cp == 0x377) return cp - 1;
        if (cp >= 0x37B && cp <= 0x37D) return cp + 130;
        if (cp == 0x3AC) return 0x386;
        if (cp >= 0x3AD && cp <= 0x3AF) return cp - 37;
        if (cp == 0x3C2) return 0x3A3;
        if ((cp >= 0x3B1 && cp <= 0x3C1) || (cp >= 0x3C3 && cp <= 0x3CB)) return cp - 32;
        if (cp == 0x3CC) return 0x38C;
        if (cp == 0x3CD || cp == 0x3CE) return cp - 63;
        if (cp == 0x3D0) return 0x392;
        if (cp == 0x3D1) return 0x398;
        if (cp == 0x3D5) return 0x3A6;
        if (cp == 0x3D6) return 0x3A0;
        if (cp == 0x3D7) return 0x3CF;
        if (in_pairs(cp, 0x3D8, 0x3EF)) return cp % 2 == 1 ? cp - 1 : cp;
        if (cp == 0x3F0) return 0x39A;
        if (cp == 0x3F1) return 0x3A1;
        if (cp == 0x3F2) return 0x3F9;
        if (cp == 0x3F3) return 0x37F;
        if (cp == 0x3F5) return 0x395;
        if (cp == 0x3F8 || cp == 0x3FB) return cp - 1;
        return cp;
    }
    if (cp >= 0x400 && cp < 0x500) {
        if (cp >= 0x430 && cp <= 0x44F) return cp - 32;
        if (cp >= 0x450 && cp <= 0x45F) return cp - 80;
        if (cp == 0x4CF) return 0x4C0;
        if (in_pairs(cp, 0x460, 0x481) || in_pairs(cp, 0x48A, 0x4BF) || in_pairs(cp, 0x4D0, 0x4FF))
            return cp % 2 == 1 ? cp - 1 : cp;
        if (in_pairs(cp, 0x4C1, 0x4CE)) return cp % 2 == 0 ? cp - 1 : cp;
        return cp;
    }
    return cp;
}

size_t put(uint32_t out[3], uint32_t a, uint32_t b = 0, uint32_t c = 0) {
    out[0] = a;
    out[1] = b;
    out[2] = c;
    return c ? 3 : b ? 2 : 1;
}

}  // namespace

size_t case_map(uint32_t cp, CaseMap m, uint32_t out[3]) {
    // the unconditional multi-character mappings of SpecialCasing.txt and
    // CaseFolding.txt (status F) in the covered blocks
    switch (cp) {
    case 0xDF:  // ß
        if (m == CaseMap::Upper) return put(out, 'S', 'S');
        if (m == CaseMap::Title) return put(out, 'S', 's');
        if (m == CaseMap::Fold) return put(out, 's', 's');
        break;
    case 0x130:  // İ
        if (m == CaseMap::Lower || m == CaseMap::Fold) return put(out, 'i', 0x307);
        break;
    case 0x149:  // ŉ
        if (m == CaseMap::Upper || m == CaseMap::Title) return put(out, 0x2BC, 'N');
        if (m == CaseMap::Fold) return put(out, 0x2BC, 'n');
        break;
    case 0x390:  // ΐ
        if (m == CaseMap::Upper || m == CaseMap::Title) return put(out, 0x399, 0x308, 0x301);
        if (m == CaseMap::Fold) return put(out, 0x3B9, 0x308, 0x301);
        break;
    case 0x3B0:  // ΰ
        if (m == CaseMap::Upper || m == CaseMap::Title) return put(out, 0x3A5, 0x308, 0x301);
        if (m == CaseMap::Fold) return put(out, 0x3C5, 0x308, 0x301);
        break;
    default: break;
    }
    switch (m) {
    case CaseMap::Lower: return put(out, simple_lower(cp));
    case CaseMap::Upper:
    case CaseMap::Title: return put(out, simple_upper(cp));
    case CaseMap::Fold:
        // folding is lowering, except where the lower form is not the
        // canonical one
        switch (cp) {
        case 0xB5: return put(out, 0x3BC);
        case 0x17F: return put(out, 's');
        case 0x3C2: return put(out, 0x3C3);
        case 0x3D0: return put(out, 0x3B2);
        case 0x3D1: return put(out, 0x3B8);
        case 0x3D5: return put(out, 0x3C6);
        case 0x3D6: return put(out, 0x3C0);
        case 0x3F0: return put(out, 0x3BA);
        case 0x3F1: return put(out, 0x3C1);
        case 0x3F5: return put(out, 0x3B5);
        default: return put(out, simple_lower(cp));
        }
    }
    return put(out, cp);
}

}  // namespace kriti::detail
