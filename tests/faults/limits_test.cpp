// Limits: --max-connections holds clients beyond the cap in the listen backlog (never accept-and-reset) and
// serves them as slots free; a cap below the descriptor limit keeps poolgate from ever running out; and out of
// descriptors without a cap, open connections keep flowing and serving resumes when descriptors free up.
#include "faults/support/fault_fixture.hpp"

#include <csignal>
#include <iostream>

namespace poolgate::test {
namespace {

constexpr auto kServedPromptly = 1s;
const std::regex kLimitReached("connection limit reached");
const std::regex kOutOfDescriptors("Too many open files");

class LimitsTest : public FaultTest {
 protected:
  static std::string payload_of(std::size_t i) { return "client " + std::to_string(i) + " says hello\n"; }

  // Clients that have sent their payload, until each has its echo; a client served is closed at once, which
  // frees its slot for the next. Returns how many got their exact echo before `timeout`.
  static std::size_t serve_and_close(std::vector<std::optional<Client>>& clients, std::chrono::milliseconds timeout) {
    std::size_t served = 0;
    wait_until(
        [&] {
          for (std::size_t i = 0; i < clients.size(); ++i) {
            if (!clients[i]) continue;
            if (auto echo = clients[i]->recv_exact(payload_of(i).size(), 1ms)) {
              served += *echo == payload_of(i) ? 1 : 0;
              clients[i].reset();
            }
          }
          return std::none_of(clients.begin(), clients.end(), [](const auto& c) { return c.has_value(); });
        },
        timeout, 5ms);
    return served;
  }
};

TEST_F(LimitsTest, MaxConnectionsKeepsExtraClientsWaitingInTheBacklogAndServesThemAsSlotsFree) {
  constexpr std::size_t kCap = 20;
  constexpr std::size_t kExtra = 5;
  auto backend = start_echo_server();
  start_proxy(endpoint_args({backend.get()}) + Args{"--max-connections", std::to_string(kCap)});

  std::vector<Client> held;
  for (std::size_t i = 0; i < kCap; ++i) {
    held.push_back(connect_client());
    ASSERT_EQ(held.back().echo(payload_of(i)), payload_of(i)) << "client " << i << " within the cap";
  }
  std::vector<Client> waiting;
  for (std::size_t i = 0; i < kExtra; ++i) {
    waiting.push_back(connect_client());  // the kernel completes the handshake: the client waits in the backlog
    ASSERT_TRUE(waiting.back().send_all(payload_of(kCap + i)));
  }
  const double cpu_before = cpu_seconds(proxy_pid());
  const auto window = 1s;  // how long the extra clients are left waiting is the subject
  EXPECT_TRUE(holds_for([&] { return proxy().running(); }, window));
  const double cpu_while_capped = cpu_seconds(proxy_pid()) - cpu_before;
  EXPECT_LT(cpu_while_capped, 0.2) << "poolgate was busy while at its connection cap";
  for (std::size_t i = 0; i < kExtra; ++i) {
    EXPECT_FALSE(waiting[i].recv_exact(payload_of(kCap + i).size(), 1ms)) << "client beyond the cap was served";
  }
  EXPECT_EQ(metric("poolgate_connections_accepted_total"), static_cast<double>(kCap))
      << "clients beyond the cap were accepted";
  EXPECT_GE(metric("poolgate_accept_pauses_total", {{"reason", "max_connections"}}), 1);

  // The held clients leave, from both worker threads: every waiting client must be let in at once.
  held.clear();
  const auto freed_at = std::chrono::steady_clock::now();
  for (std::size_t i = 0; i < kExtra; ++i) {
    EXPECT_EQ(waiting[i].recv_exact(payload_of(kCap + i).size(), 5s), payload_of(kCap + i))
        << "waiting client " << i << " was not served once slots freed";
  }
  const auto slowest = elapsed_since(freed_at);
  EXPECT_LT(slowest, kServedPromptly);
  // Many pauses, one line: the cap was reached again and again within one episode.
  EXPECT_EQ(proxy().count_log_lines(kLimitReached), 1u) << proxy().log_text();
  std::cout << "[ figures  ] --max-connections " << kCap << ": " << kExtra << " extra clients waited "
            << window.count() << " s unserved (poolgate CPU " << cpu_while_capped << " s), then all were served "
            << slowest.count() << " ms after slots freed; accept pauses "
            << metric("poolgate_accept_pauses_total", {{"reason", "max_connections"}}) << ", limit log lines "
            << proxy().count_log_lines(kLimitReached) << "\n";
}

TEST_F(LimitsTest, MaxConnectionsBelowTheDescriptorLimitMeansDescriptorsNeverRunOut) {
  // 25 relays need at most 150 descriptors (2 sockets, 2 pipes each), plus the pool and poolgate's own.
  constexpr rlim_t kDescriptorLimit = 256;
  constexpr std::size_t kCap = 25;
  constexpr std::size_t kClients = 100;
  auto backend = start_echo_server();
  start_proxy_with_descriptor_limit(kDescriptorLimit, endpoint_args({backend.get()}) +
                                                          Args{"--max-connections", std::to_string(kCap)});
  std::vector<std::optional<Client>> clients;
  for (std::size_t i = 0; i < kClients; ++i) {
    clients.emplace_back(connect_client());
    ASSERT_TRUE(clients.back()->send_all(payload_of(i)));
  }
  const auto started = std::chrono::steady_clock::now();
  const std::size_t served = serve_and_close(clients, 20s);
  EXPECT_EQ(served, kClients);
  EXPECT_EQ(proxy().count_log_lines(kOutOfDescriptors), 0u) << proxy().log_text();
  EXPECT_EQ(metric("poolgate_accept_pauses_total", {{"reason", "out_of_descriptors"}}), 0);
  EXPECT_EQ(metric("poolgate_connections_rejected_total"), 0);
  EXPECT_GE(metric("poolgate_accept_pauses_total", {{"reason", "max_connections"}}), 1);
  std::cout << "[ figures  ] ulimit -n " << kDescriptorLimit << ", --max-connections " << kCap << ": " << served
            << " of " << kClients << " clients served in " << elapsed_since(started).count()
            << " ms, no descriptor exhaustion\n";
}

TEST_F(LimitsTest, OutOfDescriptorsOpenConnectionsKeepFlowingAndEveryClientIsServedOnceDescriptorsFree) {
  constexpr rlim_t kDescriptorLimit = 96;
  constexpr std::size_t kClients = 60;
  auto backend = start_echo_server();
  // One worker, so that it alone meets the burst below: it accepts a batch of 32, lets those clients dial their
  // backends (a descriptor each), and then runs out in its next accepts. Two workers would each take their
  // ~30 clients in one batch, and only the backend dials would run out.
  start_proxy_with_descriptor_limit(kDescriptorLimit, endpoint_args({backend.get()}) + Args{"--threads", "1"});
  // The clients arrive as one burst: poolgate is stopped while they connect (the kernel completes each
  // handshake into the listen backlog). Arriving one at a time, each could be accepted and turned away (its
  // backend dial finding no descriptor) before the next came, and the accept itself would never run out.
  std::vector<std::optional<Client>> clients;
  while_stopped([&] {
    for (std::size_t i = 0; i < kClients; ++i) {
      clients.emplace_back(connect_client());
      ASSERT_TRUE(clients.back()->send_all(payload_of(i)))
          << "client " << i << " could not send while poolgate was stopped";
    }
  });
  ASSERT_FALSE(HasFatalFailure());
  ASSERT_TRUE(proxy().wait_for_log(kOutOfDescriptors, 5s)) << "descriptors never ran out";
  // Sort the clients: served (relayed now), turned away (closed: their backend dial found no descriptor), or
  // still waiting in the backlog.
  std::vector<std::size_t> relayed;
  std::size_t turned_away = 0;
  for (std::size_t i = 0; i < kClients; ++i) {
    if (auto echo = clients[i]->recv_exact(payload_of(i).size(), 50ms)) {
      EXPECT_EQ(*echo, payload_of(i));
      relayed.push_back(i);
    } else if (clients[i]->closed_yet() != PeerClose::still_open) {
      ++turned_away;
      clients[i].reset();
    }
  }
  ASSERT_FALSE(relayed.empty());
  const double cpu_before = cpu_seconds(proxy_pid());
  // Connections that were open when descriptors ran out keep flowing.
  for (const std::size_t i : relayed) {
    EXPECT_EQ(clients[i]->echo("more from " + std::to_string(i)), "more from " + std::to_string(i));
  }
  EXPECT_TRUE(holds_for([&] { return proxy().running(); }, 1s));
  const double cpu_exhausted = cpu_seconds(proxy_pid()) - cpu_before;
  EXPECT_LT(cpu_exhausted, 0.3) << "poolgate kept a CPU busy while out of descriptors";

  for (const std::size_t i : relayed) clients[i].reset();
  // Every client still waiting is let in now: served, or (accepted while the backend dial still found no
  // descriptor) closed at once; none is left hanging. Those turned away are served when they come back.
  // Watched all at once: which waiting client poolgate takes next is the kernel's choice, and a client served
  // but not closed holds descriptors the others need.
  std::size_t waited_and_served = 0;
  wait_until(
      [&] {
        for (std::size_t i = 0; i < kClients; ++i) {
          if (!clients[i]) continue;
          if (auto echo = clients[i]->recv_exact(payload_of(i).size(), 1ms)) {
            EXPECT_EQ(*echo, payload_of(i));
            ++waited_and_served;
            clients[i].reset();
          } else if (clients[i]->closed_yet() != PeerClose::still_open) {
            ++turned_away;
            clients[i].reset();
          }
        }
        return std::none_of(clients.begin(), clients.end(), [](const auto& c) { return c.has_value(); });
      },
      10s, 5ms);
  const auto hanging = std::count_if(clients.begin(), clients.end(), [](const auto& c) { return c.has_value(); });
  EXPECT_EQ(hanging, 0) << "clients neither served nor closed 10 s after descriptors freed";
  for (std::size_t i = 0; i < turned_away; ++i) {
    EXPECT_TRUE(new_connection_echoes("back again")) << "a client turned away was not served on its return";
  }
  EXPECT_GT(waited_and_served, 0u) << "no client waiting in the backlog was served once descriptors freed";
  std::cout << "[ figures  ] ulimit -n " << kDescriptorLimit << ", " << kClients << " clients: " << relayed.size()
            << " relayed at once, " << waited_and_served << " served after waiting in the backlog, " << turned_away
            << " turned away (closed, then served on their return); CPU while exhausted " << cpu_exhausted << " s\n";
}

}  // namespace
}  // namespace poolgate::test
