// The kubeconfig reader (discovery/kubeconfig): any text is read into credentials or refused with a ConfigError
// naming the kubeconfig. The kubeconfig lives in a private temporary directory holding the files a kubeconfig
// usually names (ca.crt, client.crt, client.key, token, and an empty file), so relative references are found
// there; absolute ones reach the real file system, which the reader only ever reads (regular files, bounded).
#include "fuzz_support.hpp"

#include "poolgate/config/error.hpp"
#include "poolgate/discovery/kubeconfig.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>

using namespace poolgate;

namespace {

std::filesystem::path scratch_directory;

void remove_scratch_directory() {
  std::error_code ignored;
  std::filesystem::remove_all(scratch_directory, ignored);
}

void write(const std::filesystem::path& path, std::string_view content) {
  std::ofstream(path, std::ios::binary) << content;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  std::string pattern = (std::filesystem::temp_directory_path() / "poolgate-fuzz-kubeconfig-XXXXXX").string();
  fuzz::require(::mkdtemp(pattern.data()) != nullptr, "cannot create a scratch directory");
  scratch_directory = pattern;
  std::atexit(remove_scratch_directory);
  write(scratch_directory / "ca.crt", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n");
  write(scratch_directory / "client.crt", "-----BEGIN CERTIFICATE-----\nMIIC\n-----END CERTIFICATE-----\n");
  write(scratch_directory / "client.key", "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n");
  write(scratch_directory / "token", "fuzz-token\n");
  write(scratch_directory / "empty", "");
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = fuzz::as_text(data, size);
  const std::string path = (scratch_directory / "kubelet.conf").string();
  try {
    const discovery::Kubeconfig kubeconfig = discovery::parse_kubeconfig(text, path);
    fuzz::require(!kubeconfig.context.empty(), "kubeconfig without a current context accepted", text);
    fuzz::require(kubeconfig.client_certificate.has_value() == kubeconfig.client_key.has_value(),
                  "client certificate without key, or key without certificate", text);
    for (const auto& pem : {kubeconfig.certificate_authority, kubeconfig.client_certificate, kubeconfig.client_key}) {
      if (pem) fuzz::require(!pem->pem.empty() && !pem->source.empty(), "empty PEM or PEM without a source", text);
    }
  } catch (const config::ConfigError& error) {
    fuzz::require_clear_message(error.what(), "kubeconfig " + path + ": ");
  }
  if (const auto decoded = discovery::decode_base64(text)) {
    fuzz::require(decoded->size() <= size / 4 * 3 + 3, "base64 decoded to more bytes than it can carry", text);
  }
  return 0;
}
