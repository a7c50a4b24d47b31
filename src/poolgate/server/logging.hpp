// Process-wide logging set-up: one line per event that matters, on stderr (journald adds its own timestamps,
// but a plain terminal or file wants them too).
#pragma once

#include <string>

namespace poolgate::server {

void setup_logging(const std::string& level);

}  // namespace poolgate::server
