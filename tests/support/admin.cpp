#include "support/admin.hpp"

#include "support/client.hpp"

#include <algorithm>
#include <cctype>
#include <limits>
#include <sstream>
#include <stdexcept>

namespace poolgate::test {

std::optional<HttpResponse> http_get(std::uint16_t port, std::string_view target, std::string_view method,
                                     std::chrono::milliseconds timeout) {
  auto client = Client::try_connect(port, timeout);
  if (!client) {
    return std::nullopt;
  }
  std::string request(method);
  request.append(" ").append(target).append(" HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
  if (!client->send_all(request, timeout)) {
    return std::nullopt;
  }
  const auto raw = client->recv_until_eof(timeout);
  if (!raw) {
    return std::nullopt;
  }
  const auto header_end = raw->find("\r\n\r\n");
  if (header_end == std::string::npos || raw->compare(0, 5, "HTTP/") != 0) {
    return std::nullopt;
  }
  HttpResponse response;
  std::istringstream head(raw->substr(0, header_end));
  std::string line;
  std::getline(head, line);
  const auto space = line.find(' ');
  if (space == std::string::npos) {
    return std::nullopt;
  }
  response.status = std::stoi(line.substr(space + 1, 3));
  while (std::getline(head, line)) {
    if (!line.empty() && line.back() == '\r') {
      line.pop_back();
    }
    const auto colon = line.find(':');
    if (colon == std::string::npos) {
      continue;
    }
    std::string name = line.substr(0, colon);
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
    std::string value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(' '));
    response.headers[name] = value;
  }
  response.body = raw->substr(header_end + 4);
  return response;
}

namespace {

[[noreturn]] void bad_line(const std::string& line, const char* why) {
  throw std::runtime_error(std::string("unparseable metrics line (") + why + "): " + line);
}

}  // namespace

std::vector<MetricSample> parse_metrics(const std::string& text) {
  std::vector<MetricSample> samples;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') {
      continue;
    }
    MetricSample sample;
    std::size_t i = 0;
    while (i < line.size() && line[i] != '{' && line[i] != ' ') {
      ++i;
    }
    sample.name = line.substr(0, i);
    if (i < line.size() && line[i] == '{') {
      ++i;
      while (i < line.size() && line[i] != '}') {
        const auto eq = line.find('=', i);
        if (eq == std::string::npos || eq + 1 >= line.size() || line[eq + 1] != '"') {
          bad_line(line, "label");
        }
        std::string name = line.substr(i, eq - i);
        std::string value;
        std::size_t j = eq + 2;
        for (; j < line.size() && line[j] != '"'; ++j) {
          if (line[j] == '\\' && j + 1 < line.size()) {
            ++j;
            value += line[j] == 'n' ? '\n' : line[j];
          } else {
            value += line[j];
          }
        }
        if (j >= line.size()) {
          bad_line(line, "unterminated label value");
        }
        sample.labels[name] = value;
        i = j + 1;
        if (i < line.size() && line[i] == ',') {
          ++i;
        }
      }
      if (i >= line.size()) {
        bad_line(line, "unterminated labels");
      }
      ++i;  // '}'
    }
    if (i >= line.size() || line[i] != ' ') {
      bad_line(line, "no value");
    }
    const std::string value = line.substr(i + 1);
    try {
      std::size_t used = 0;
      sample.value = value == "+Inf" ? std::numeric_limits<double>::infinity() : std::stod(value, &used);
      if (value != "+Inf" && used != value.size()) {
        bad_line(line, "value");
      }
    } catch (const std::logic_error&) {
      bad_line(line, "value");
    }
    samples.push_back(std::move(sample));
  }
  return samples;
}

namespace {

bool matches(const MetricSample& sample, std::string_view name, const std::map<std::string, std::string>& labels) {
  if (sample.name != name) {
    return false;
  }
  return std::all_of(labels.begin(), labels.end(), [&](const auto& label) {
    const auto it = sample.labels.find(label.first);
    return it != sample.labels.end() && it->second == label.second;
  });
}

}  // namespace

double metric_sum(const std::vector<MetricSample>& samples, std::string_view name,
                  const std::map<std::string, std::string>& labels) {
  double sum = 0;
  for (const auto& sample : samples) {
    if (matches(sample, name, labels)) {
      sum += sample.value;
    }
  }
  return sum;
}

std::size_t metric_count(const std::vector<MetricSample>& samples, std::string_view name,
                         const std::map<std::string, std::string>& labels) {
  return static_cast<std::size_t>(std::count_if(samples.begin(), samples.end(), [&](const MetricSample& sample) {
    return matches(sample, name, labels);
  }));
}

bool has_family(const std::string& text, std::string_view name, std::string_view type) {
  const std::string help = "# HELP " + std::string(name) + " ";
  const std::string type_line = "# TYPE " + std::string(name) + " " + std::string(type) + "\n";
  return text.find(help) != std::string::npos && text.find(type_line) != std::string::npos;
}

}  // namespace poolgate::test
