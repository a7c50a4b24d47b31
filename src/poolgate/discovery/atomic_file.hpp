// Replacing a file so that readers (poolgate's own watcher, k8s-apiserver-proxy, an operator's cat) only ever see
// the old content or the new, never a partial write, and a crash leaves one of the two on disk.
#pragma once

#include <string>
#include <string_view>

namespace poolgate::discovery {

// Writes `content` to a temporary file in `path`'s directory (mode 0600), fsyncs it, renames it over `path`
// and fsyncs the directory. Throws DiscoveryError naming the path and the step that failed; the temporary
// file is removed on failure.
void replace_file_atomically(const std::string& path, std::string_view content);

}  // namespace poolgate::discovery
