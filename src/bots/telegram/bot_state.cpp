#include "bots/telegram/bot_state.h"

#include <algorithm>
#include <fstream>

#include "core/error.h"
#include "core/json.h"
#include "journal/journal_service.h"

namespace kioku::telegram {

BotState::BotState(std::filesystem::path path) : path_(std::move(path)) {
  data_ = {{"version", 1}, {"offset", 0}, {"inbox", nlohmann::json::array()}, {"chats", nlohmann::json::object()}};
  std::error_code ec;
  if (!std::filesystem::exists(path_, ec)) return;
  std::ifstream in(path_, std::ios::binary);
  if (!in) throw io_error("cannot read " + path_.string());
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto loaded = parse_json_or_discarded(text);
  if (!loaded.is_object() || !loaded.contains("offset") || !loaded["offset"].is_number_integer())
    throw io_error(path_.string() + " is corrupt; move it away to start over (updates may then be handled again)");
  data_.update(loaded);
  if (!data_["inbox"].is_array()) data_["inbox"] = nlohmann::json::array();
  if (!data_["chats"].is_object()) data_["chats"] = nlohmann::json::object();
}

void BotState::save() { write_file_atomically(path_, data_.dump(1)); }

int64_t BotState::offset() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return data_["offset"].get<int64_t>();
}

void BotState::receive(const std::vector<nlohmann::json>& updates, int64_t next_offset) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto& inbox = data_["inbox"];
  for (const auto& u : updates) {
    const int64_t id = u.value("update_id", int64_t{0});
    const bool known = std::any_of(inbox.begin(), inbox.end(),
                                   [id](const nlohmann::json& e) { return e.value("update_id", int64_t{0}) == id; });
    if (!known) inbox.push_back(u);
  }
  data_["offset"] = std::max(next_offset, data_["offset"].get<int64_t>());
  save();
}

std::vector<nlohmann::json> BotState::inbox() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<nlohmann::json> out(data_["inbox"].begin(), data_["inbox"].end());
  std::sort(out.begin(), out.end(), [](const nlohmann::json& a, const nlohmann::json& b) {
    return a.value("update_id", int64_t{0}) < b.value("update_id", int64_t{0});
  });
  return out;
}

void BotState::mark_done(int64_t update_id) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto& inbox = data_["inbox"];
  const auto before = inbox.size();
  for (auto it = inbox.begin(); it != inbox.end();) {
    if (it->value("update_id", int64_t{0}) == update_id) it = inbox.erase(it);
    else ++it;
  }
  if (inbox.size() != before) save();
}

ChatSettings BotState::chat(int64_t chat_id) const {
  std::lock_guard<std::mutex> lock(mutex_);
  ChatSettings s;
  const std::string key = std::to_string(chat_id);
  if (data_["chats"].contains(key)) s.voice = data_["chats"][key].value("voice", false);
  return s;
}

void BotState::set_chat(int64_t chat_id, const ChatSettings& settings) {
  std::lock_guard<std::mutex> lock(mutex_);
  data_["chats"][std::to_string(chat_id)]["voice"] = settings.voice;
  save();
}

std::optional<int64_t> BotState::last_chat() const {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!data_.contains("last_chat") || !data_["last_chat"].is_number_integer()) return std::nullopt;
  return data_["last_chat"].get<int64_t>();
}

void BotState::set_last_chat(int64_t chat_id) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (data_.value("last_chat", int64_t{0}) == chat_id) return;
  data_["last_chat"] = chat_id;
  save();
}

std::vector<BotState::QueuedTurn> BotState::queued_turns() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<QueuedTurn> out;
  if (data_.contains("queued_turns") && data_["queued_turns"].is_array())
    for (const auto& t : data_["queued_turns"])
      out.push_back({t.value("memory_id", ""), t.value("chat_id", int64_t{0}), t.value("user", "")});
  return out;
}

void BotState::add_queued_turn(const QueuedTurn& turn) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!data_.contains("queued_turns") || !data_["queued_turns"].is_array()) data_["queued_turns"] = nlohmann::json::array();
  data_["queued_turns"].push_back({{"memory_id", turn.memory_id}, {"chat_id", turn.chat_id}, {"user", turn.user}});
  save();
}

void BotState::remove_queued_turn(const std::string& memory_id) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!data_.contains("queued_turns") || !data_["queued_turns"].is_array()) return;
  auto& turns = data_["queued_turns"];
  for (auto it = turns.begin(); it != turns.end();) {
    if (it->value("memory_id", "") == memory_id) it = turns.erase(it);
    else ++it;
  }
  save();
}

std::string BotState::warned_session() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return data_.value("warned_session", std::string());
}

void BotState::set_warned_session(const std::string& session_id) {
  std::lock_guard<std::mutex> lock(mutex_);
  data_["warned_session"] = session_id;
  save();
}

std::optional<int64_t> BotState::last_chat_of(const std::string& user) const {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!data_.contains("last_chats") || !data_["last_chats"].is_object()) return std::nullopt;
  const auto& chats = data_["last_chats"];
  if (!chats.contains(user) || !chats[user].is_number_integer()) return std::nullopt;
  return chats[user].get<int64_t>();
}

void BotState::set_last_chat_of(const std::string& user, int64_t chat_id) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!data_.contains("last_chats") || !data_["last_chats"].is_object()) data_["last_chats"] = nlohmann::json::object();
  if (data_["last_chats"].value(user, int64_t{0}) == chat_id) return;
  data_["last_chats"][user] = chat_id;
  save();
}

std::string BotState::warned_session_of(const std::string& user) const {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!data_.contains("warned_sessions") || !data_["warned_sessions"].is_object()) return "";
  return data_["warned_sessions"].value(user, std::string());
}

void BotState::set_warned_session_of(const std::string& user, const std::string& session_id) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!data_.contains("warned_sessions") || !data_["warned_sessions"].is_object())
    data_["warned_sessions"] = nlohmann::json::object();
  data_["warned_sessions"][user] = session_id;
  save();
}

}  // namespace kioku::telegram
