// The endpoints file shared with k8s-apiserver-proxy: {"endpoints": ["10.0.0.1:6443", "https://10.0.0.2:6443"]}.
#pragma once

#include "poolgate/config/address.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace poolgate::config {

// Parses and validates the file's content; the result is sorted and free of duplicates. `origin` (the path)
// starts every error message so the operator knows which file and which value is wrong.
std::vector<HostPort> parse_endpoints_json(std::string_view content, std::string_view origin);

// Reads and parses the file; a missing or unreadable file is a ConfigError too.
std::vector<HostPort> load_endpoints_file(const std::string& path);

// Raw file content, for detecting whether a change notification changed anything.
std::string read_whole_file(const std::string& path);

// The file's content for a list (sorted as given), in the same format, for writers such as discovery.
std::string render_endpoints_json(const std::vector<HostPort>& endpoints);

}  // namespace poolgate::config
