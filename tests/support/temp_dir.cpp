#include "support/temp_dir.hpp"

#include "support/fd.hpp"

#include <fcntl.h>
#include <stdlib.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>
#include <system_error>

namespace poolgate::test {
namespace {

void write_all(int fd, std::string_view text, const std::filesystem::path& path) {
  while (!text.empty()) {
    const ssize_t written = ::write(fd, text.data(), text.size());
    if (written < 0) {
      if (errno == EINTR) {
        continue;
      }
      throw std::system_error(errno, std::generic_category(), "write " + path.string());
    }
    text.remove_prefix(static_cast<std::size_t>(written));
  }
}

void write_file(const std::filesystem::path& path, std::string_view text) {
  UniqueFd fd{::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)};
  if (!fd) {
    throw std::system_error(errno, std::generic_category(), "open " + path.string());
  }
  write_all(fd.get(), text, path);
}

}  // namespace

TempDir::TempDir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "poolgate-test-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) {
    throw std::system_error(errno, std::generic_category(), "mkdtemp " + pattern);
  }
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

void write_file_atomically(const std::filesystem::path& path, std::string_view text) {
  const auto staging = path.parent_path() / ("." + path.filename().string() + ".staging");
  write_file(staging, text);
  std::filesystem::rename(staging, path);
}

void write_file_in_place(const std::filesystem::path& path, std::string_view text) { write_file(path, text); }

}  // namespace poolgate::test
