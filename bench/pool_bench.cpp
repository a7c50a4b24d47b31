// Direct dial vs warm EndpointPool socket against a loopback echo server: time, ops/s, latency, allocs per op.
#include "alloc_counter.hpp"
#include "harness.hpp"

#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <type_traits>
#include <vector>

namespace poolgate::bench {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kRequestsPerWorkloadOp = 5;
constexpr int kOpsPerSustainedBatch = 100;
constexpr unsigned kBackgroundThreads = 10;

// Publishes the calling thread's allocations between construction and publish() as allocs_per_op and
// bytes_per_op. Benchmark sums each thread's figure and divides by all threads' iterations (kAvgIterations).
class AllocMeter {
 public:
  void publish(benchmark::State& state, double ops_per_iteration = 1) const {
    const AllocCount now = thread_alloc_count();
    const auto flags = benchmark::Counter::kAvgIterations;
    state.counters["allocs_per_op"] =
        benchmark::Counter(static_cast<double>(now.allocs - start_.allocs) / ops_per_iteration, flags);
    state.counters["bytes_per_op"] =
        benchmark::Counter(static_cast<double>(now.bytes - start_.bytes) / ops_per_iteration, flags);
  }

 private:
  AllocCount start_ = thread_alloc_count();
};

template <class Connections>
void publish_misses(benchmark::State& state, const Client<Connections>& client) {
  if constexpr (std::is_same_v<Connections, PooledConnections>) {
    state.counters["misses"] = static_cast<double>(client.misses());  // summed over threads
  }
}

// `count` echo ops; on the first failure the benchmark is aborted with the client's error.
template <class Connections>
bool echo_ops(benchmark::State& state, Client<Connections>& client, int count) {
  for (int i = 0; i < count; ++i) {
    if (!client.echo_once()) {
      state.SkipWithError(client.error().c_str());
      return false;
    }
  }
  return true;
}

// Per iteration: open a connection and finish it (Direct: dial + close; Pooled: acquire + release as
// reusable + the pool's completions). No bytes move inside the loop, so an echo before and after proves
// the connections live.
template <class Connections>
void connection_establishment(benchmark::State& state) {
  Client<Connections> client(target());
  if (!echo_ops(state, client, 1)) return;
  AllocMeter allocs;
  for (auto _ : state) {
    if (!client.open_and_finish()) {
      state.SkipWithError(client.error().c_str());
      break;
    }
  }
  allocs.publish(state);
  publish_misses(state, client);
  echo_ops(state, client, 1);
}

// The pool's own operations: per iteration a warm acquire + release as reusable (HTTP mode's keep-alive
// settings, as BM_ConnectionEstablishment_Pooled), the hot path where the connection given back is taken again
// before its lazy watch is armed. BM_ConnectionEstablishment_Pooled polls the io_context after every pair, so
// its figure is mostly that poll's epoll_wait(0), the event loop's cost rather than the pool's; here the loop
// turns once per 32 pairs (it must turn sometimes: the lazy watch timer runs on it), as a busy worker's turn
// serves many completions. An echo before and after proves the connections live.
void warm_acquire_release(benchmark::State& state) {
  constexpr std::uint64_t kPairsPerLoopTurn = 32;
  Client<PooledConnections> client(target());
  if (!echo_ops(state, client, 1)) return;
  AllocMeter allocs;
  std::uint64_t pairs = 0;
  for (auto _ : state) {
    if (!client.open_and_finish(++pairs % kPairsPerLoopTurn == 0)) {
      state.SkipWithError(client.error().c_str());
      break;
    }
  }
  allocs.publish(state);
  publish_misses(state, client);
  echo_ops(state, client, 1);
}

// Per iteration: 5 sequential requests, each on its own connection (dial or acquire, write, read the echo,
// close or release). Every benchmark thread has its own io_context and pool; all pools share one Backend.
template <class Connections>
void realistic_workload(benchmark::State& state) {
  Client<Connections> client(target());
  AllocMeter allocs;
  for (auto _ : state) {
    if (!echo_ops(state, client, kRequestsPerWorkloadOp)) break;
  }
  allocs.publish(state);
  publish_misses(state, client);
}

// Batches of 100 sequential ops for about a second; items_per_second is ops/s, allocations are per op.
template <class Connections>
void sustained_load(benchmark::State& state) {
  Client<Connections> client(target());
  AllocMeter allocs;
  for (auto _ : state) {
    if (!echo_ops(state, client, kOpsPerSustainedBatch)) break;
  }
  state.SetItemsProcessed(state.iterations() * kOpsPerSustainedBatch);
  allocs.publish(state, kOpsPerSustainedBatch);
  publish_misses(state, client);
}

// Threads that each run echo ops on their own client (own io_context, own pool) until destroyed.
template <class Connections>
class BackgroundLoad {
 public:
  explicit BackgroundLoad(unsigned threads) {
    for (unsigned i = 0; i < threads; ++i) threads_.emplace_back([this] { run(); });
    // Measure only once every thread is connected and has completed an op.
    while (ready_.load() < threads) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~BackgroundLoad() {
    stop_ = true;
    for (std::thread& thread : threads_) thread.join();
  }
  std::uint64_t ops() const { return ops_.load(std::memory_order_relaxed); }
  std::string error() {
    std::lock_guard lock(mutex_);
    return error_;
  }

 private:
  void run() {
    Client<Connections> client(target());
    bool ready = false;
    while (!stop_.load(std::memory_order_relaxed)) {
      if (!client.echo_once()) {
        std::lock_guard lock(mutex_);
        error_ = "background load: " + client.error();
        break;
      }
      ops_.fetch_add(1, std::memory_order_relaxed);
      if (!ready) {
        ready = true;
        ++ready_;
      }
    }
    if (!ready) ++ready_;  // failed before its first op: do not keep the constructor waiting
  }

  std::vector<std::thread> threads_;
  std::atomic<bool> stop_{false};
  std::atomic<unsigned> ready_{0};
  std::atomic<std::uint64_t> ops_{0};
  std::mutex mutex_;
  std::string error_;
};

// One measured op per iteration (manual time) while 10 background threads load the same echo server with
// ops of the same kind. Counters: p50/p99 of the measured op, and the background load's ops/s.
template <class Connections>
void latency_under_load(benchmark::State& state) {
  BackgroundLoad<Connections> load(kBackgroundThreads);
  Client<Connections> client(target());
  std::vector<double> samples;
  samples.reserve(static_cast<std::size_t>(state.max_iterations));
  const std::uint64_t load_ops_before = load.ops();
  const auto wall_start = Clock::now();
  AllocMeter allocs;
  for (auto _ : state) {
    const auto start = Clock::now();
    const bool ok = client.echo_once();
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    if (!ok) {
      state.SkipWithError(client.error().c_str());
      break;
    }
    state.SetIterationTime(seconds);
    samples.push_back(seconds);
  }
  allocs.publish(state);
  const double wall = std::chrono::duration<double>(Clock::now() - wall_start).count();
  state.counters["load_ops_per_s"] = static_cast<double>(load.ops() - load_ops_before) / wall;
  if (const std::string error = load.error(); !error.empty()) state.SkipWithError(error.c_str());
  if (samples.empty()) return;
  std::sort(samples.begin(), samples.end());
  const auto percentile_us = [&](double p) {
    const auto rank = static_cast<std::size_t>(p * static_cast<double>(samples.size()));
    return samples[std::min(samples.size() - 1, rank)] * 1e6;
  };
  state.counters["p50_us"] = percentile_us(0.50);
  state.counters["p99_us"] = percentile_us(0.99);
  publish_misses(state, client);
}

BENCHMARK_TEMPLATE(connection_establishment, DirectConnections)->Name("BM_ConnectionEstablishment_Direct");
BENCHMARK_TEMPLATE(connection_establishment, PooledConnections)->Name("BM_ConnectionEstablishment_Pooled");

BENCHMARK_TEMPLATE(realistic_workload, DirectConnections)
    ->Name("BM_RealisticWorkload_WithoutPool")->Threads(4)->UseRealTime();
BENCHMARK_TEMPLATE(realistic_workload, PooledConnections)
    ->Name("BM_RealisticWorkload_WithPool")->Threads(4)->UseRealTime();

BENCHMARK_TEMPLATE(sustained_load, DirectConnections)
    ->Name("BM_SustainedLoad_WithoutPool")->MinTime(1.0)->UseRealTime();
BENCHMARK_TEMPLATE(sustained_load, PooledConnections)
    ->Name("BM_SustainedLoad_WithPool")->MinTime(1.0)->UseRealTime();

BENCHMARK_TEMPLATE(latency_under_load, DirectConnections)->Name("BM_LatencyUnderLoad_WithoutPool")->UseManualTime();
BENCHMARK_TEMPLATE(latency_under_load, PooledConnections)->Name("BM_LatencyUnderLoad_WithPool")->UseManualTime();

BENCHMARK(warm_acquire_release)->Name("BM_AcquireRelease_Warm");
// The same with 2 and 8 threads, each with its own pool as poolgate's workers have. All pools share one Backend
// and its atomic budget, but a lent connection keeps its slot, so a warm pair touches no shared state: what this
// shows is that nothing in the pool serialises the threads (no lock, no shared cache line on this path).
BENCHMARK(warm_acquire_release)->Name("BM_AcquireRelease_Contended")->Threads(2)->Threads(8);

}  // namespace
}  // namespace poolgate::bench

BENCHMARK_MAIN();
