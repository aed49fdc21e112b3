#include "embed/model_registry.h"

namespace kioku {

const std::vector<KnownModel>& known_models() {
  static const std::vector<std::string> kFiles = {"config.json",
                                                  "model.safetensors",
                                                  "vocab.txt",
                                                  "tokenizer.json",
                                                  "tokenizer_config.json",
                                                  "special_tokens_map.json",
                                                  "modules.json",
                                                  "sentence_bert_config.json",
                                                  "1_Pooling/config.json"};
  static const std::vector<KnownModel> models = {
      {"all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2", kFiles, 384, "mean", "", ""},
      {"bge-small-en-v1.5", "BAAI/bge-small-en-v1.5", kFiles, 384, "cls",
       "Represent this sentence for searching relevant passages: ", ""},
      {"e5-small-v2", "intfloat/e5-small-v2",
       {"config.json", "model.safetensors", "vocab.txt", "tokenizer.json", "tokenizer_config.json",
        "special_tokens_map.json"},
       384, "mean", "query: ", "passage: "},
  };
  return models;
}

std::optional<KnownModel> find_known_model(const std::string& name) {
  for (const auto& m : known_models())
    if (m.name == name || m.repo == name) return m;
  return std::nullopt;
}

const std::string& default_model_name() {
  static const std::string name = "all-MiniLM-L6-v2";
  return name;
}

std::vector<InstalledModel> find_installed_models(const std::filesystem::path& data_dir) {
  std::vector<InstalledModel> out;
  std::error_code ec;
  const auto root = data_dir / "models";
  if (!std::filesystem::is_directory(root, ec)) return out;
  for (const auto& entry : std::filesystem::directory_iterator(root, ec)) {
    if (!entry.is_directory()) continue;
    const auto weights = entry.path() / "model.safetensors";
    if (!std::filesystem::exists(weights) || !std::filesystem::exists(entry.path() / "config.json")) continue;
    InstalledModel m;
    m.name = entry.path().filename().string();
    m.path = entry.path();
    for (const auto& f : std::filesystem::recursive_directory_iterator(entry.path(), ec))
      if (f.is_regular_file()) m.bytes += f.file_size();
    out.push_back(std::move(m));
  }
  return out;
}

}  // namespace kioku
