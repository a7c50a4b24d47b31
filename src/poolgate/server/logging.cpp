#include "poolgate/server/logging.hpp"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace poolgate::server {

void setup_logging(const std::string& level) {
  auto logger = spdlog::stderr_logger_mt("poolgate");
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %l %v");
  logger->set_level(spdlog::level::from_str(level == "warn" ? "warning" : level));
  // Warnings and errors reach the file at once; info lines too, since operators tail them during incidents.
  logger->flush_on(spdlog::level::trace);
  spdlog::set_default_logger(std::move(logger));
}

}  // namespace poolgate::server
