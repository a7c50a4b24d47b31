// Go-style durations ("500ms", "15s", "1h30m"), the syntax k8s-apiserver-proxy's flags use.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

namespace poolgate::config {

using Duration = std::chrono::nanoseconds;

// Parses a non-negative Go duration; throws ConfigError naming the text on anything else.
Duration parse_duration(std::string_view text);

// Renders a duration the way Go's time.Duration.String() would for whole units ("1m30s", "500ms", "0s").
std::string format_duration(Duration value);

}  // namespace poolgate::config
