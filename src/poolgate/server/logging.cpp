#include "poolgate/server/logging.hpp"

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <spdlog/formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <ctime>

namespace poolgate::server {
namespace {

// `text` with every invalid UTF-8 sequence replaced by U+FFFD, so the JSON line stays valid whatever bytes a
// message quotes (a corrupt endpoints file, say).
std::string valid_utf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    const auto byte = static_cast<unsigned char>(text[i]);
    std::size_t length = 0;
    std::uint32_t minimum = 0;
    if (byte < 0x80) {
      out += static_cast<char>(byte);
      ++i;
      continue;
    } else if ((byte & 0xE0) == 0xC0) {
      length = 2, minimum = 0x80;
    } else if ((byte & 0xF0) == 0xE0) {
      length = 3, minimum = 0x800;
    } else if ((byte & 0xF8) == 0xF0) {
      length = 4, minimum = 0x10000;
    }
    bool valid = length > 0 && i + length <= text.size();
    std::uint32_t code = length == 2 ? (byte & 0x1F) : length == 3 ? (byte & 0x0F) : (byte & 0x07);
    for (std::size_t k = 1; valid && k < length; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      valid = (next & 0xC0) == 0x80;
      code = (code << 6) | (next & 0x3F);
    }
    valid = valid && code >= minimum && code <= 0x10FFFF && !(code >= 0xD800 && code <= 0xDFFF);
    if (valid) {
      out.append(text.substr(i, length));
      i += length;
    } else {
      out += "\xEF\xBF\xBD";
      ++i;
    }
  }
  return out;
}

std::string_view level_name(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::trace: return "trace";
    case spdlog::level::debug: return "debug";
    case spdlog::level::info: return "info";
    case spdlog::level::warn: return "warn";
    case spdlog::level::err: return "error";
    case spdlog::level::critical: return "critical";
    default: return "off";
  }
}

// RFC 3339 in UTC with milliseconds: 2024-05-01T12:00:00.123Z.
std::string utc_time(spdlog::log_clock::time_point time) {
  const auto since_epoch = time.time_since_epoch();
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
  const auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch - seconds).count();
  const std::time_t t = static_cast<std::time_t>(seconds.count());
  std::tm utc{};
  ::gmtime_r(&t, &utc);
  char text[32];
  const std::size_t n = std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &utc);
  char fraction[8];
  std::snprintf(fraction, sizeof fraction, ".%03dZ", static_cast<int>(millis));
  return std::string(text, n) + fraction;
}

class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    boost::json::object fields;
    fields["logger"] = valid_utf8(std::string_view(msg.logger_name.data(), msg.logger_name.size()));
    fields["thread"] = static_cast<std::uint64_t>(msg.thread_id);
    boost::json::object line;
    line["time"] = utc_time(msg.time);
    line["level"] = level_name(msg.level);
    line["message"] = valid_utf8(std::string_view(msg.payload.data(), msg.payload.size()));
    line["fields"] = std::move(fields);
    const std::string text = boost::json::serialize(line);
    dest.append(text.data(), text.data() + text.size());
    dest.push_back('\n');
  }
  std::unique_ptr<spdlog::formatter> clone() const override { return std::make_unique<JsonFormatter>(); }
};

}  // namespace

std::unique_ptr<spdlog::formatter> make_json_formatter() { return std::make_unique<JsonFormatter>(); }

void setup_logging(const std::string& level, const std::string& format) {
  auto logger = spdlog::stderr_logger_mt("poolgate");
  if (format == "json") {
    logger->set_formatter(make_json_formatter());
  } else {
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %l %v");
  }
  logger->set_level(spdlog::level::from_str(level == "warn" ? "warning" : level));
  // Warnings and errors reach the file at once; info lines too, since operators tail them during incidents.
  logger->flush_on(spdlog::level::trace);
  spdlog::set_default_logger(std::move(logger));
}

}  // namespace poolgate::server
