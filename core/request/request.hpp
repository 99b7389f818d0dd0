// A request: the fields plugins read, owned by one caller at a time.
#pragma once
#include <switchyard/plugin.h>

#include "json/json.hpp"
#include "util/alloc.hpp"

namespace sy {

// A reusable string buffer: grows, never shrinks until the request is freed.
struct Buf {
    char *p = nullptr;
    size_t cap = 0;
};

struct Request {
    uint32_t magic;
    Alloc alloc;
    sy_request_view view{};
    Buf key, keyspace, table, node, entity_type, entity_id;
    cJSON *document = nullptr; // owned: the parsed request JSON
    cJSON *context = nullptr;  // owned when set by sy_request_set_context_json
    explicit Request(const Alloc &a);
    ~Request();
};

inline const Request *as_request(const sy_request *q) {
    return reinterpret_cast<const Request *>(q);
}
bool valid_request(const sy_request *q);

} // namespace sy
