#include "util/wipe.hpp"

#include <string.h>  // explicit_bzero

namespace cheese {

void wipe_memory(void* p, std::size_t n) noexcept {
  if (p != nullptr && n > 0) explicit_bzero(p, n);
}

void wipe_string(std::string& s) noexcept {
  wipe_memory(s.data(), s.size());
  s.clear();
}

}  // namespace cheese
