#include "poolgate/config/duration.hpp"

#include "poolgate/config/error.hpp"

#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
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
  throw ConfigError("invalid duration \"" + std::string(text) + "\": " + std::string(why) +
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

  long double total = 0;
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

    long double value = 0;
    long double scale = 1;
    bool fraction = false;
    for (char c : number) {
      if (c == '.') {
        fraction = true;
        continue;
      }
      if (fraction) {
        scale /= 10;
        value += (c - '0') * scale;
      } else {
        value = value * 10 + (c - '0');
      }
    }
    total += value * static_cast<long double>(unit->nanoseconds);
    if (total > static_cast<long double>(std::numeric_limits<std::int64_t>::max())) {
      fail(text, "too large");
    }
  }
  return Duration(static_cast<std::int64_t>(std::llround(total)));
}

std::string format_duration(Duration value) {
  using namespace std::chrono;
  if (value == Duration::zero()) return "0s";
  if (value < seconds(1)) {
    if (value % milliseconds(1) == Duration::zero()) {
      return std::to_string(duration_cast<milliseconds>(value).count()) + "ms";
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
    char fraction[8];
    std::snprintf(fraction, sizeof fraction, ".%03lld", static_cast<long long>(millis));
    std::string text(fraction);
    while (text.back() == '0') text.pop_back();
    out += text;
  }
  return out + "s";
}

}  // namespace poolgate::config
