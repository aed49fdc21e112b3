// Reading a Telegram update (a JSON object from getUpdates): the part the
// bot acts on. Separate from the bot so that the fuzz target can reach it.
// Never throws on a well-formed JSON value of any shape: fields of the wrong
// type are treated as missing.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace kioku::telegram {

struct Incoming {
  int64_t update_id = 0;
  int64_t message_id = 0;
  int64_t chat_id = 0;
  int64_t from_id = 0;
  int64_t date = 0;  // Unix seconds
  std::string text;  // text or caption
  std::string photo_file_id;  // the largest size
  std::string voice_file_id;
};

// nullopt for updates that are not a message in a chat.
std::optional<Incoming> parse_update(const nlohmann::json& update);

}  // namespace kioku::telegram
