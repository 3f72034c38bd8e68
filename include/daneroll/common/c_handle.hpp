// std::unique_ptr ownership for C library handles: the deleter calls the
// library's own free function, so every handle is released exactly once.
#pragma once

#include <memory>

namespace daneroll {

template <auto FreeFn>
struct CDeleter {
    template <typename T>
    void operator()(T* p) const noexcept {
        FreeFn(p);
    }
};

template <typename T, auto FreeFn>
using CHandle = std::unique_ptr<T, CDeleter<FreeFn>>;

}  // namespace daneroll
