// Argument checks shared by every op entry point.
//
// Entry points validate everything once, with the GIL held, and throw one of
// these; the bindings translate them to Python's ValueError / TypeError /
// RuntimeError (see bindings/module.cpp). Messages name the shapes involved.
#pragma once
#include <charconv>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace dlcore {

struct ValueError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
struct TypeError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
// A backend that was asked for by name but is not built / not usable here.
struct BackendError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

using Shape = std::vector<int64_t>;

// Messages are built with std::to_chars, not iostreams: a toolchain that links
// libstdc++ statically into the module (seen: GCC 13.3 under /opt/gcc on the
// GPU machine) leaves that copy's locale uninitialized, and the first ostream
// insertion segfaults -- every error message crashed the process there.
// to_chars also gives floats their shortest round-trip form, so messages and
// cache keys built from them (e.g. oneDNN's LRN alpha) never collide.
namespace detail {
inline void append_one(std::string& out, const std::string& v) { out += v; }
inline void append_one(std::string& out, std::string_view v) { out.append(v.data(), v.size()); }
inline void append_one(std::string& out, const char* v) { out += v ? v : "(null)"; }
inline void append_one(std::string& out, char v) { out += v; }
template <class T>
void append_one(std::string& out, const T& v) {
  static_assert(std::is_arithmetic_v<T>, "cat() takes strings, characters and numbers");
  char buf[64];
  std::to_chars_result r;
  if constexpr (std::is_same_v<T, bool>) {
    r = std::to_chars(buf, buf + sizeof buf, int(v));
  } else {
    r = std::to_chars(buf, buf + sizeof buf, v);
  }
  out.append(buf, r.ptr);
}
}  // namespace detail

template <class... Parts>
std::string cat(const Parts&... parts) {
  std::string out;
  (detail::append_one(out, parts), ...);
  return out;
}

inline std::string shape_str(const Shape& s) {
  std::string out = "(";
  for (size_t i = 0; i < s.size(); ++i) out += cat(i ? ", " : "", s[i]);
  if (s.size() == 1) out += ",";
  return out + ")";
}

}  // namespace dlcore

// DLCORE_CHECK(cond, "message parts", shape_str(s), ...) -> ValueError.
#define DLCORE_CHECK(cond, ...)                                          \
  do {                                                                   \
    if (!(cond)) throw ::dlcore::ValueError(::dlcore::cat(__VA_ARGS__)); \
  } while (0)
#define DLCORE_CHECK_TYPE(cond, ...)                                    \
  do {                                                                  \
    if (!(cond)) throw ::dlcore::TypeError(::dlcore::cat(__VA_ARGS__)); \
  } while (0)
