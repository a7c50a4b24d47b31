// The parts of a kubeconfig discovery needs: how to trust the API servers and how to authenticate to them,
// taken from the current context. Certificates and keys given as data stay in memory.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace poolgate::discovery {

// PEM text and where it came from ("clusters[0].cluster.certificate-authority-data", or a file path and the
// field that named it), so a certificate OpenSSL rejects later can still be traced to the kubeconfig.
struct PemSource {
  std::string pem;
  std::string source;
};

struct Kubeconfig {
  std::string path;  // the kubeconfig file, for messages
  std::string context;
  std::string server;  // the cluster's server URL; informational only (discovery dials the endpoints)

  std::optional<PemSource> certificate_authority;  // none: the system's trust store
  std::optional<PemSource> client_certificate;     // set together with client_key
  std::optional<PemSource> client_key;
  std::string token;            // bearer token; empty for none
  std::string tls_server_name;  // empty: verify each endpoint's certificate against its own address
  bool insecure_skip_tls_verify = false;
};

// Parses kubeconfig text. Files it names (certificate-authority, client-certificate, client-key, tokenFile) are
// read now; relative paths are relative to the directory of `path`. Throws config::ConfigError whose message
// names `path` and the field ("users[0].user.client-key-data: not valid base64"), or UnsupportedKubeconfig
// for an exec or auth-provider plugin.
Kubeconfig parse_kubeconfig(std::string_view text, const std::string& path);

// Reads `path` and parses it as above.
Kubeconfig load_kubeconfig(const std::string& path);

// Standard base64 (padding optional, whitespace ignored); nullopt if `text` is not base64.
std::optional<std::string> decode_base64(std::string_view text);

}  // namespace poolgate::discovery
