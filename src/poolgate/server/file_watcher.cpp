#include "poolgate/server/file_watcher.hpp"

#include <spdlog/spdlog.h>

#include <sys/inotify.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace poolgate::server {
namespace {

constexpr auto kDebounce = std::chrono::milliseconds(100);

}  // namespace

FileWatcher::FileWatcher(boost::asio::io_context& context, std::string path, std::function<void()> on_change)
    : path_(std::move(path)), on_change_(std::move(on_change)), inotify_(context), debounce_(context) {
  std::filesystem::path parent = std::filesystem::absolute(path_).parent_path();
  directory_ = parent.string();
}

FileWatcher::~FileWatcher() = default;

bool FileWatcher::start() {
  int fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd < 0) {
    spdlog::warn("cannot watch {}: inotify: {}; send SIGHUP to reload", path_, std::strerror(errno));
    return false;
  }
  // The directory, not the file: a rename onto the file replaces its inode, and a watch on the old inode
  // would go quiet. Every event in the directory triggers a re-read; the caller ignores unchanged content.
  constexpr uint32_t kEvents = IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE | IN_MODIFY | IN_ATTRIB;
  if (::inotify_add_watch(fd, directory_.c_str(), kEvents) < 0) {
    spdlog::warn("cannot watch directory {}: {}; send SIGHUP to reload", directory_, std::strerror(errno));
    ::close(fd);
    return false;
  }
  inotify_.assign(fd);
  read_events();
  return true;
}

void FileWatcher::read_events() {
  // Destroying the watcher (the drain does) cancels both operations, but their handlers still run later with an
  // error: they must return before touching `this`, which may be gone by then.
  inotify_.async_read_some(boost::asio::buffer(buffer_), [this](const boost::system::error_code& ec, std::size_t) {
    if (ec) return;
    if (!change_pending_) {
      change_pending_ = true;
      debounce_.expires_after(kDebounce);
      debounce_.async_wait([this](const boost::system::error_code& wait_error) {
        if (wait_error) return;
        change_pending_ = false;
        on_change_();
      });
    }
    read_events();
  });
}

}  // namespace poolgate::server
