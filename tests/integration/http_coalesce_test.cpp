// HTTP mode's wake-up coalescing, end to end: a worker with 8 requests in flight sleeps between turns
// (--http-coalesce-wait), one with fewer never does, and every request is still answered.
#include "http_fixture.hpp"
#include "support/proc_stats.hpp"

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

namespace poolgate::test {
namespace {

namespace bhttp = boost::beast::http;

// Whether a worker thread ("worker N") of `pid` is inside nanosleep() now; otherwise a worker blocks in
// epoll_wait. Only workers: a sanitizer's own thread may sleep.
bool some_worker_in_nanosleep(pid_t pid) {
  for (const pid_t worker : threads_named(pid, "worker ")) {
    if (in_nanosleep(pid, worker)) return true;
  }
  return false;
}

class HttpCoalesceTest : public HttpModeTest {
 protected:
  // Keeps one keep-alive client sending /hello until destroyed; counts the answers that came right.
  class SteadyClient {
   public:
    explicit SteadyClient(std::uint16_t port)
        : thread_([this, port] {
            HttpConnection client(port);
            while (!stop_) {
              const auto response = client.exchange(make_get("/hello"));
              (response && response->result() == bhttp::status::ok ? answered_ : failed_)++;
            }
          }) {}
    ~SteadyClient() {
      stop_ = true;
      thread_.join();
    }
    std::size_t answered() const { return answered_; }
    std::size_t failed() const { return failed_; }

   private:
    std::atomic<bool> stop_{false};
    std::atomic<std::size_t> answered_{0};
    std::atomic<std::size_t> failed_{0};
    std::thread thread_;
  };
};

TEST_F(HttpCoalesceTest, EightRequestsInFlightMakeTheWorkerSleepBetweenTurnsFewerNever) {
  HttpBackend backend;
  start_http_proxy(backend.address(), {"--http-coalesce-wait", "1ms"});
  ASSERT_EQ(threads_named(proxy().pid(), "worker ").size(), 1u) << "no thread of poolgate is named as a worker";

  {
    // One request at a time: below the load line, the worker blocks in epoll_wait between requests.
    SteadyClient steady(proxy_port());
    EXPECT_TRUE(holds_for([&] { return !some_worker_in_nanosleep(proxy().pid()); }, 300ms))
        << "poolgate slept with one request in flight";
    EXPECT_GT(steady.answered(), 0u);
    EXPECT_EQ(steady.failed(), 0u);
  }

  std::vector<std::unique_ptr<HttpConnection>> held;
  for (int i = 0; i < 8; ++i) {
    held.push_back(std::make_unique<HttpConnection>(proxy_port()));
    ASSERT_TRUE(held.back()->send(make_get("/slow")));
  }
  ASSERT_TRUE(wait_until([&] { return backend.slow_requests_waiting() == 8; }, 5s)) << "the /slow requests stalled";
  ASSERT_TRUE(requests_in_flight_become(8)) << last_scrape_;
  {
    SteadyClient steady(proxy_port());
    EXPECT_TRUE(wait_until([&] { return some_worker_in_nanosleep(proxy().pid()); }, 5s, 1ms))
        << "poolgate never slept between turns with 8 requests in flight";
    EXPECT_TRUE(wait_until([&] { return steady.answered() >= 20; }, 5s)) << "requests stalled under load";
    EXPECT_EQ(steady.failed(), 0u);
  }

  backend.release_slow();
  for (const auto& client : held) {
    const auto response = client->read_response();
    ASSERT_TRUE(response.has_value());
    EXPECT_EQ(response->body().rfind("slow conn=", 0), 0u) << response->body();
  }
  EXPECT_TRUE(requests_in_flight_become(0)) << last_scrape_;
}

}  // namespace
}  // namespace poolgate::test
