#include "bots/telegram/update.h"

#include <algorithm>

namespace kioku::telegram {

namespace {

int64_t integer_of(const nlohmann::json& object, const char* key) {
  if (!object.is_object()) return 0;
  const auto it = object.find(key);
  return it != object.end() && it->is_number_integer() ? it->get<int64_t>() : 0;
}

std::string text_of(const nlohmann::json& object, const char* key) {
  if (!object.is_object()) return "";
  const auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : "";
}

}  // namespace

std::optional<Incoming> parse_update(const nlohmann::json& update) {
  if (!update.is_object() || !update.contains("message") || !update["message"].is_object()) return std::nullopt;
  const auto& m = update["message"];
  Incoming in;
  in.update_id = integer_of(update, "update_id");
  in.message_id = integer_of(m, "message_id");
  in.date = integer_of(m, "date");
  if (m.contains("chat")) in.chat_id = integer_of(m["chat"], "id");
  if (m.contains("from")) in.from_id = integer_of(m["from"], "id");
  in.text = m.contains("text") && m["text"].is_string() ? m["text"].get<std::string>() : text_of(m, "caption");
  if (m.contains("photo") && m["photo"].is_array()) {
    int64_t best = -1;
    for (const auto& size : m["photo"]) {
      // Sizes are small numbers; clamped so that a hostile one cannot overflow.
      const int64_t width = std::clamp<int64_t>(integer_of(size, "width"), 0, 1 << 20);
      const int64_t height = std::clamp<int64_t>(integer_of(size, "height"), 0, 1 << 20);
      if (width * height > best) {
        best = width * height;
        in.photo_file_id = text_of(size, "file_id");
      }
    }
  }
  for (const char* key : {"voice", "audio"}) {
    if (m.contains(key) && m[key].is_object()) in.voice_file_id = text_of(m[key], "file_id");
  }
  if (in.chat_id == 0) return std::nullopt;
  return in;
}

}  // namespace kioku::telegram
