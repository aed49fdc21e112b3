// Reads .safetensors files: an 8-byte little-endian header length, a JSON
// header {name: {dtype, shape, data_offsets}}, then raw tensor bytes.
// F64, F32, F16 and BF16 tensors are converted to float on load; integer
// tensors (buffers such as BERT's position_ids) are checked and left out.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace kioku {

struct Tensor {
  std::vector<int64_t> shape;
  std::vector<float> data;
  int64_t elements() const;
};

// Throws kNotFound / kInvalidInput (naming the problem) for missing,
// truncated or malformed files, unsupported dtypes, or offsets out of range.
std::map<std::string, Tensor> load_safetensors(const std::filesystem::path& path);

}  // namespace kioku
