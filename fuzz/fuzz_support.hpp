// What every fuzz target shares: the input as text, and checks that stop the run (a crash to libFuzzer) when a
// parser breaks a promise its callers rely on.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace poolgate::fuzz {

inline std::string_view as_text(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// abort() is what libFuzzer records as a crash, with the input saved as the reproducer.
inline void require(bool condition, std::string_view what, std::string_view detail = {}) {
  if (condition) return;
  std::fprintf(stderr, "fuzz check failed: %.*s\n%.*s\n", static_cast<int>(what.size()), what.data(),
               static_cast<int>(detail.size()), detail.data());
  std::abort();
}

// Error messages are written to the log as they are: they say where the problem is (start with `prefix`), and
// hostile input cannot make them flood the log or forge lines (bounded, no control characters).
inline void require_clear_message(std::string_view message, std::string_view prefix) {
  require(message.starts_with(prefix), "error message does not start with its origin", message);
  require(message.size() <= prefix.size() + 1024, "error message longer than 1 KiB", message.substr(0, 2048));
  for (const char c : message) {
    const auto byte = static_cast<unsigned char>(c);
    require(byte >= 0x20 && byte != 0x7f, "control character in an error message", message);
  }
}

}  // namespace poolgate::fuzz
