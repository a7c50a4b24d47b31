// Deterministic pseudo-random byte streams: every test connection gets bytes of its own, so a byte lost,
// repeated, reordered or delivered to the wrong client shows when the receiver regenerates what it expected.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace poolgate::test {

// Writes bytes [offset, offset + size) of stream `seed` to `out`.
void fill_pattern(std::uint64_t seed, std::uint64_t offset, char* out, std::size_t size);

// Bytes [offset, offset + size) of stream `seed`.
std::string pattern_bytes(std::uint64_t seed, std::uint64_t offset, std::size_t size);

// Whether `data` equals bytes [offset, offset + data.size()) of stream `seed`.
bool matches_pattern(std::uint64_t seed, std::uint64_t offset, const char* data, std::size_t size);

}  // namespace poolgate::test
