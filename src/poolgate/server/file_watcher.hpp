// Watches one file for changes with inotify on its directory, so a file replaced by rename (how editors,
// ConfigMaps and atomic writers update files) is seen as well as one written in place.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <array>
#include <functional>
#include <string>

namespace poolgate::server {

class FileWatcher {
 public:
  // `on_change` runs on `context` once per burst of events (debounced), never more often than every 100 ms.
  FileWatcher(boost::asio::io_context& context, std::string path, std::function<void()> on_change);
  ~FileWatcher();

  // False when inotify is unavailable; the caller still has SIGHUP.
  bool start();

 private:
  void read_events();

  std::string path_;
  std::string directory_;
  std::function<void()> on_change_;
  boost::asio::posix::stream_descriptor inotify_;
  boost::asio::steady_timer debounce_;
  bool change_pending_ = false;
  std::array<char, 8192> buffer_{};
};

}  // namespace poolgate::server
