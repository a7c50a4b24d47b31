#include "poolgate/config/duration.hpp"

#include "poolgate/config/error.hpp"
#include "poolgate/config/quote.hpp"

#include <array>
#include <cstdint>
#include <limits>

namespace poolgate::config {
namespace {

struct Unit {
  std::string_view suffix;
  std::int64_t nanoseconds;
};

// Longest suffixes first so "ms" is not read as "m" followed by garbage.
constexpr std::array kUnits{
    Unit{"ns", 1},
    Unit{"us", 1'000},
    Unit{"\xC2\xB5s", 1'000},  // µs (micro sign), as Go accepts it
    Unit{"\xCE\xBCs", 1'000},  // μs (Greek mu)
    Unit{"ms", 1'000'000},
    Unit{"s", 1'000'000'000},
    Unit{"m", 60'000'000'000},
    Unit{"h", 3'600'000'000'000},
};

[[noreturn]] void fail(std::string_view text, std::string_view why) {
  throw ConfigError("invalid duration " + quoted(text) + ": " + std::string(why) +
                    " (examples: 500ms, 15s, 1m, 1h30m)");
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

}  // namespace

Duration parse_duration(std::string_view text) {
  if (text.empty()) fail(text, "empty");
  if (text == "0") return Duration::zero();
  if (text.front() == '-') fail(text, "must not be negative");
  std::string_view rest = text;
  if (rest.front() == '+') rest.remove_prefix(1);
  if (rest.empty()) fail(text, "no number");

  // Integer arithmetic, as Go does: a fraction is truncated to whole nanoseconds, never rounded by floats.
  constexpr __int128 kMax = std::numeric_limits<std::int64_t>::max();
  __int128 total = 0;
  while (!rest.empty()) {
    std::size_t digits = 0;
    while (digits < rest.size() && (is_digit(rest[digits]) || rest[digits] == '.')) ++digits;
    std::string_view number = rest.substr(0, digits);
    if (number.empty() || number == ".") fail(text, "expected a number");
    if (number.find('.') != number.rfind('.')) fail(text, "more than one decimal point");
    rest.remove_prefix(digits);

    const Unit* unit = nullptr;
    for (const Unit& candidate : kUnits) {
      if (rest.starts_with(candidate.suffix) &&
          (unit == nullptr || candidate.suffix.size() > unit->suffix.size())) {
        unit = &candidate;
      }
    }
    if (unit == nullptr) fail(text, rest.empty() ? "missing unit" : "unknown unit");
    rest.remove_prefix(unit->suffix.size());

    const std::size_t point = number.find('.');
    const std::string_view whole = number.substr(0, point);
    const std::string_view fraction = point == std::string_view::npos ? std::string_view{} : number.substr(point + 1);
    __int128 whole_value = 0;
    for (char c : whole) {
      whole_value = whole_value * 10 + (c - '0');
      if (whole_value > kMax) fail(text, "too large");
    }
    __int128 fraction_ns = 0;
    __int128 scale = unit->nanoseconds;
    for (char c : fraction) {
      if (scale < 10) break;  // digits below a nanosecond are dropped
      scale /= 10;
      fraction_ns += (c - '0') * scale;
    }
    total += whole_value * unit->nanoseconds + fraction_ns;
    if (total > kMax) fail(text, "too large");
  }
  return Duration(static_cast<std::int64_t>(total));
}

std::string format_duration(Duration value) {
  using namespace std::chrono;
  if (value == Duration::zero()) return "0s";
  if (value < seconds(1)) {
    if (value % milliseconds(1) == Duration::zero()) {
      return std::to_string(duration_cast<milliseconds>(value).count()) + "ms";
    }
    if (value % microseconds(1) == Duration::zero()) {
      return std::to_string(duration_cast<microseconds>(value).count()) + "\xC2\xB5s";  // µs, as Go writes it
    }
    return std::to_string(value.count()) + "ns";
  }
  std::string out;
  auto h = duration_cast<hours>(value);
  value -= h;
  auto m = duration_cast<minutes>(value);
  value -= m;
  if (h.count() > 0) out += std::to_string(h.count()) + "h";
  if (h.count() > 0 || m.count() > 0) out += std::to_string(m.count()) + "m";
  auto whole = duration_cast<seconds>(value);
  auto millis = duration_cast<milliseconds>(value - whole).count();
  out += std::to_string(whole.count());
  if (millis > 0) {
    std::string fraction = std::to_string(1000 + millis).substr(1);  // zero-padded to three digits
    while (fraction.back() == '0') fraction.pop_back();
    out += "." + fraction;
  }
  return out + "s";
}

}  // namespace poolgate::config
