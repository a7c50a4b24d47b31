#include "support/tls_certs.hpp"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <stdexcept>

namespace poolgate::test {
namespace {

using KeyPtr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using CertificatePtr = std::unique_ptr<X509, decltype(&X509_free)>;
using BioPtr = std::unique_ptr<BIO, decltype(&BIO_free)>;

void check(bool ok, const char* what) {
  if (!ok) throw std::runtime_error(std::string("tls_certs: ") + what + " failed");
}

KeyPtr new_key() {
  KeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"), &EVP_PKEY_free);
  check(key != nullptr, "EC key generation");
  return key;
}

void add_extension(X509* certificate, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX context;
  X509V3_set_ctx_nodb(&context);
  X509V3_set_ctx(&context, issuer, certificate, nullptr, nullptr, 0);
  X509_EXTENSION* extension = X509V3_EXT_conf_nid(nullptr, &context, nid, value.c_str());
  check(extension != nullptr, "X509V3_EXT_conf_nid");
  const int added = X509_add_ext(certificate, extension, -1);
  X509_EXTENSION_free(extension);
  check(added == 1, "X509_add_ext");
}

// A certificate for `subject_key`; self-signed when `issuer` is null.
CertificatePtr make_certificate(EVP_PKEY* subject_key, const std::string& common_name,
                                const std::vector<std::string>& organizations, X509* issuer) {
  CertificatePtr certificate(X509_new(), &X509_free);
  check(certificate != nullptr, "X509_new");
  X509* cert = certificate.get();
  check(X509_set_version(cert, 2) == 1, "X509_set_version");
  std::uint64_t serial = 0;
  check(RAND_bytes(reinterpret_cast<unsigned char*>(&serial), sizeof serial) == 1, "RAND_bytes");
  check(ASN1_INTEGER_set_uint64(X509_get_serialNumber(cert), serial >> 1) == 1, "serial");
  check(X509_gmtime_adj(X509_getm_notBefore(cert), -3600) != nullptr, "notBefore");
  check(X509_gmtime_adj(X509_getm_notAfter(cert), 24 * 3600) != nullptr, "notAfter");
  check(X509_set_pubkey(cert, subject_key) == 1, "X509_set_pubkey");
  X509_NAME* name = X509_get_subject_name(cert);
  for (const std::string& organization : organizations) {
    check(X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                                     reinterpret_cast<const unsigned char*>(organization.c_str()), -1, -1, 0) == 1,
          "subject O");
  }
  check(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                   reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1, 0) == 1,
        "subject CN");
  X509* signer = issuer != nullptr ? issuer : cert;
  check(X509_set_issuer_name(cert, X509_get_subject_name(signer)) == 1, "X509_set_issuer_name");
  add_extension(cert, signer, NID_subject_key_identifier, "hash");
  if (issuer == nullptr) {
    add_extension(cert, signer, NID_basic_constraints, "critical,CA:TRUE");
    add_extension(cert, signer, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    add_extension(cert, signer, NID_authority_key_identifier, "keyid:always");
    add_extension(cert, signer, NID_basic_constraints, "critical,CA:FALSE");
    add_extension(cert, signer, NID_key_usage, "critical,digitalSignature,keyEncipherment");
  }
  return certificate;
}

void sign(X509* certificate, EVP_PKEY* key) { check(X509_sign(certificate, key, EVP_sha256()) > 0, "X509_sign"); }

std::string bio_text(BIO* bio) {
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(size));
}

std::string pem_of(X509* certificate) {
  BioPtr bio(BIO_new(BIO_s_mem()), &BIO_free);
  check(bio && PEM_write_bio_X509(bio.get(), certificate) == 1, "PEM_write_bio_X509");
  return bio_text(bio.get());
}

std::string key_pem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()), &BIO_free);
  check(bio && PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) == 1,
        "PEM_write_bio_PrivateKey");
  return bio_text(bio.get());
}

}  // namespace

struct TestCertificateAuthority::Keys {
  KeyPtr key{nullptr, &EVP_PKEY_free};
  CertificatePtr certificate{nullptr, &X509_free};
};

TestCertificateAuthority::TestCertificateAuthority(const std::string& common_name) : keys_(std::make_unique<Keys>()) {
  keys_->key = new_key();
  keys_->certificate = make_certificate(keys_->key.get(), common_name, {}, nullptr);
  sign(keys_->certificate.get(), keys_->key.get());
  certificate_pem_ = pem_of(keys_->certificate.get());
}

TestCertificateAuthority::~TestCertificateAuthority() = default;

KeyAndCertificate TestCertificateAuthority::issue(const CertificateRequest& request) const {
  KeyPtr key = new_key();
  CertificatePtr certificate =
      make_certificate(key.get(), request.common_name, request.organizations, keys_->certificate.get());
  add_extension(certificate.get(), keys_->certificate.get(), NID_ext_key_usage,
                request.usage == CertificateRequest::Usage::server ? "serverAuth" : "clientAuth");
  std::string alt_names;
  for (const std::string& ip : request.ip_addresses) alt_names += (alt_names.empty() ? "IP:" : ",IP:") + ip;
  for (const std::string& dns : request.dns_names) alt_names += (alt_names.empty() ? "DNS:" : ",DNS:") + dns;
  if (!alt_names.empty()) add_extension(certificate.get(), keys_->certificate.get(), NID_subject_alt_name, alt_names);
  sign(certificate.get(), keys_->key.get());
  return {pem_of(certificate.get()), key_pem(key.get())};
}

KeyAndCertificate TestCertificateAuthority::issue_loopback_server() const {
  CertificateRequest request;
  request.common_name = "kube-apiserver";
  request.ip_addresses = {"127.0.0.1", "127.0.0.2"};
  request.dns_names = {"kubernetes", "kubernetes.default.svc"};
  request.usage = CertificateRequest::Usage::server;
  return issue(request);
}

KeyAndCertificate TestCertificateAuthority::issue_client() const {
  CertificateRequest request;
  request.common_name = "system:node:test-worker";
  request.organizations = {"system:nodes"};
  request.usage = CertificateRequest::Usage::client;
  return issue(request);
}

std::string base64_encode(std::string_view data) {
  std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
  const int size = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                   reinterpret_cast<const unsigned char*>(data.data()), static_cast<int>(data.size()));
  out.resize(static_cast<std::size_t>(size));
  return out;
}

}  // namespace poolgate::test
