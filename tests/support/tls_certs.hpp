// Certificates made at run time with the OpenSSL C API (nothing checked in, no openssl command): a CA, and the
// server and client certificates it signs. EC P-256 keys, so making them takes microseconds.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace poolgate::test {

struct KeyAndCertificate {
  std::string certificate_pem;
  std::string key_pem;  // PKCS#8 "-----BEGIN PRIVATE KEY-----", unencrypted
};

struct CertificateRequest {
  enum class Usage { server, client };

  std::string common_name;
  std::vector<std::string> organizations;  // a kubelet's client certificate has O=system:nodes
  std::vector<std::string> ip_addresses;   // subjectAltName IP entries
  std::vector<std::string> dns_names;      // subjectAltName DNS entries
  Usage usage = Usage::server;
};

class TestCertificateAuthority {
 public:
  explicit TestCertificateAuthority(const std::string& common_name = "poolgate-test-ca");
  ~TestCertificateAuthority();
  TestCertificateAuthority(const TestCertificateAuthority&) = delete;
  TestCertificateAuthority& operator=(const TestCertificateAuthority&) = delete;

  [[nodiscard]] const std::string& certificate_pem() const noexcept { return certificate_pem_; }
  // A new key and a certificate for it signed by this CA, valid from an hour ago for a day.
  [[nodiscard]] KeyAndCertificate issue(const CertificateRequest& request) const;

  // The usual pair for the test API server: a server certificate for IPs 127.0.0.1 and 127.0.0.2 (and DNS
  // "kubernetes"), and a kubelet-like client certificate.
  [[nodiscard]] KeyAndCertificate issue_loopback_server() const;
  [[nodiscard]] KeyAndCertificate issue_client() const;

 private:
  struct Keys;
  std::unique_ptr<Keys> keys_;
  std::string certificate_pem_;
};

// Standard base64 of `data`, on one line: what kubeconfig *-data fields hold.
std::string base64_encode(std::string_view data);

}  // namespace poolgate::test
