// Command-line flag values (config/options parse_command_line): the input, split at NUL bytes, is the argument
// list after "poolgate". Every command line is accepted with sane options, or ends with an exit status and, for a
// refusal, a message on the error stream; the parser never exits the process. Its output goes to string streams,
// so --help in an input does not flood the fuzzer's log.
#include "fuzz_support.hpp"

#include "poolgate/config/options.hpp"

#include <sstream>
#include <vector>

using namespace poolgate;

namespace {
// More arguments only make each run slower; every flag fits many times over.
constexpr std::size_t kMaxArguments = 64;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = fuzz::as_text(data, size);
  std::vector<std::string> arguments{"poolgate"};
  for (std::size_t start = 0; start < text.size() && arguments.size() <= kMaxArguments;) {
    std::size_t end = text.find('\0', start);
    if (end == std::string_view::npos) end = text.size();
    arguments.emplace_back(text.substr(start, end - start));
    start = end + 1;
  }
  std::vector<const char*> argv;
  for (const std::string& argument : arguments) argv.push_back(argument.c_str());
  argv.push_back(nullptr);

  std::ostringstream out;
  std::ostringstream err;
  const config::ParsedCommandLine parsed =
      config::parse_command_line(static_cast<int>(arguments.size()), argv.data(), out, err);
  if (parsed.options) {
    const config::Options& options = *parsed.options;
    fuzz::require(parsed.exit_code == 0, "options returned with a non-zero exit status");
    fuzz::require(options.threads >= 1 && options.threads <= 1024, "thread count out of range");
    fuzz::require(options.monitor_interval > config::Duration::zero() &&
                      options.pool_cleanup_interval > config::Duration::zero(),
                  "an interval that must be positive is not");
    fuzz::require(options.endpoints_file.has_value() || !options.static_endpoints.empty(),
                  "neither an endpoints file nor --endpoint");
  } else {
    fuzz::require(parsed.exit_code == 0 || parsed.exit_code == 2, "exit status other than 0 or 2");
    if (parsed.exit_code == 2) fuzz::require(!err.str().empty(), "command line refused without a message");
  }
  return 0;
}
