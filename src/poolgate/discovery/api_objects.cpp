#include "poolgate/discovery/api_objects.hpp"

#include "poolgate/config/quote.hpp"
#include "poolgate/discovery/error.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <boost/url/encode.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>
#include <boost/url/url.hpp>

#include <algorithm>
#include <cstdint>
#include <optional>

namespace poolgate::discovery {
namespace {

namespace json = boost::json;

// Walks one decoded object; every error names the object kind and the field path.
class ObjectReader {
 public:
  explicit ObjectReader(std::string kind) : kind_(std::move(kind)) {}

  [[noreturn]] void fail(const std::string& field, const std::string& why) const {
    throw DiscoveryError(kind_ + ": " + (field.empty() ? "" : field + ": ") + why);
  }

  const json::object& root(std::string_view text) {
    boost::system::error_code ec;
    document_ = json::parse(text, ec);
    if (ec) fail("", "not valid JSON: " + ec.message());
    if (!document_.is_object()) fail("", "expected a JSON object, got " + excerpt(document_));
    const json::object& object = document_.as_object();
    if (const json::value* kind = object.if_contains("kind"); kind != nullptr && !kind->is_null()) {
      if (!kind->is_string() || kind->as_string() != kind_) fail("kind", "expected \"" + kind_ + "\", got " + excerpt(*kind));
    }
    return object;
  }

  // The field as an array; nullptr when absent or null (an empty list in Kubernetes JSON).
  const json::array* optional_array(const json::object& object, std::string_view key, const std::string& where) const {
    const json::value* value = object.if_contains(key);
    if (value == nullptr || value->is_null()) return nullptr;
    if (!value->is_array()) fail(join(where, key), "expected a list, got " + excerpt(*value));
    return &value->as_array();
  }

  const json::object& object_at(const json::value& value, const std::string& where) const {
    if (!value.is_object()) fail(where, "expected an object, got " + excerpt(value));
    return value.as_object();
  }

  // The field as a string; nullopt when absent or null.
  std::optional<std::string> optional_string(const json::object& object, std::string_view key,
                                             const std::string& where) const {
    const json::value* value = object.if_contains(key);
    if (value == nullptr || value->is_null()) return std::nullopt;
    if (!value->is_string()) fail(join(where, key), "expected a string, got " + excerpt(*value));
    return std::string(value->as_string());
  }

  // The port named "https" in a `ports` list (EndpointSlice and Endpoints share the shape), else the default.
  std::uint16_t https_port(const json::object& owner, const std::string& where) const {
    const json::array* ports = optional_array(owner, "ports", where);
    if (ports == nullptr) return kDefaultApiServerPort;
    for (std::size_t i = 0; i < ports->size(); ++i) {
      const std::string port_where = join(where, "ports") + "[" + std::to_string(i) + "]";
      const json::object& port = object_at((*ports)[i], port_where);
      if (optional_string(port, "name", port_where).value_or("") != "https") continue;
      const json::value* number = port.if_contains("port");
      const std::string field = port_where + ".port";
      if (number == nullptr || number->is_null()) fail(field, "missing");
      if (!number->is_int64() && !number->is_uint64()) fail(field, "expected a whole number, got " + excerpt(*number));
      const std::int64_t value = number->is_int64() ? number->as_int64() : std::int64_t(-1);
      if (value < 1 || value > 65535) fail(field, excerpt(*number) + " is out of range (1-65535)");
      return static_cast<std::uint16_t>(value);
    }
    return kDefaultApiServerPort;
  }

  // An IP address field, normalised ("fd00:0::2" becomes "fd00::2"); host names are not API server addresses.
  config::HostPort address(const json::value& value, std::uint16_t port, const std::string& where) const {
    if (!value.is_string()) fail(where, "expected an IP address string, got " + excerpt(value));
    boost::system::error_code ec;
    const auto parsed = boost::asio::ip::make_address(std::string_view(value.as_string()), ec);
    if (ec) fail(where, config::quoted(value.as_string()) + " is not an IP address");
    if (parsed.is_v6() && parsed.to_v6().scope_id() != 0) {
      fail(where, config::quoted(value.as_string()) + " has a zone index, which an endpoint cannot use");
    }
    return config::HostPort{parsed.to_string(), port};
  }

  static std::string join(const std::string& where, std::string_view key) {
    return where.empty() ? std::string(key) : where + "." + std::string(key);
  }

  static std::string excerpt(const json::value& value) {
    return config::printable(json::serialize(value), 60);
  }

 private:
  std::string kind_;
  json::value document_;
};

std::vector<config::HostPort> sorted_unique(std::vector<config::HostPort> endpoints) {
  std::sort(endpoints.begin(), endpoints.end(),
            [](const config::HostPort& a, const config::HostPort& b) { return a.to_string() < b.to_string(); });
  endpoints.erase(std::unique(endpoints.begin(), endpoints.end()), endpoints.end());
  return endpoints;
}

}  // namespace

std::string endpoint_slices_target() {
  boost::urls::url url("/apis/discovery.k8s.io/v1/namespaces/default/endpointslices");
  // Encoded by hand with the strict set: Boost.URL would leave '/' and '=' as they are, which a query allows
  // but the API server's own clients never send.
  const std::string selector = boost::urls::encode("kubernetes.io/service-name=kubernetes", boost::urls::unreserved_chars);
  url.encoded_params().append({"labelSelector", boost::urls::pct_string_view(selector)});
  return std::string(url.buffer());
}

std::string endpoints_target() { return "/api/v1/namespaces/default/endpoints/kubernetes"; }

std::vector<config::HostPort> parse_endpoint_slice_list(std::string_view text) {
  ObjectReader reader("EndpointSliceList");
  const json::object& root = reader.root(text);
  if (!root.contains("items")) reader.fail("items", "missing");
  std::vector<config::HostPort> result;
  const json::array* items = reader.optional_array(root, "items", "");
  for (std::size_t i = 0; items != nullptr && i < items->size(); ++i) {
    const std::string where = "items[" + std::to_string(i) + "]";
    const json::object& slice = reader.object_at((*items)[i], where);
    const std::string type = reader.optional_string(slice, "addressType", where).value_or("");
    if (type == "FQDN") continue;
    const std::uint16_t port = reader.https_port(slice, where);
    const json::array* endpoints = reader.optional_array(slice, "endpoints", where);
    for (std::size_t j = 0; endpoints != nullptr && j < endpoints->size(); ++j) {
      const std::string endpoint_where = where + ".endpoints[" + std::to_string(j) + "]";
      const json::object& endpoint = reader.object_at((*endpoints)[j], endpoint_where);
      if (const json::value* conditions = endpoint.if_contains("conditions");
          conditions != nullptr && !conditions->is_null()) {
        const json::object& object = reader.object_at(*conditions, endpoint_where + ".conditions");
        if (const json::value* ready = object.if_contains("ready"); ready != nullptr && !ready->is_null()) {
          if (!ready->is_bool()) {
            reader.fail(endpoint_where + ".conditions.ready", "expected true or false, got " + ObjectReader::excerpt(*ready));
          }
          if (!ready->as_bool()) continue;
        }
      }
      const json::array* addresses = reader.optional_array(endpoint, "addresses", endpoint_where);
      if (addresses == nullptr || addresses->empty()) reader.fail(endpoint_where + ".addresses", "missing or empty");
      for (std::size_t k = 0; k < addresses->size(); ++k) {
        result.push_back(
            reader.address((*addresses)[k], port, endpoint_where + ".addresses[" + std::to_string(k) + "]"));
      }
    }
  }
  return sorted_unique(std::move(result));
}

std::vector<config::HostPort> parse_endpoints(std::string_view text) {
  ObjectReader reader("Endpoints");
  const json::object& root = reader.root(text);
  std::vector<config::HostPort> result;
  const json::array* subsets = reader.optional_array(root, "subsets", "");
  for (std::size_t i = 0; subsets != nullptr && i < subsets->size(); ++i) {
    const std::string where = "subsets[" + std::to_string(i) + "]";
    const json::object& subset = reader.object_at((*subsets)[i], where);
    const std::uint16_t port = reader.https_port(subset, where);
    const json::array* addresses = reader.optional_array(subset, "addresses", where);
    for (std::size_t j = 0; addresses != nullptr && j < addresses->size(); ++j) {
      const std::string address_where = where + ".addresses[" + std::to_string(j) + "]";
      const json::object& address = reader.object_at((*addresses)[j], address_where);
      const json::value* ip = address.if_contains("ip");
      if (ip == nullptr || ip->is_null()) reader.fail(address_where + ".ip", "missing");
      result.push_back(reader.address(*ip, port, address_where + ".ip"));
    }
  }
  return sorted_unique(std::move(result));
}

std::string status_message(std::string_view body) {
  boost::system::error_code ec;
  json::value document = json::parse(body, ec);
  if (!ec && document.is_object()) {
    if (const json::value* message = document.as_object().if_contains("message"); message && message->is_string()) {
      // A Status message can be as long as the body: bounded and printable like any value quoted from an answer.
      return config::printable(message->as_string(), 300);
    }
  }
  std::string text(body.substr(0, 120));
  std::replace_if(text.begin(), text.end(), [](char c) { return c == '\n' || c == '\r'; }, ' ');
  while (!text.empty() && text.back() == ' ') text.pop_back();
  return config::printable(text, 120);
}

}  // namespace poolgate::discovery
