// Covers which files the kubeconfig reader agrees to read: regular files of at most 1 MiB. A kubeconfig naming a
// device, a FIFO, a directory or a huge file gets a message naming the field, without blocking or filling memory.
#include "poolgate/config/error.hpp"
#include "poolgate/discovery/kubeconfig.hpp"

#include "config_test_helpers.hpp"
#include "support/kube_objects.hpp"
#include "support/temp_dir.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <string>

namespace poolgate::discovery {
namespace {

using ::testing::EndsWith;
using ::testing::HasSubstr;

std::string kubeconfig_with_token_file(const std::string& token_file) {
  test::KubeconfigSpec spec;
  spec.token_file = token_file;
  return test::kubeconfig_yaml(spec);
}

std::string token_file_error(const test::TempDir& dir, const std::string& token_file) {
  const std::string path = (dir / "kubeconfig").string();
  return unit::config_error_message([&] { parse_kubeconfig(kubeconfig_with_token_file(token_file), path); });
}

TEST(KubeconfigFiles, ADeviceIsRefused) {
  test::TempDir dir;
  // Read as a file, /dev/zero never ends: the refresh would hang and allocate until killed.
  EXPECT_THAT(token_file_error(dir, "/dev/zero"),
              EndsWith("users[0].user.tokenFile: cannot read /dev/zero: not a regular file"));
}

TEST(KubeconfigFiles, AFifoIsRefusedWithoutWaitingForAWriter) {
  test::TempDir dir;
  ASSERT_EQ(::mkfifo((dir / "token").c_str(), 0600), 0);
  EXPECT_THAT(token_file_error(dir, "token"), HasSubstr("token: not a regular file"));
}

TEST(KubeconfigFiles, ADirectoryIsRefused) {
  test::TempDir dir;
  EXPECT_THAT(token_file_error(dir, dir.path().string()), EndsWith(": not a regular file"));
  EXPECT_EQ(unit::config_error_message([&] { load_kubeconfig(dir.path().string()); }),
            "kubeconfig " + dir.path().string() + ": cannot read: not a regular file");
}

TEST(KubeconfigFiles, OneMebibyteIsReadAndOneByteMoreIsRefused) {
  test::TempDir dir;
  const std::string path = (dir / "kubeconfig").string();
  test::write_text_file(dir / "token", std::string(1024 * 1024, 't'));
  EXPECT_EQ(parse_kubeconfig(kubeconfig_with_token_file("token"), path).token.size(), 1024u * 1024u);

  test::write_text_file(dir / "token", std::string(1024 * 1024 + 1, 't'));
  EXPECT_THAT(token_file_error(dir, "token"), HasSubstr("token: larger than 1024 KiB"));
}

}  // namespace
}  // namespace poolgate::discovery
