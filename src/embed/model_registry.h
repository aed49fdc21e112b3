// Sentence-embedding models Kioku knows how to fetch and run in process.
// Each lives under <data>/models/<name>/ in the Hugging Face layout.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace kioku {

struct KnownModel {
  std::string name;  // what users type: "all-MiniLM-L6-v2"
  std::string repo;  // Hugging Face repository
  std::vector<std::string> files;
  int dimension = 0;
  std::string pooling;  // "mean" or "cls"
  std::string query_prefix;
  std::string passage_prefix;
};

const std::vector<KnownModel>& known_models();
std::optional<KnownModel> find_known_model(const std::string& name);
const std::string& default_model_name();

struct InstalledModel {
  std::string name;
  std::filesystem::path path;
  uint64_t bytes = 0;
};
// Folders under <data_dir>/models that hold a model.safetensors and config.json.
std::vector<InstalledModel> find_installed_models(const std::filesystem::path& data_dir);

}  // namespace kioku
