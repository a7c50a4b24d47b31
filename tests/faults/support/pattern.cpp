#include "faults/support/pattern.hpp"

#include <cstring>

namespace poolgate::test {
namespace {

std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// The 8 bytes of block `index` of stream `seed`.
std::uint64_t block(std::uint64_t seed, std::uint64_t index) { return splitmix64(splitmix64(seed) ^ index); }

}  // namespace

void fill_pattern(std::uint64_t seed, std::uint64_t offset, char* out, std::size_t size) {
  std::size_t done = 0;
  while (done < size) {
    const std::uint64_t position = offset + done;
    const std::uint64_t value = block(seed, position / 8);
    const std::size_t skip = position % 8;
    const std::size_t take = std::min<std::size_t>(8 - skip, size - done);
    char bytes[8];
    std::memcpy(bytes, &value, sizeof bytes);
    std::memcpy(out + done, bytes + skip, take);
    done += take;
  }
}

std::string pattern_bytes(std::uint64_t seed, std::uint64_t offset, std::size_t size) {
  std::string bytes(size, '\0');
  fill_pattern(seed, offset, bytes.data(), size);
  return bytes;
}

bool matches_pattern(std::uint64_t seed, std::uint64_t offset, const char* data, std::size_t size) {
  constexpr std::size_t kSlice = 64 * 1024;
  char expected[kSlice];
  for (std::size_t done = 0; done < size; done += kSlice) {
    const std::size_t slice = std::min(kSlice, size - done);
    fill_pattern(seed, offset + done, expected, slice);
    if (std::memcmp(expected, data + done, slice) != 0) return false;
  }
  return true;
}

}  // namespace poolgate::test
