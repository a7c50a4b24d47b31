// Covers server::FileWatcher: a change of the file is reported, and a watcher destroyed while a change is pending
// (as SIGTERM's drain destroys it) leaves no handler behind that touches it.
#include "poolgate/server/file_watcher.hpp"

#include "support/temp_dir.hpp"

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include <chrono>
#include <memory>

namespace poolgate::server {
namespace {

using namespace std::chrono_literals;

class FileWatcherTest : public ::testing::Test {
 protected:
  void SetUp() override { test::write_file_in_place(path_, R"({"endpoints": ["10.0.0.1:6443"]})"); }

  std::unique_ptr<FileWatcher> start_watcher() {
    auto watcher = std::make_unique<FileWatcher>(context_, path_.string(), [this] { ++changes_; });
    EXPECT_TRUE(watcher->start());
    return watcher;
  }

  test::TempDir dir_;
  std::filesystem::path path_ = dir_ / "endpoints.json";
  boost::asio::io_context context_;
  int changes_ = 0;
};

TEST_F(FileWatcherTest, ReportsAFileReplacedByRename) {
  const auto watcher = start_watcher();
  test::write_file_atomically(path_, R"({"endpoints": ["10.0.0.2:6443"]})");
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (changes_ == 0 && std::chrono::steady_clock::now() < deadline) context_.run_for(10ms);
  EXPECT_EQ(changes_, 1);
}

TEST_F(FileWatcherTest, DestroyedWhileAChangeIsPendingLeavesNoHandlerTouchingIt) {
  auto watcher = start_watcher();
  test::write_file_in_place(path_, R"({"endpoints": ["10.0.0.3:6443"]})");
  // The event is already queued, so it is read within this bounded run and arms the 100 ms debounce timer,
  // which cannot expire before the run ends. Destroying the watcher then cancels the timer; the cancelled
  // handler still runs afterwards, and must not touch the destroyed watcher (ASan, make test-sanitize).
  context_.run_for(30ms);
  watcher.reset();
  context_.run();  // returns once the cancelled handlers have run
  EXPECT_EQ(changes_, 0);
}

}  // namespace
}  // namespace poolgate::server
