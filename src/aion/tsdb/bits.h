// Bit-level writer and reader for the compressed chunk format: bits are packed most
// significant first into bytes, so a stream reads back in the order it was written and two
// streams compare byte for byte. Not thread-safe: a writer or reader belongs to one thread
// (the owning Chunk's).
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

namespace aion::tsdb {

class BitWriter {
 public:
  // Appends the low `count` bits of `value` (count in 0..64), most significant first.
  void write(std::uint64_t value, int count) {
    while (count > 0) {
      if (free_ == 0) {
        bytes_.push_back(0);
        free_ = 8;
      }
      const int take = count < free_ ? count : free_;
      const std::uint64_t part = (value >> (count - take)) & ((std::uint64_t{1} << take) - 1);
      bytes_.back() |= static_cast<std::uint8_t>(part << (free_ - take));
      free_ -= take;
      count -= take;
    }
  }
  void write_bit(bool bit) { write(bit ? 1 : 0, 1); }

  std::size_t bit_size() const { return bytes_.size() * 8 - static_cast<std::size_t>(free_); }
  // Continues a stream of `bit_size` bits held in `bytes` (the bits past it are cleared, so
  // later writes land on zeros). bit_size must lie within the last byte.
  void adopt(std::vector<std::uint8_t> bytes, std::size_t bit_size) {
    bytes_ = std::move(bytes);
    free_ = static_cast<int>(bytes_.size() * 8 - bit_size);
    if (free_ > 0) bytes_.back() &= static_cast<std::uint8_t>(0xff << free_);
  }
  const std::vector<std::uint8_t>& bytes() const { return bytes_; }

 private:
  std::vector<std::uint8_t> bytes_;
  int free_ = 0;  // unused low bits of the last byte
};

class BitReader {
 public:
  BitReader(std::span<const std::uint8_t> bytes, std::size_t bit_size)
      : bytes_(bytes), size_(bit_size) {}

  // The next 64 bits, most significant first, with zeros past the end; consumes nothing.
  std::uint64_t peek() const {
    const std::size_t byte = pos_ >> 3;
    const int shift = static_cast<int>(pos_ & 7);
    auto at = [&](std::size_t i) -> std::uint64_t {
      return byte + i < bytes_.size() ? bytes_[byte + i] : 0;
    };
    std::uint64_t v = 0;
    if (byte + 8 <= bytes_.size()) {
      std::memcpy(&v, bytes_.data() + byte, 8);
      if constexpr (std::endian::native == std::endian::little) v = __builtin_bswap64(v);
    } else {
      for (std::size_t i = 0; i < 8; ++i) v = (v << 8) | at(i);
    }
    if (shift > 0) v = (v << shift) | (at(8) >> (8 - shift));
    const std::size_t left = size_ - pos_;
    if (left < 64) v &= left == 0 ? 0 : ~std::uint64_t{0} << (64 - left);
    return v;
  }
  void skip(std::size_t count) { pos_ += count; }  // count <= remaining()

  // Reads `count` bits (0..64) into the low bits of `out`; false (and nothing consumed) when
  // fewer than `count` bits are left.
  bool read(int count, std::uint64_t& out) {
    if (static_cast<std::size_t>(count) > size_ - pos_) return false;
    out = count == 0 ? 0 : peek() >> (64 - count);
    pos_ += static_cast<std::size_t>(count);
    return true;
  }
  bool read_bit(bool& out) {
    std::uint64_t v = 0;
    if (!read(1, v)) return false;
    out = v != 0;
    return true;
  }
  std::size_t remaining() const { return size_ - pos_; }

 private:
  std::span<const std::uint8_t> bytes_;
  std::size_t size_;
  std::size_t pos_ = 0;
};

}  // namespace aion::tsdb
