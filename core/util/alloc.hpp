// The router's allocator and the few fallible containers the core needs.
// The core is built without exceptions: every allocation can fail and says so.
#pragma once
#include <switchyard/switchyard.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <type_traits>
#include <utility>

namespace sy {

struct Alloc {
    sy_alloc_fn alloc_fn = nullptr;
    sy_free_fn free_fn = nullptr;
    void *user_data = nullptr;

    static Alloc from(const sy_allocator *a); // nullptr or incomplete: malloc/free
    void *alloc(size_t size, size_t align = alignof(std::max_align_t)) const;
    void free(void *p, size_t size) const;

    template <class T, class... Args> T *make(Args &&...args) const {
        void *p = alloc(sizeof(T), alignof(T));
        return p ? new (p) T(std::forward<Args>(args)...) : nullptr;
    }
    template <class T> void destroy(T *p) const {
        if (!p) return;
        p->~T();
        free(p, sizeof(T));
    }
    char *strdup(const char *s) const; // nullptr in, nullptr out
    void strfree(char *s) const;
};

// A growable array of trivially-relocatable values; push can fail.
template <class T> class Vec {
    static_assert(std::is_trivially_copyable_v<T>, "Vec holds plain data");

public:
    explicit Vec(const Alloc &a) : a_(&a) {}
    Vec(const Vec &) = delete;
    Vec &operator=(const Vec &) = delete;
    ~Vec() { reset(); }

    bool reserve(size_t n) {
        if (n <= cap_) return true;
        size_t cap = cap_ ? cap_ : 4;
        while (cap < n) cap *= 2;
        T *p = static_cast<T *>(a_->alloc(cap * sizeof(T), alignof(T)));
        if (!p) return false;
        if (n_) std::memcpy(static_cast<void *>(p), data_, n_ * sizeof(T));
        if (data_) a_->free(data_, cap_ * sizeof(T));
        data_ = p;
        cap_ = cap;
        return true;
    }
    bool push(const T &v) {
        if (n_ == cap_ && !reserve(n_ + 1)) return false;
        data_[n_++] = v;
        return true;
    }
    void clear() { n_ = 0; }
    void reset() {
        if (data_) a_->free(data_, cap_ * sizeof(T));
        data_ = nullptr;
        n_ = cap_ = 0;
    }
    // Hands the buffer over: the caller frees capacity()*sizeof(T) bytes.
    T *release(size_t *cap) {
        T *p = data_;
        *cap = cap_;
        data_ = nullptr;
        n_ = cap_ = 0;
        return p;
    }
    size_t size() const { return n_; }
    size_t capacity() const { return cap_; }
    T *data() { return data_; }
    const T *data() const { return data_; }
    T &operator[](size_t i) { return data_[i]; }
    const T &operator[](size_t i) const { return data_[i]; }
    T *begin() { return data_; }
    T *end() { return data_ + n_; }

private:
    const Alloc *a_;
    T *data_ = nullptr;
    size_t n_ = 0, cap_ = 0;
};

// Bump allocator for immutable snapshot data (strings, token arrays):
// freed in one go with the snapshot.
class Arena {
public:
    explicit Arena(const Alloc &a) : a_(&a) {}
    Arena(const Arena &) = delete;
    Arena &operator=(const Arena &) = delete;
    ~Arena();
    void *alloc(size_t size, size_t align = alignof(std::max_align_t));
    char *strdup(const char *s, size_t len);
    char *strdup(const char *s) { return s ? strdup(s, std::strlen(s)) : nullptr; }
    size_t bytes() const { return total_; }

private:
    struct Block {
        Block *next;
        size_t size;
        size_t used;
    };
    const Alloc *a_;
    Block *head_ = nullptr;
    size_t total_ = 0;
};

} // namespace sy
