#pragma once

#include <utility>
#include <variant>

namespace cheese {

//! Tag for constructing the error alternative of a Result.
template <typename E>
struct Unexpected {
  // A constructor, not aggregate initialization: clang 14 (the fuzz build) has no parenthesized
  // aggregate initialization, which `Unexpected(error)` needs otherwise.
  Unexpected(E e) : error(std::move(e)) {}  // NOLINT(implicit)
  E error;
};
template <typename E>
Unexpected(E) -> Unexpected<E>;

//! A value or an error reason: the return type of decoding and consensus checks.
template <typename T, typename E>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}            // NOLINT(implicit)
  Result(Unexpected<E> e) : v_(std::in_place_index<1>, std::move(e.error)) {}  // NOLINT(implicit)

  bool has_value() const { return v_.index() == 0; }
  explicit operator bool() const { return has_value(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  E error() const { return std::get<1>(v_); }

 private:
  std::variant<T, E> v_;
};

}  // namespace cheese
