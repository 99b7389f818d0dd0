// The Arena and the malloc-backed default Allocator.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>

#include "kriti/kriti.hpp"

namespace kriti {

namespace {

void *malloc_alloc(size_t size, size_t align, void *) {
    if (size == 0) size = 1;
    if (align <= alignof(std::max_align_t)) return std::malloc(size);
    size = (size + align - 1) / align * align;  // aligned_alloc wants a multiple
    return std::aligned_alloc(align, size);
}

void malloc_free(void *p, size_t, void *) { std::free(p); }

const Allocator kMallocAllocator = {malloc_alloc, malloc_free, nullptr};

constexpr size_t kMinBlock = 4096;
constexpr size_t kMaxBlockStep = 1024 * 1024;

uintptr_t align_up(uintptr_t p, size_t align) { return (p + (align - 1)) & ~uintptr_t(align - 1); }

}  // namespace

const Allocator &default_allocator() { return kMallocAllocator; }

// Header of a grown block; its data follows, 16-byte aligned.
struct alignas(16) Arena::Block {
    Block *next;
    size_t capacity;  // data bytes
};

Arena::Arena(const Allocator &a, void *buffer, size_t buffer_size) : a_(a) {
    if (buffer && buffer_size > 0) {
        buf_ = static_cast<char *>(buffer);
        buf_size_ = buffer_size;
    }
    reset();
}

Arena::~Arena() { release(); }

void Arena::reset() {
    current_ = nullptr;
    used_ = 0;
    in_first_ = buf_ != nullptr;
    ptr_ = buf_;
    end_ = buf_ ? buf_ + buf_size_ : nullptr;
}

void Arena::release() {
    Block *b = grown_;
    while (b) {
        Block *next = b->next;
        a_.free(b, sizeof(Block) + b->capacity, a_.ud);
        b = next;
    }
    grown_ = nullptr;
    reset();
}

size_t Arena::grown_blocks() const {
    size_t n = 0;
    for (Block *b = grown_; b; b = b->next) n++;
    return n;
}

void *Arena::alloc(size_t size, size_t align) {
    if (align == 0 || (align & (align - 1)) != 0 || align > 16) return nullptr;
    if (ptr_) {
        uintptr_t p = align_up(reinterpret_cast<uintptr_t>(ptr_), align);
        uintptr_t e = reinterpret_cast<uintptr_t>(end_);
        if (p <= e && size <= e - p) {
            used_ += (p - reinterpret_cast<uintptr_t>(ptr_)) + size;
            ptr_ = reinterpret_cast<char *>(p + size);
            return reinterpret_cast<void *>(p);
        }
    }
    return grow(size, align);
}

// Moves on to the next kept block that fits, or appends a new one.
void *Arena::grow(size_t size, size_t align) {
    if (size > SIZE_MAX / 4) return nullptr;
    size_t need = size + align;
    Block *b = current_ ? current_->next : grown_;
    while (b && b->capacity < need) b = b->next;
    if (!b) {
        Block *tail = grown_;
        while (tail && tail->next) tail = tail->next;
        size_t cap = tail ? tail->capacity * 2 : kMinBlock;
        if (tail && cap > tail->capacity + kMaxBlockStep) cap = tail->capacity + kMaxBlockStep;
        if (cap < need) cap = need;
        cap = (cap + 15) & ~size_t(15);
        void *mem = a_.alloc(sizeof(Block) + cap, alignof(Block), a_.ud);
        if (!mem) return nullptr;
        b = new (mem) Block{nullptr, cap};
        if (tail)
            tail->next = b;
        else
            grown_ = b;
    }
    current_ = b;
    in_first_ = false;
    ptr_ = reinterpret_cast<char *>(b + 1);
    end_ = ptr_ + b->capacity;
    return alloc(size, align);
}

}  // namespace kriti
