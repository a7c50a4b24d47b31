// Go durations (config/duration): any text is accepted as a non-negative duration or refused with a ConfigError;
// format_duration() of an accepted value reads back as the same value (to the millisecond it prints).
#include "fuzz_support.hpp"

#include "poolgate/config/duration.hpp"
#include "poolgate/config/error.hpp"

using namespace poolgate;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = fuzz::as_text(data, size);
  try {
    const config::Duration value = config::parse_duration(text);
    fuzz::require(value >= config::Duration::zero(), "negative duration accepted", text);
    const std::string printed = config::format_duration(value);
    // Above a second, format_duration prints milliseconds: only values it prints exactly can read back exactly.
    const bool exact =
        value < std::chrono::seconds(1) || value % std::chrono::milliseconds(1) == config::Duration::zero();
    if (exact) {
      fuzz::require(config::parse_duration(printed) == value, "format_duration() does not read back", printed);
    }
  } catch (const config::ConfigError& error) {
    fuzz::require_clear_message(error.what(), "invalid duration \"");
  }
  return 0;
}
