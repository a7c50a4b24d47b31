#include "poolgate/config/endpoints_file.hpp"

#include "poolgate/config/error.hpp"
#include "poolgate/config/quote.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace poolgate::config {

std::vector<HostPort> parse_endpoints_json(std::string_view content, std::string_view origin) {
  const std::string where(origin);
  boost::system::error_code ec;
  boost::json::value document = boost::json::parse(content, ec);
  if (ec) throw ConfigError(where + ": not valid JSON: " + ec.message());
  if (!document.is_object()) throw ConfigError(where + ": expected a JSON object {\"endpoints\": [...]}");
  const auto* list = document.as_object().if_contains("endpoints");
  if (list == nullptr) throw ConfigError(where + ": missing field \"endpoints\"");
  if (!list->is_array()) {
    throw ConfigError(where + ": field \"endpoints\" must be a list of \"host:port\" strings, got " +
                      printable(boost::json::serialize(*list)));
  }
  if (list->as_array().empty()) throw ConfigError(where + ": field \"endpoints\" is an empty list");

  std::vector<HostPort> endpoints;
  std::size_t index = 0;
  for (const boost::json::value& item : list->as_array()) {
    const std::string field = "endpoints[" + std::to_string(index++) + "]";
    if (!item.is_string()) {
      throw ConfigError(where + ": " + field + " must be a string, got " + printable(boost::json::serialize(item)));
    }
    try {
      endpoints.push_back(parse_endpoint(std::string_view(item.as_string())));
    } catch (const ConfigError& error) {
      throw ConfigError(where + ": " + field + ": " + error.what());
    }
  }
  std::sort(endpoints.begin(), endpoints.end(),
            [](const HostPort& a, const HostPort& b) { return a.to_string() < b.to_string(); });
  endpoints.erase(std::unique(endpoints.begin(), endpoints.end()), endpoints.end());
  return endpoints;
}

std::string read_whole_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError(path + ": cannot read: " + std::strerror(errno));
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

std::vector<HostPort> load_endpoints_file(const std::string& path) {
  return parse_endpoints_json(read_whole_file(path), path);
}

std::string render_endpoints_json(const std::vector<HostPort>& endpoints) {
  boost::json::array list;
  for (const HostPort& endpoint : endpoints) list.emplace_back(endpoint.to_string());
  boost::json::object document;
  document["endpoints"] = std::move(list);
  return boost::json::serialize(document) + "\n";
}

}  // namespace poolgate::config
