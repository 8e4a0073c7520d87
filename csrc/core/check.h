// Argument checks shared by every op entry point.
//
// Entry points validate everything once, with the GIL held, and throw one of
// these; the bindings translate them to Python's ValueError / TypeError /
// RuntimeError (see bindings/module.cpp). Messages name the shapes involved.
#pragma once
#include <cstdint>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace dlcore {

struct ValueError : std::runtime_error { using std::runtime_error::runtime_error; };
struct TypeError : std::runtime_error { using std::runtime_error::runtime_error; };
// A backend that was asked for by name but is not built / not usable here.
struct BackendError : std::runtime_error { using std::runtime_error::runtime_error; };

using Shape = std::vector<int64_t>;

inline std::string shape_str(const Shape& s) {
  std::ostringstream os;
  os << "(";
  for (size_t i = 0; i < s.size(); ++i) os << (i ? ", " : "") << s[i];
  if (s.size() == 1) os << ",";
  os << ")";
  return os.str();
}

namespace detail {
inline void append(std::ostringstream&) {}
template <class T, class... R>
void append(std::ostringstream& os, const T& v, const R&... rest) {
  os << v;
  append(os, rest...);
}
}  // namespace detail

template <class... Parts>
std::string cat(const Parts&... parts) {
  std::ostringstream os;
  detail::append(os, parts...);
  return os.str();
}

}  // namespace dlcore

// DLCORE_CHECK(cond, "message parts", shape_str(s), ...) -> ValueError.
#define DLCORE_CHECK(cond, ...) \
  do { if (!(cond)) throw ::dlcore::ValueError(::dlcore::cat(__VA_ARGS__)); } while (0)
#define DLCORE_CHECK_TYPE(cond, ...) \
  do { if (!(cond)) throw ::dlcore::TypeError(::dlcore::cat(__VA_ARGS__)); } while (0)
