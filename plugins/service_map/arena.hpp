// A bump allocator over the host's allocator for one snapshot's state:
// attach builds thousands of small pieces (instances, attributes, labels)
// that live and die together, so detach frees a few blocks instead.
#pragma once
#include <switchyard/plugin.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace syp::svc {

class Arena {
public:
    void init(const sy_host *h) { host_ = h; }

    // Zeroed memory, or NULL when the host's allocator fails. align is a
    // power of two (up to a cache line: hot arrays start on one).
    void *alloc(size_t size, size_t align = alignof(std::max_align_t)) {
        if (head_) {
            size_t off = align_up(head_, head_->used, align);
            if (off + size <= head_->cap) {
                head_->used = off + size;
                return data(head_) + off;
            }
        }
        // Large pieces (an instance array) get a block of their own.
        size_t cap = size + align > kBlock ? size + align : kBlock;
        auto *b = static_cast<Block *>(host_->alloc(host_, sizeof(Block) + cap, alignof(std::max_align_t)));
        if (!b) return nullptr;
        std::memset(static_cast<void *>(b), 0, sizeof(Block) + cap);
        b->cap = cap;
        b->next = head_;
        head_ = b;
        bytes_ += sizeof(Block) + cap;
        size_t off = align_up(b, 0, align);
        b->used = off + size;
        return data(b) + off;
    }

    template <class T> T *array(size_t n) { return static_cast<T *>(alloc((n ? n : 1) * sizeof(T), alignof(T))); }

    char *dup(const char *s, size_t n) {
        auto *p = static_cast<char *>(alloc(n + 1, 1));
        if (p) std::memcpy(p, s, n);
        return p; // zeroed: NUL-terminated
    }
    char *dup(const char *s) { return s ? dup(s, std::strlen(s)) : nullptr; }

    void release() {
        while (head_) {
            Block *next = head_->next;
            host_->free(host_, head_, sizeof(Block) + head_->cap);
            head_ = next;
        }
        bytes_ = 0;
    }

    size_t bytes() const { return bytes_; }

private:
    static constexpr size_t kBlock = 64 * 1024;
    struct alignas(std::max_align_t) Block {
        Block *next;
        size_t cap;
        size_t used;
    };
    static char *data(Block *b) { return reinterpret_cast<char *>(b + 1); }
    // The first offset from off on whose address is aligned.
    static size_t align_up(Block *b, size_t off, size_t align) {
        auto at = reinterpret_cast<uintptr_t>(data(b)) + off;
        return off + ((align - at % align) % align);
    }

    const sy_host *host_ = nullptr;
    Block *head_ = nullptr;
    size_t bytes_ = 0;
};

} // namespace syp::svc
