// The endpoints file: validated at start, watched and applied live, re-read on SIGHUP.
#include "poolgate_fixture.hpp"

#include <csignal>
#include <map>
#include <set>
#include <thread>

namespace poolgate::test {
namespace {

// A reload failure is logged at error level (the level name is part of every log line).
const std::regex kErrorLine{R"(\berror\b)", std::regex::icase};

class EndpointsFileTest : public PoolgateTest {
 protected:
  EndpointsFileTest() {
    for (const char* name : {"alpha", "beta", "gamma"}) {
      backends_[name] = start_tagged_echo_server(name);
    }
  }

  std::string address_of(const std::string& name) const { return backends_.at(name)->address(); }
  std::vector<std::string> addresses_of(const std::vector<std::string>& names) const {
    std::vector<std::string> addresses;
    for (const auto& name : names) {
      addresses.push_back(address_of(name));
    }
    return addresses;
  }

  // A new client that round robin happened to send to backend `name` (its tag line already read).
  Client connect_to_backend(const std::string& name) {
    for (int attempt = 0; attempt < 20; ++attempt) {
      Client client = connect_client();
      if (client.recv_line() == name + "\n") {
        return client;
      }
    }
    throw std::runtime_error("20 new connections and none reached " + name);
  }

  // Each of `count` new connections reaches one of `names`, and together they reach all of them.
  ::testing::AssertionResult new_connections_reach_exactly(const std::set<std::string>& names, int count) {
    std::set<std::string> reached;
    for (int i = 0; i < count; ++i) {
      const std::string tag = tag_of_new_connection();
      if (!names.contains(tag)) {
        return ::testing::AssertionFailure() << "connection " << i << " reached '" << tag << "'";
      }
      reached.insert(tag);
    }
    if (reached != names) {
      return ::testing::AssertionFailure() << "only " << reached.size() << " of the endpoints were reached";
    }
    return ::testing::AssertionSuccess();
  }

  std::map<std::string, std::unique_ptr<LoopbackServer>> backends_;
  const std::filesystem::path endpoints_file_ = temp_dir_ / "endpoints.json";
};

// --- a valid rewrite, both ways a file gets rewritten ---

struct FileWriter {
  const char* name;
  void (*write)(const std::filesystem::path&, std::string_view);
};
// Names the parameter in test names and in ctest's listing.
void PrintTo(const FileWriter& writer, std::ostream* out) { *out << writer.name; }

class EndpointsRewriteTest : public EndpointsFileTest, public ::testing::WithParamInterface<FileWriter> {};

TEST_P(EndpointsRewriteTest, NewSetAppliesWithinOneSecondAndOnlyRemovedEndpointConnectionsCloseAfterGrace) {
  constexpr auto kGrace = 500ms;
  write_endpoints(endpoints_file_, addresses_of({"alpha", "beta"}));
  start_proxy({"--endpoints", endpoints_file_.string(), "--removed-endpoint-grace", "500ms"});
  Client on_staying_endpoint = connect_to_backend("alpha");
  Client on_removed_endpoint = connect_to_backend("beta");

  const auto written_at = std::chrono::steady_clock::now();
  GetParam().write(endpoints_file_, endpoints_json(addresses_of({"alpha", "gamma"})));

  // The spec says 1 s; the extra half second absorbs scheduling noise on a loaded VM.
  ASSERT_TRUE(wait_until([&] { return tag_of_new_connection() == "gamma"; }, 1500ms))
      << "the new endpoint was not used within 1.5 s";
  EXPECT_EQ(on_removed_endpoint.echo("inside the grace"), "inside the grace")
      << "the connection to the removed endpoint was cut before its grace period";
  // Each worker thread applies the set when its loop gets to it, so for a moment one may still use the old
  // set; within the same deadline every new connection must use the new one.
  EXPECT_TRUE(wait_until([&] { return static_cast<bool>(new_connections_reach_exactly({"alpha", "gamma"}, 8)); },
                         1500ms))
      << "new connections still reached a removed endpoint 1.5 s after the rewrite";

  EXPECT_TRUE(on_removed_endpoint.is_closed_by_peer(kGrace + 2s)) << "not closed after the grace period";
  EXPECT_GE(elapsed_since(written_at), kGrace / 2) << "closed well before the grace period ended";
  EXPECT_EQ(on_staying_endpoint.echo("after the grace"), "after the grace")
      << "a connection to an endpoint that stayed was disturbed";
}

INSTANTIATE_TEST_SUITE_P(, EndpointsRewriteTest,
                         ::testing::Values(FileWriter{"RenamedOver", &write_file_atomically},
                                           FileWriter{"RewrittenInPlace", &write_file_in_place}),
                         [](const auto& info) { return std::string(info.param.name); });

// --- SIGHUP ---

TEST_F(EndpointsFileTest, SighupRereadsTheFileEvenWhenNoWatchedPathChanged) {
  // Kubernetes-ConfigMap-like layout: the configured path goes through a directory symlink. Swapping that
  // symlink changes what the path reads without touching the watched file or its directory, so only the
  // SIGHUP re-read can pick the change up.
  const auto version_one = temp_dir_ / "v1";
  const auto version_two = temp_dir_ / "v2";
  std::filesystem::create_directory(version_one);
  std::filesystem::create_directory(version_two);
  write_endpoints(version_one / "endpoints.json", addresses_of({"alpha"}));
  write_endpoints(version_two / "endpoints.json", addresses_of({"beta"}));
  const auto current = temp_dir_ / "current";
  std::filesystem::create_directory_symlink(version_one, current);
  start_proxy({"--endpoints", (current / "endpoints.json").string()});
  ASSERT_TRUE(new_connections_reach_exactly({"alpha"}, 3));

  const auto next = temp_dir_ / "current.next";
  std::filesystem::create_directory_symlink(version_two, next);
  std::filesystem::rename(next, current);
  proxy().send_signal(SIGHUP);

  EXPECT_TRUE(wait_until([&] { return tag_of_new_connection() == "beta"; }, 2s)) << "SIGHUP did not re-read";
  EXPECT_TRUE(new_connections_reach_exactly({"beta"}, 4));
}

// --- malformed files ---

struct Malformation {
  const char* name;
  const char* content;
};

const Malformation kMalformations[] = {
    {"BadJson", R"({"endpoints": ["127.0.0.1:80")"},
    {"NotAList", R"({"endpoints": "127.0.0.1:80"})"},
    {"NonString", R"({"endpoints": [8080]})"},
    {"EmptyString", R"({"endpoints": [""]})"},
    {"MissingPort", R"({"endpoints": ["127.0.0.1"]})"},
    {"PortOutOfRange", R"({"endpoints": ["127.0.0.1:70000"]})"},
    {"UnbalancedBracket", R"({"endpoints": ["[::1:80"]})"},
    {"EmptyList", R"({"endpoints": []})"},
    {"TrailingGarbage", R"({"endpoints": ["127.0.0.1:80"]} trailing)"},
};

void PrintTo(const Malformation& malformation, std::ostream* out) { *out << malformation.name; }

class MalformedFileAtStartTest : public PoolgateTest, public ::testing::WithParamInterface<Malformation> {};

TEST_P(MalformedFileAtStartTest, ExitsWithStatus2AndNamesTheFile) {
  const auto file = temp_dir_ / "endpoints.json";
  write_file_atomically(file, GetParam().content);

  EXPECT_EQ(run_proxy_until_exit({"--endpoints", file.string()}), 2);
  EXPECT_NE(proxy().log_text().find(file.string()), std::string::npos) << "the message does not name the file";
}

INSTANTIATE_TEST_SUITE_P(, MalformedFileAtStartTest, ::testing::ValuesIn(kMalformations),
                         [](const auto& info) { return std::string(info.param.name); });

class MalformedChangeTest : public EndpointsFileTest, public ::testing::WithParamInterface<Malformation> {};

TEST_P(MalformedChangeTest, IsLoggedAndTheOldEndpointsKeepServing) {
  write_endpoints(endpoints_file_, addresses_of({"alpha", "beta"}));
  start_proxy({"--endpoints", endpoints_file_.string()});
  ASSERT_TRUE(new_connections_reach_exactly({"alpha", "beta"}, 4));
  const std::size_t errors_before = proxy().count_log_lines(kErrorLine);

  write_file_atomically(endpoints_file_, GetParam().content);

  EXPECT_TRUE(wait_until([&] { return proxy().count_log_lines(kErrorLine) > errors_before; }, 2s))
      << "the rejected file was not logged as an error";
  EXPECT_TRUE(new_connections_reach_exactly({"alpha", "beta"}, 10));
}

// Every event in the file's directory makes poolgate look at the file again; a file it cannot read must be
// reported once, not once per event (a regression: with poolgate's log in that directory, each error line was
// itself an event, and out of descriptors the loop logged ten lines a second).
TEST_F(EndpointsFileTest, AnUnreadableFileIsLoggedOnceHoweverManyEventsTheDirectorySees) {
  write_endpoints(endpoints_file_, addresses_of({"alpha"}));
  start_proxy({"--endpoints", endpoints_file_.string()});
  const std::size_t errors_before = proxy().count_log_lines(kErrorLine);
  std::filesystem::remove(endpoints_file_);
  ASSERT_TRUE(wait_until([&] { return proxy().count_log_lines(kErrorLine) > errors_before; }, 2s));
  for (int i = 0; i < 5; ++i) {
    write_file_atomically(temp_dir_ / ("neighbour-" + std::to_string(i)), "x");
    std::this_thread::sleep_for(150ms);  // past the watcher's 100 ms debounce: each write is an event of its own
  }
  EXPECT_EQ(proxy().count_log_lines(kErrorLine), errors_before + 1) << proxy().log_text();
  EXPECT_TRUE(new_connections_reach_exactly({"alpha"}, 2));
}

INSTANTIATE_TEST_SUITE_P(, MalformedChangeTest,
                         ::testing::Values(Malformation{"BadJson", R"({"endpoints": [)"},
                                           Malformation{"EmptyList", R"({"endpoints": []})"}),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace poolgate::test
