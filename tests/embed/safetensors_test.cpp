// The safetensors reader on hand-made files: float dtypes converted, integer
// buffers (BERT's embeddings.position_ids is I64 in the real all-MiniLM-L6-v2)
// skipped, anything else a clear error.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "embed/safetensors.h"
#include "testing/temp_dir.h"

namespace kioku {
namespace {

struct Entry {
  std::string name, dtype;
  std::vector<int64_t> shape;
  std::string bytes;
};

void write_safetensors(const std::filesystem::path& p, const std::vector<Entry>& entries) {
  nlohmann::json header = {{"__metadata__", {{"format", "pt"}}}};
  std::string data;
  for (const auto& e : entries) {
    header[e.name] = {{"dtype", e.dtype}, {"shape", e.shape}, {"data_offsets", {data.size(), data.size() + e.bytes.size()}}};
    data += e.bytes;
  }
  const std::string h = header.dump();
  std::ofstream out(p, std::ios::binary);
  const uint64_t len = h.size();
  for (int i = 0; i < 8; ++i) out.put(static_cast<char>((len >> (8 * i)) & 0xFF));
  out << h << data;
}

template <typename T>
std::string raw(const std::vector<T>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}

TEST(Safetensors, ReadsFloatsAndSkipsIntegerBuffers) {
  testing::TempDir dir;
  write_safetensors(dir / "m.safetensors", {{"embeddings.position_ids", "I64", {1, 3}, raw<int64_t>({0, 1, 2})},
                                            {"w", "F32", {2}, raw<float>({1.5f, -2})},
                                            {"d", "F64", {1}, raw<double>({0.25})}});
  auto t = load_safetensors(dir / "m.safetensors");
  EXPECT_EQ(t.count("embeddings.position_ids"), 0u);
  ASSERT_EQ(t.count("w"), 1u);
  EXPECT_EQ(t.at("w").data, (std::vector<float>{1.5f, -2}));
  EXPECT_EQ(t.at("d").data, (std::vector<float>{0.25f}));
}

TEST(Safetensors, UnknownDtypesAndWrongSizesAreClearErrors) {
  testing::TempDir dir;
  write_safetensors(dir / "a.safetensors", {{"w", "F8_E4M3", {2}, "ab"}});
  try {
    load_safetensors(dir / "a.safetensors");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("unsupported dtype F8_E4M3"), std::string::npos) << e.what();
  }
  write_safetensors(dir / "b.safetensors", {{"ids", "I64", {4}, raw<int64_t>({0, 1})}});
  EXPECT_THROW(load_safetensors(dir / "b.safetensors"), Error);
}

}  // namespace
}  // namespace kioku
