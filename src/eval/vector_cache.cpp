#include "eval/vector_cache.h"
// Appends are not locked: one process per cache folder at a time.

#include <cctype>
#include <fstream>

#include "core/error.h"
#include "core/hash.h"

namespace kioku {

namespace {

constexpr size_t kKeyBytes = 64;  // hex SHA-256

std::string key_of(const std::string& text, EmbedPurpose purpose) {
  return sha256_hex((purpose == EmbedPurpose::kQuery ? "q\n" : "p\n") + text);
}

}  // namespace

CachedEmbedder::CachedEmbedder(Embedder& inner, const std::filesystem::path& cache_dir) : inner_(inner) {
  std::string name = inner.model_id();
  for (char& c : name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.') c = '_';
  std::error_code ec;
  std::filesystem::create_directories(cache_dir, ec);
  path_ = cache_dir / (name + "-" + std::to_string(inner.dimension()) + ".vectors");
  const size_t dim = static_cast<size_t>(inner.dimension());
  const size_t record = kKeyBytes + dim * sizeof(float);
  size_t valid_bytes = 0;
  if (std::ifstream in{path_, std::ios::binary}) {
    std::string key(kKeyBytes, '\0');
    std::vector<float> v(dim);
    while (in.read(key.data(), kKeyBytes) && in.read(reinterpret_cast<char*>(v.data()), static_cast<std::streamsize>(dim * sizeof(float)))) {
      vectors_[key] = v;
      valid_bytes += record;
    }
  }
  // Cut a torn last record so appends stay aligned.
  if (std::filesystem::exists(path_, ec) && std::filesystem::file_size(path_, ec) != valid_bytes)
    std::filesystem::resize_file(path_, valid_bytes, ec);
  out_ = std::fopen(path_.string().c_str(), "ab");
  if (!out_) throw io_error("cannot write the vector cache " + path_.string());
}

CachedEmbedder::~CachedEmbedder() {
  if (out_) std::fclose(out_);
}

std::vector<std::vector<float>> CachedEmbedder::embed(const std::vector<std::string>& texts, EmbedPurpose purpose) {
  std::vector<std::vector<float>> out(texts.size());
  std::vector<std::string> missing;
  std::vector<size_t> where;
  std::vector<std::string> keys(texts.size());
  for (size_t i = 0; i < texts.size(); ++i) {
    keys[i] = key_of(texts[i], purpose);
    auto it = vectors_.find(keys[i]);
    if (it != vectors_.end()) {
      out[i] = it->second;
      ++hits_;
    } else {
      missing.push_back(texts[i]);
      where.push_back(i);
    }
  }
  if (missing.empty()) return out;
  auto fresh = inner_.embed(missing, purpose);
  misses_ += fresh.size();
  for (size_t j = 0; j < fresh.size(); ++j) {
    const size_t i = where[j];
    std::fwrite(keys[i].data(), 1, kKeyBytes, out_);
    std::fwrite(fresh[j].data(), sizeof(float), fresh[j].size(), out_);
    vectors_[keys[i]] = fresh[j];
    out[i] = std::move(fresh[j]);
  }
  std::fflush(out_);
  return out;
}

}  // namespace kioku
