// Talking to poolgate's admin endpoint (and to a Prometheus server) from tests: a one-shot HTTP GET, and a
// parser for the Prometheus text exposition format.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace poolgate::test {

using namespace std::chrono_literals;

struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
};

// GET `target` from 127.0.0.1:port over HTTP/1.0 (the server closes after answering, so no chunked bodies);
// `method` may be "HEAD", "POST", ... nullopt if the connection or the exchange fails.
std::optional<HttpResponse> http_get(std::uint16_t port, std::string_view target, std::string_view method = "GET",
                                     std::chrono::milliseconds timeout = 5s);

struct MetricSample {
  std::string name;  // with its suffix (_bucket, _sum, _count)
  std::map<std::string, std::string> labels;
  double value = 0;
};

// Every sample line of a text exposition; throws std::runtime_error naming a line it cannot parse.
std::vector<MetricSample> parse_metrics(const std::string& text);

// The sum of the samples called `name` whose labels include all of `labels` (0 if there are none).
double metric_sum(const std::vector<MetricSample>& samples, std::string_view name,
                  const std::map<std::string, std::string>& labels = {});

// How many samples are called `name` and carry all of `labels`.
std::size_t metric_count(const std::vector<MetricSample>& samples, std::string_view name,
                         const std::map<std::string, std::string>& labels = {});

// True when `text` has both "# HELP name ..." and "# TYPE name <type>" lines.
bool has_family(const std::string& text, std::string_view name, std::string_view type);

}  // namespace poolgate::test
