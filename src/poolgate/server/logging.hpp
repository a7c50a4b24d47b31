// Process-wide logging set-up: one line per event that matters, on stderr (journald adds its own timestamps,
// but a plain terminal or file wants them too). --log-format json writes each line as one JSON object:
// {"time":"2024-05-01T12:00:00.123Z","level":"info","message":"...","fields":{"logger":"poolgate","thread":42}}
#pragma once

#include <memory>
#include <string>

namespace spdlog {
class formatter;
}

namespace poolgate::server {

// `format`: "text" or "json".
void setup_logging(const std::string& level, const std::string& format = "text");

// The formatter behind --log-format json (exposed for tests).
std::unique_ptr<spdlog::formatter> make_json_formatter();

}  // namespace poolgate::server
