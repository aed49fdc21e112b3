// Kioku's settings: config.toml in the data directory, overridden by
// environment variables. Secrets (API keys, tokens) may live in either and
// are never logged or printed: use redacted() to show settings.
#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace kioku {

// Looks up an environment variable; injectable so tests never touch the real
// environment.
using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;
EnvLookup process_env();

// Resolves the data directory: the flag, else KIOKU_HOME, else
// $XDG_DATA_HOME/kioku, else ~/.local/share/kioku.
std::filesystem::path resolve_data_dir(const std::string& flag_value, const EnvLookup& env);

class Config {
 public:
  // Reads path if it exists (a missing file is an empty config); throws
  // invalid_input with the line number on a TOML syntax error.
  static Config load(const std::filesystem::path& path, EnvLookup env);
  static Config empty(EnvLookup env);

  // Dotted keys, e.g. "search.mode". The environment variable named in env_var
  // (if any and set) wins over the file.
  std::optional<std::string> get_string(const std::string& dotted_key, const std::string& env_var = "") const;
  std::optional<double> get_number(const std::string& dotted_key, const std::string& env_var = "") const;
  std::optional<bool> get_bool(const std::string& dotted_key, const std::string& env_var = "") const;
  std::string get_string_or(const std::string& dotted_key, const std::string& fallback,
                            const std::string& env_var = "") const;

  // The whole file as JSON (for other layers to read their own tables).
  const nlohmann::json& data() const { return data_; }
  // The settings with every key that looks secret (key, token, password,
  // secret) replaced by "***".
  nlohmann::json redacted() const;
  const EnvLookup& env() const { return env_; }

 private:
  const nlohmann::json* find(const std::string& dotted_key) const;
  nlohmann::json data_ = nlohmann::json::object();
  EnvLookup env_;
};

// The commented template `kioku init` writes.
std::string default_config_toml();

}  // namespace kioku
