#include "support/kube_objects.hpp"

#include "support/tls_certs.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include <fstream>
#include <sstream>
#include <stdexcept>

namespace poolgate::test {
namespace {

namespace json = boost::json;

json::array https_ports(std::uint16_t port) {
  return json::array{json::object{{"name", "https"}, {"port", port}, {"protocol", "TCP"}}};
}

}  // namespace

std::string endpoint_slice_list_json(const std::vector<Slice>& slices) {
  json::array items;
  for (std::size_t i = 0; i < slices.size(); ++i) {
    const Slice& slice = slices[i];
    json::array endpoints;
    for (const SliceEndpoint& endpoint : slice.endpoints) {
      json::object object;
      object["addresses"] = json::array(endpoint.addresses.begin(), endpoint.addresses.end());
      if (endpoint.ready) object["conditions"] = json::object{{"ready", *endpoint.ready}};
      endpoints.push_back(std::move(object));
    }
    json::object item;
    item["metadata"] = json::object{{"name", "kubernetes-" + std::to_string(i)},
                                    {"namespace", "default"},
                                    {"labels", json::object{{"kubernetes.io/service-name", "kubernetes"}}}};
    item["addressType"] = slice.address_type;
    item["endpoints"] = std::move(endpoints);
    if (slice.https_port) item["ports"] = https_ports(*slice.https_port);
    items.push_back(std::move(item));
  }
  return json::serialize(json::object{{"kind", "EndpointSliceList"},
                                      {"apiVersion", "discovery.k8s.io/v1"},
                                      {"metadata", json::object{{"resourceVersion", "1"}}},
                                      {"items", std::move(items)}});
}

std::string loopback_slices_json(const std::vector<std::uint16_t>& ports) {
  std::vector<Slice> slices;
  for (std::uint16_t port : ports) slices.push_back({"IPv4", port, {{{"127.0.0.1"}, true}}});
  return endpoint_slice_list_json(slices);
}

std::string endpoints_object_json(const std::vector<Subset>& subsets) {
  json::array list;
  for (const Subset& subset : subsets) {
    auto addresses = [](const std::vector<std::string>& ips) {
      json::array out;
      for (const std::string& ip : ips) out.push_back(json::object{{"ip", ip}});
      return out;
    };
    json::object object;
    object["addresses"] = addresses(subset.addresses);
    if (!subset.not_ready_addresses.empty()) object["notReadyAddresses"] = addresses(subset.not_ready_addresses);
    object["ports"] = https_ports(subset.https_port);
    list.push_back(std::move(object));
  }
  return json::serialize(json::object{{"kind", "Endpoints"},
                                      {"apiVersion", "v1"},
                                      {"metadata", json::object{{"name", "kubernetes"}, {"namespace", "default"}}},
                                      {"subsets", std::move(list)}});
}

std::string kubeconfig_yaml(const KubeconfigSpec& spec) {
  auto pem_line = [](const char* field, const std::optional<PemValue>& value) -> std::string {
    if (!value) return "";
    if (value->form == PemValue::Form::data) {
      return "    " + std::string(field) + "-data: " + base64_encode(value->pem_or_path) + "\n";
    }
    return "    " + std::string(field) + ": " + value->pem_or_path + "\n";
  };
  std::string text = "apiVersion: v1\nkind: Config\nclusters:\n- name: test-cluster\n  cluster:\n";
  text += "    server: " + spec.server + "\n";
  text += pem_line("certificate-authority", spec.certificate_authority);
  if (!spec.tls_server_name.empty()) text += "    tls-server-name: " + spec.tls_server_name + "\n";
  if (spec.insecure_skip_tls_verify) text += "    insecure-skip-tls-verify: true\n";
  text += "contexts:\n- name: test-context\n  context:\n    cluster: test-cluster\n    user: test-user\n";
  text += "current-context: test-context\npreferences: {}\nusers:\n- name: test-user\n  user:\n";
  text += pem_line("client-certificate", spec.client_certificate);
  text += pem_line("client-key", spec.client_key);
  if (!spec.token.empty()) text += "    token: " + spec.token + "\n";
  if (!spec.token_file.empty()) text += "    tokenFile: " + spec.token_file + "\n";
  text += spec.extra_user_yaml;
  return text;
}

std::filesystem::path write_text_file(const std::filesystem::path& path, const std::string& text) {
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    if (!out) throw std::runtime_error("cannot write " + path.string());
    out << text;
  }
  std::filesystem::permissions(path, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  return path;
}

std::string read_text_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

}  // namespace poolgate::test
