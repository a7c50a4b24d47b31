// The only translation unit with Beast and Asio SSL in it (they cost ~25 s of compile time each time).
#include "poolgate/discovery/api_client.hpp"

#include "poolgate/config/error.hpp"
#include "poolgate/discovery/error.hpp"
#include "poolgate/version.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

namespace poolgate::discovery {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = boost::asio::ssl;
using boost::asio::as_tuple;
using boost::asio::use_awaitable;

// Far more than the kubernetes service's EndpointSlices will ever be; a bound against a confused peer.
constexpr std::uint64_t kMaxBody = 16 * 1024 * 1024;

using BioPtr = std::unique_ptr<BIO, decltype(&BIO_free)>;

BioPtr memory_bio(const std::string& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), &BIO_free);
  if (!bio) throw std::bad_alloc();
  return bio;
}

// Never prompt on a terminal for a passphrase: an encrypted key is simply not usable.
int no_passphrase(char*, int, int, void*) { return 0; }

// The reasons OpenSSL queued ("no start line"), oldest first; clears the queue.
std::string openssl_reasons() {
  std::string out;
  while (const unsigned long code = ERR_get_error()) {
    const char* reason = ERR_reason_error_string(code);
    out += (out.empty() ? "" : "; ") + std::string(reason != nullptr ? reason : "unknown error");
  }
  return out.empty() ? "unknown error" : out;
}

[[noreturn]] void fail(const Kubeconfig& kubeconfig, const PemSource& source, const std::string& why) {
  throw config::ConfigError("kubeconfig " + kubeconfig.path + ": " + source.source + ": " + why);
}

void add_authorities(SSL_CTX* context, const Kubeconfig& kubeconfig, const PemSource& authority) {
  ERR_clear_error();
  X509_STORE* store = SSL_CTX_get_cert_store(context);
  BioPtr bio = memory_bio(authority.pem);
  int count = 0;
  while (X509* certificate = PEM_read_bio_X509(bio.get(), nullptr, &no_passphrase, nullptr)) {
    const int added = X509_STORE_add_cert(store, certificate);
    X509_free(certificate);
    if (added != 1) fail(kubeconfig, authority, "certificate rejected: " + openssl_reasons());
    ++count;
  }
  ERR_clear_error();  // reading past the last certificate queues an error
  if (count == 0) fail(kubeconfig, authority, "no PEM certificate (-----BEGIN CERTIFICATE-----) found");
}

void use_client_certificate(SSL_CTX* context, const Kubeconfig& kubeconfig, const PemSource& certificate,
                            const PemSource& key) {
  ERR_clear_error();
  BioPtr certificate_bio = memory_bio(certificate.pem);
  X509* leaf = PEM_read_bio_X509_AUX(certificate_bio.get(), nullptr, &no_passphrase, nullptr);
  if (leaf == nullptr) fail(kubeconfig, certificate, "no PEM certificate (-----BEGIN CERTIFICATE-----) found");
  const int used = SSL_CTX_use_certificate(context, leaf);
  X509_free(leaf);
  if (used != 1) fail(kubeconfig, certificate, "certificate rejected: " + openssl_reasons());
  // Intermediate certificates after the leaf go out with it.
  while (X509* intermediate = PEM_read_bio_X509(certificate_bio.get(), nullptr, &no_passphrase, nullptr)) {
    const int added = SSL_CTX_add1_chain_cert(context, intermediate);
    X509_free(intermediate);
    if (added != 1) fail(kubeconfig, certificate, "chain certificate rejected: " + openssl_reasons());
  }
  ERR_clear_error();

  // PEM_read_bio_PrivateKey skips other PEM blocks, so a file holding both certificate and key (kubelet's
  // kubelet-client-current.pem) works for both fields.
  BioPtr key_bio = memory_bio(key.pem);
  EVP_PKEY* private_key = PEM_read_bio_PrivateKey(key_bio.get(), nullptr, &no_passphrase, nullptr);
  if (private_key == nullptr) {
    ERR_clear_error();
    fail(kubeconfig, key, "no unencrypted PEM private key (-----BEGIN ... PRIVATE KEY-----) found");
  }
  const int key_used = SSL_CTX_use_PrivateKey(context, private_key);
  EVP_PKEY_free(private_key);
  if (key_used != 1 || SSL_CTX_check_private_key(context) != 1) {
    const std::string reasons = openssl_reasons();
    fail(kubeconfig, key, "does not match the client certificate from " + certificate.source + " (" + reasons + ")");
  }
}

std::string describe(std::string_view step, const boost::system::error_code& error, config::Duration timeout) {
  if (error == beast::error::timeout) {
    return "no answer within " + config::format_duration(timeout) + " (while " + std::string(step) + ")";
  }
  return std::string(step) + ": " + error.message();
}

}  // namespace

struct ApiClient::State {
  // Asio's stream constructor wants a mutable context; nothing changes it after construction.
  mutable ssl::context context{ssl::context::tls_client};
  std::string token;
  std::string tls_server_name;
  bool verify = true;
};

ApiClient::ApiClient(const Kubeconfig& kubeconfig) {
  auto state = std::make_shared<State>();
  SSL_CTX* context = state->context.native_handle();
  SSL_CTX_set_min_proto_version(context, TLS1_2_VERSION);
  state->verify = !kubeconfig.insecure_skip_tls_verify;
  state->token = kubeconfig.token;
  state->tls_server_name = kubeconfig.tls_server_name;
  if (state->verify) {
    SSL_CTX_set_verify(context, SSL_VERIFY_PEER, nullptr);
    if (kubeconfig.certificate_authority) {
      add_authorities(context, kubeconfig, *kubeconfig.certificate_authority);
    } else {
      SSL_CTX_set_default_verify_paths(context);
    }
  } else {
    SSL_CTX_set_verify(context, SSL_VERIFY_NONE, nullptr);
  }
  if (kubeconfig.client_certificate && kubeconfig.client_key) {
    use_client_certificate(context, kubeconfig, *kubeconfig.client_certificate, *kubeconfig.client_key);
  }
  state_ = std::move(state);
}

ApiClient::~ApiClient() = default;

boost::asio::awaitable<HttpResponse> ApiClient::get(ApiServer server, std::string target,
                                                   config::Duration timeout) const {
  const std::shared_ptr<const State> state = state_;
  beast::ssl_stream<beast::tcp_stream> stream(co_await boost::asio::this_coro::executor, state->context);

  // Whom the certificate must name: tls-server-name, else the endpoint itself. An IP is checked against the
  // certificate's IP SANs and is not sent as SNI (RFC 6066 allows only host names there).
  const std::string& expected = state->tls_server_name.empty() ? server.verify_host : state->tls_server_name;
  SSL* ssl = stream.native_handle();
  boost::system::error_code not_ip;
  boost::asio::ip::make_address(expected, not_ip);
  if (not_ip) SSL_set_tlsext_host_name(ssl, expected.c_str());
  if (state->verify) {
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
    if (not_ip) {
      X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
      X509_VERIFY_PARAM_set1_host(param, expected.c_str(), expected.size());
    } else {
      X509_VERIFY_PARAM_set1_ip_asc(param, expected.c_str());
    }
  }

  // One deadline for the whole exchange: every operation below fails with `timeout` once it has passed.
  beast::get_lowest_layer(stream).expires_after(std::chrono::duration_cast<std::chrono::steady_clock::duration>(timeout));
  auto [connect_error] = co_await beast::get_lowest_layer(stream).async_connect(server.address, as_tuple(use_awaitable));
  if (connect_error) throw DiscoveryError(describe("connecting", connect_error, timeout));

  auto [handshake_error] = co_await stream.async_handshake(ssl::stream_base::client, as_tuple(use_awaitable));
  if (handshake_error) {
    const long verify_result = SSL_get_verify_result(ssl);
    if (state->verify && verify_result != X509_V_OK) {
      throw DiscoveryError("TLS: the server certificate is not trusted for " + expected + ": " +
                           X509_verify_cert_error_string(verify_result));
    }
    throw DiscoveryError(describe("TLS handshake", handshake_error, timeout));
  }

  http::request<http::empty_body> request{http::verb::get, target, 11};
  request.set(http::field::host, server.key);
  request.set(http::field::user_agent, std::string("poolgate/") + kVersion);
  request.set(http::field::accept, "application/json");
  if (!state->token.empty()) request.set(http::field::authorization, "Bearer " + state->token);
  request.keep_alive(false);
  auto [write_error, written] = co_await http::async_write(stream, request, as_tuple(use_awaitable));
  if (write_error) throw DiscoveryError(describe("sending the request", write_error, timeout));

  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(kMaxBody);
  auto [read_error, read] = co_await http::async_read(stream, buffer, parser, as_tuple(use_awaitable));
  // A server that closes without TLS close_notify after a complete response has still answered.
  if (read_error && !parser.is_done()) throw DiscoveryError(describe("reading the response", read_error, timeout));

  auto response = parser.release();
  boost::system::error_code ignored;
  beast::get_lowest_layer(stream).socket().close(ignored);
  co_return HttpResponse{response.result_int(), std::string(response.reason()), std::move(response.body())};
}

}  // namespace poolgate::discovery
