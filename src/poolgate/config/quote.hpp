// How untrusted text (a value from a file, a flag or an API answer) appears in error messages and logs: bounded
// and printable, so malformed or hostile input can neither flood the log nor forge lines in it.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace poolgate::config {

// `text` with every byte outside printable ASCII written as \xNN and a backslash as \\; after about `max_bytes`
// of output the rest is left out and "..." marks the cut.
std::string printable(std::string_view text, std::size_t max_bytes = 120);

// printable(text) in double quotes, a quote inside written as \": "10.0.0.300".
std::string quoted(std::string_view text, std::size_t max_bytes = 120);

}  // namespace poolgate::config
