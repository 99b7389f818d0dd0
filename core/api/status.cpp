// Status strings and version queries: one X-macro feeds every table.
#include <switchyard/switchyard.h>

extern "C" {

SY_API const char *sy_status_str(int status) {
    switch (status) {
#define SY_STR_(name, value, text) \
    case value: return text;
        SY_STATUS_MAP(SY_STR_)
#undef SY_STR_
    }
    return "unknown status";
}

SY_API const char *sy_status_name(int status) {
    switch (status) {
#define SY_NAME_(name, value, text) \
    case value: return "SY_" #name;
        SY_STATUS_MAP(SY_NAME_)
#undef SY_NAME_
    }
    return "SY_UNKNOWN_STATUS";
}

SY_API uint32_t sy_version(void) { return SY_VERSION_HEX; }
SY_API const char *sy_version_string(void) { return SY_VERSION_STRING; }
SY_API uint32_t sy_abi_version(void) { return SY_ABI_VERSION; }
}
