#include "util/alloc.hpp"

#include <cerrno>
#include <cstdlib>

namespace sy {

namespace {
void *default_alloc(size_t size, size_t align, void *) {
    if (align <= alignof(std::max_align_t)) return std::malloc(size ? size : 1);
    void *p = nullptr;
    return posix_memalign(&p, align, size ? size : 1) == 0 ? p : nullptr;
}
void default_free(void *p, size_t, void *) {
    int saved = errno; // custom allocators may not be careful; we are
    std::free(p);
    errno = saved;
}
} // namespace

Alloc Alloc::from(const sy_allocator *a) {
    Alloc out;
    if (a && a->struct_size >= offsetof(sy_allocator, user_data) + sizeof(void *) && a->alloc &&
        a->free) {
        out.alloc_fn = a->alloc;
        out.free_fn = a->free;
        out.user_data = a->user_data;
    } else {
        out.alloc_fn = default_alloc;
        out.free_fn = default_free;
    }
    return out;
}

void *Alloc::alloc(size_t size, size_t align) const { return alloc_fn(size, align, user_data); }

void Alloc::free(void *p, size_t size) const {
    if (p) free_fn(p, size, user_data);
}

char *Alloc::strdup(const char *s) const {
    if (!s) return nullptr;
    size_t n = std::strlen(s) + 1;
    char *p = static_cast<char *>(alloc(n, 1));
    if (p) std::memcpy(p, s, n);
    return p;
}

void Alloc::strfree(char *s) const {
    if (s) free(s, std::strlen(s) + 1);
}

Arena::~Arena() {
    while (head_) {
        Block *next = head_->next;
        a_->free(head_, head_->size);
        head_ = next;
    }
}

void *Arena::alloc(size_t size, size_t align) {
    if (head_) {
        size_t base = reinterpret_cast<uintptr_t>(head_ + 1);
        size_t off = (base + head_->used + align - 1) / align * align - base;
        if (off + size <= head_->size - sizeof(Block)) {
            head_->used = off + size;
            return reinterpret_cast<char *>(head_ + 1) + off;
        }
    }
    size_t want = sizeof(Block) + size + align;
    size_t block = want < 4096 ? 4096 : want;
    auto *b = static_cast<Block *>(a_->alloc(block, alignof(std::max_align_t)));
    if (!b) return nullptr;
    b->next = head_;
    b->size = block;
    b->used = 0;
    head_ = b;
    total_ += block;
    size_t base = reinterpret_cast<uintptr_t>(b + 1);
    size_t off = (base + align - 1) / align * align - base;
    b->used = off + size;
    return reinterpret_cast<char *>(b + 1) + off;
}

char *Arena::strdup(const char *s, size_t len) {
    char *p = static_cast<char *>(alloc(len + 1, 1));
    if (!p) return nullptr;
    std::memcpy(p, s, len);
    p[len] = 0;
    return p;
}

} // namespace sy
