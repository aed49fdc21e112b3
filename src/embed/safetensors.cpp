#include "embed/safetensors.h"

#include <cstring>
#include <fstream>

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace kioku {

int64_t Tensor::elements() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

namespace {

float half_to_float(uint16_t h) {
  const uint32_t sign = (h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1F;
  uint32_t mant = h & 0x3FF;
  uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: normalise
      exp = 127 - 15 + 1;
      while (!(mant & 0x400)) {
        mant <<= 1;
        --exp;
      }
      mant &= 0x3FF;
      bits = sign | (exp << 23) | (mant << 13);
    }
  } else if (exp == 31) {
    bits = sign | 0x7F800000u | (mant << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

}  // namespace

std::map<std::string, Tensor> load_safetensors(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw not_found("no model weights at " + path.string());
  uint64_t header_len = 0;
  unsigned char len_bytes[8];
  if (!in.read(reinterpret_cast<char*>(len_bytes), 8)) throw invalid_input(path.string() + ": truncated safetensors file");
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | len_bytes[i];
  const uint64_t file_size = std::filesystem::file_size(path);
  if (header_len > file_size - 8 || header_len > (100u << 20)) throw invalid_input(path.string() + ": bad safetensors header length");
  std::string header(header_len, '\0');
  in.read(header.data(), static_cast<std::streamsize>(header_len));
  auto j = nlohmann::json::parse(header, nullptr, false);
  if (j.is_discarded() || !j.is_object()) throw invalid_input(path.string() + ": safetensors header is not JSON");
  const uint64_t data_start = 8 + header_len;
  const uint64_t data_size = file_size - data_start;
  std::map<std::string, Tensor> out;
  for (const auto& [name, info] : j.items()) {
    if (name == "__metadata__") continue;
    try {
      const std::string dtype = info.at("dtype");
      const auto offsets = info.at("data_offsets").get<std::vector<uint64_t>>();
      Tensor t;
      t.shape = info.at("shape").get<std::vector<int64_t>>();
      if (offsets.size() != 2 || offsets[0] > offsets[1] || offsets[1] > data_size)
        throw invalid_input(path.string() + ": tensor " + name + " lies outside the file");
      // Integer tensors are buffers, not weights (BERT checkpoints carry
      // embeddings.position_ids as I64): checked for size, then left out.
      static const std::map<std::string, size_t> kIntegerWidths = {{"I64", 8}, {"I32", 4}, {"I16", 2}, {"I8", 1},
                                                                   {"U8", 1},  {"BOOL", 1}};
      const auto integer = kIntegerWidths.find(dtype);
      const size_t width = dtype == "F64" ? 8 : dtype == "F32" ? 4 : (dtype == "F16" || dtype == "BF16") ? 2
                           : integer != kIntegerWidths.end() ? integer->second : 0;
      if (width == 0) throw invalid_input(path.string() + ": tensor " + name + " has unsupported dtype " + dtype);
      const uint64_t bytes = offsets[1] - offsets[0];
      if (bytes != static_cast<uint64_t>(t.elements()) * width)
        throw invalid_input(path.string() + ": tensor " + name + " has the wrong byte size");
      if (integer != kIntegerWidths.end()) continue;
      std::string raw(bytes, '\0');
      in.seekg(static_cast<std::streamoff>(data_start + offsets[0]));
      if (!in.read(raw.data(), static_cast<std::streamsize>(bytes))) throw invalid_input(path.string() + ": truncated tensor " + name);
      t.data.resize(static_cast<size_t>(t.elements()));
      for (size_t i = 0; i < t.data.size(); ++i) {
        if (width == 8) {
          double d;
          std::memcpy(&d, raw.data() + 8 * i, 8);
          t.data[i] = static_cast<float>(d);
        } else if (width == 4) {
          std::memcpy(&t.data[i], raw.data() + 4 * i, 4);
        } else {
          uint16_t h;
          std::memcpy(&h, raw.data() + 2 * i, 2);
          if (dtype == "F16") {
            t.data[i] = half_to_float(h);
          } else {
            const uint32_t bits = static_cast<uint32_t>(h) << 16;
            std::memcpy(&t.data[i], &bits, 4);
          }
        }
      }
      out.emplace(name, std::move(t));
    } catch (const nlohmann::json::exception&) {
      throw invalid_input(path.string() + ": malformed entry for tensor " + name);
    }
  }
  return out;
}

}  // namespace kioku
