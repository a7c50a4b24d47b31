// Test data for discovery: the JSON of the API objects that list API servers, and kubeconfig files.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace poolgate::test {

// --- discovery.k8s.io/v1 EndpointSliceList ---

struct SliceEndpoint {
  std::vector<std::string> addresses;
  std::optional<bool> ready;  // conditions.ready; unset leaves "conditions" out
};

struct Slice {
  std::string address_type = "IPv4";
  std::optional<std::uint16_t> https_port;  // the port named "https"; unset leaves "ports" out
  std::vector<SliceEndpoint> endpoints;
};

std::string endpoint_slice_list_json(const std::vector<Slice>& slices);

// One slice per port, each with one ready 127.0.0.1 endpoint: how loopback servers on distinct ports are
// listed (a slice has one port for all its addresses).
std::string loopback_slices_json(const std::vector<std::uint16_t>& ports);

// --- core/v1 Endpoints ---

struct Subset {
  std::vector<std::string> addresses;
  std::vector<std::string> not_ready_addresses;
  std::uint16_t https_port = 6443;
};

std::string endpoints_object_json(const std::vector<Subset>& subsets);

// --- kubeconfig ---

// A value given inline (base64 in a *-data field) or as a file path (written as given, so it may be relative).
struct PemValue {
  enum class Form { data, file };
  Form form = Form::data;
  std::string pem_or_path;

  static PemValue data(std::string pem) { return {Form::data, std::move(pem)}; }
  static PemValue file(std::string path) { return {Form::file, std::move(path)}; }
};

struct KubeconfigSpec {
  std::string server = "https://127.0.0.1:6443";
  std::optional<PemValue> certificate_authority;
  std::optional<PemValue> client_certificate;
  std::optional<PemValue> client_key;
  std::string token;
  std::string token_file;
  std::string tls_server_name;
  bool insecure_skip_tls_verify = false;
  std::string extra_user_yaml;  // appended to the user mapping (indented 4), e.g. an exec plugin
};

// A kubelet.conf-like kubeconfig: one cluster, one user, one context, current.
std::string kubeconfig_yaml(const KubeconfigSpec& spec);

// Writes `text` to `path` (mode 0600) and returns the path.
std::filesystem::path write_text_file(const std::filesystem::path& path, const std::string& text);

// The file's whole content ("" if it cannot be read).
std::string read_text_file(const std::filesystem::path& path);

}  // namespace poolgate::test
