// A per-test scratch directory, and the two ways a watched config file gets rewritten: renamed over, or in place.
#pragma once

#include <filesystem>
#include <string_view>

namespace poolgate::test {

// A fresh directory under the system temp dir, removed with everything in it on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }
  [[nodiscard]] std::filesystem::path operator/(std::string_view name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

// Writes `text` to a sibling temp file and renames it over `path`: readers never see a partial file,
// and a watcher sees the name point at a new inode (what editors and Kubernetes ConfigMaps do).
void write_file_atomically(const std::filesystem::path& path, std::string_view text);

// Truncates and rewrites `path` itself, keeping its inode (what `echo > file` does).
void write_file_in_place(const std::filesystem::path& path, std::string_view text);

}  // namespace poolgate::test
