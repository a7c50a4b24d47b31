#include "poolgate/discovery/atomic_file.hpp"

#include "poolgate/discovery/error.hpp"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace poolgate::discovery {
namespace {

[[noreturn]] void fail(const std::string& path, const std::string& step, int error) {
  throw DiscoveryError("cannot write " + path + ": " + step + ": " + std::strerror(error));
}

// Closes the descriptor and removes the temporary file unless the rename consumed it.
struct TemporaryFile {
  std::string path;
  int fd = -1;
  bool renamed = false;
  ~TemporaryFile() {
    if (fd >= 0) ::close(fd);
    if (!renamed && !path.empty()) ::unlink(path.c_str());
  }
};

}  // namespace

void replace_file_atomically(const std::string& path, std::string_view content) {
  const std::filesystem::path target(path);
  std::filesystem::path directory = target.parent_path();
  if (directory.empty()) directory = ".";

  TemporaryFile temporary;
  temporary.path = (directory / ("." + target.filename().string() + ".XXXXXX")).string();
  // mkostemp creates the file with mode 0600 whatever the umask; fchmod says so explicitly anyway.
  temporary.fd = ::mkostemp(temporary.path.data(), O_CLOEXEC);
  if (temporary.fd < 0) {
    const int error = errno;
    temporary.path.clear();
    fail(path, "creating a temporary file in " + directory.string(), error);
  }
  if (::fchmod(temporary.fd, S_IRUSR | S_IWUSR) != 0) fail(path, "fchmod", errno);
  while (!content.empty()) {
    const ssize_t written = ::write(temporary.fd, content.data(), content.size());
    if (written < 0) {
      if (errno == EINTR) continue;
      fail(path, "write", errno);
    }
    content.remove_prefix(static_cast<std::size_t>(written));
  }
  if (::fsync(temporary.fd) != 0) fail(path, "fsync", errno);
  const int fd = temporary.fd;
  temporary.fd = -1;
  if (::close(fd) != 0) fail(path, "close", errno);
  if (::rename(temporary.path.c_str(), path.c_str()) != 0) fail(path, "rename", errno);
  temporary.renamed = true;
  // The rename itself must survive a crash too.
  if (const int dir_fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dir_fd >= 0) {
    ::fsync(dir_fd);
    ::close(dir_fd);
  }
}

}  // namespace poolgate::discovery
