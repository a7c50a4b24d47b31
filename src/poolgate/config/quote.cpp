#include "poolgate/config/quote.hpp"

#include <algorithm>

namespace poolgate::config {
namespace {

std::string escape(std::string_view text, std::size_t max_bytes, bool escape_quotes) {
  constexpr std::string_view kHex = "0123456789ABCDEF";
  std::string out;
  out.reserve(std::min(text.size(), max_bytes) + 8);
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (out.size() >= max_bytes) {
      out += "...";
      break;
    }
    const auto byte = static_cast<unsigned char>(text[i]);
    if (byte == '\\' || (escape_quotes && byte == '"')) {
      out += '\\';
      out += static_cast<char>(byte);
    } else if (byte < 0x20 || byte > 0x7e) {
      out += "\\x";
      out += kHex[byte >> 4];
      out += kHex[byte & 0xf];
    } else {
      out += static_cast<char>(byte);
    }
  }
  return out;
}

}  // namespace

std::string printable(std::string_view text, std::size_t max_bytes) { return escape(text, max_bytes, false); }

std::string quoted(std::string_view text, std::size_t max_bytes) { return '"' + escape(text, max_bytes, true) + '"'; }

}  // namespace poolgate::config
