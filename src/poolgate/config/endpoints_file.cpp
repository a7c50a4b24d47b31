#include "poolgate/config/endpoints_file.hpp"

#include "poolgate/config/error.hpp"
#include "poolgate/config/quote.hpp"

#include <boost/json/serialize.hpp>
#include <boost/json/stream_parser.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace poolgate::config {
namespace {

// Parses the whole file as one JSON document. Boost.JSON's error says what went wrong, not where; the stream
// parser reports how far it got, which becomes the line and column an editor shows.
boost::json::value parse_json(std::string_view content, const std::string& where) {
  boost::json::stream_parser parser;
  boost::system::error_code ec;
  const std::size_t consumed = parser.write(content.data(), content.size(), ec);
  if (!ec) parser.finish(ec);
  if (!ec) return parser.release();
  const std::string_view before = content.substr(0, consumed);
  const std::size_t line = 1 + static_cast<std::size_t>(std::count(before.begin(), before.end(), '\n'));
  const std::size_t line_start = before.rfind('\n');
  const std::size_t column = 1 + consumed - (line_start == std::string_view::npos ? 0 : line_start + 1);
  throw ConfigError(where + ": not valid JSON at line " + std::to_string(line) + ", column " +
                    std::to_string(column) + ": " + ec.message());
}

}  // namespace

std::vector<HostPort> parse_endpoints_json(std::string_view content, std::string_view origin) {
  const std::string where(origin);
  boost::json::value document = parse_json(content, where);
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
