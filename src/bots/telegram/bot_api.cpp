#include "bots/telegram/bot_api.h"

#include <httplib.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "core/error.h"
#include "core/url.h"

namespace kioku::telegram {

namespace {

void set_timeouts(httplib::Client& client, double connect_s, double read_s) {
  const auto split = [](double s) {
    return std::make_pair(static_cast<time_t>(s), static_cast<time_t>((s - static_cast<time_t>(s)) * 1e6));
  };
  auto [cs, cus] = split(connect_s);
  auto [rs, rus] = split(read_s);
  client.set_connection_timeout(cs, cus);
  client.set_read_timeout(rs, rus);
  client.set_write_timeout(rs, rus);
}

// Telegram answers {"ok":false,"error_code":429,"parameters":{"retry_after":N}}
// when a bot sends too fast.
double retry_after_s(const nlohmann::json& reply) {
  if (reply.is_object() && reply.contains("parameters") && reply["parameters"].is_object())
    return reply["parameters"].value("retry_after", 0.0);
  return 0;
}

}  // namespace

struct BotApi::Clients {
  Clients(const std::string& origin) : origin(origin), poll(origin), send(origin) {}
  std::string origin;
  httplib::Client poll;
  std::mutex send_mutex;
  httplib::Client send;
};

BotApi::BotApi(BotApiConfig config) : config_(std::move(config)) {
  if (config_.token.empty()) throw invalid_input("the Telegram bot token is empty (set TELEGRAM_BOT_TOKEN)");
  const BaseUrl base = parse_base_url(config_.base_url);
  prefix_ = base.path + "/bot" + config_.token;
  clients_ = std::make_unique<Clients>(base.origin());
  clients_->poll.set_keep_alive(true);
  clients_->send.set_keep_alive(true);
  set_timeouts(clients_->send, config_.connect_timeout_s, config_.send_timeout_s);
}

BotApi::~BotApi() = default;

std::string BotApi::redact(std::string text) const {
  for (size_t p; !config_.token.empty() && (p = text.find(config_.token)) != std::string::npos;)
    text.replace(p, config_.token.size(), "***");
  return text;
}

nlohmann::json BotApi::result_of(const std::string& method, int status, const std::string& body) {
  auto reply = nlohmann::json::parse(body, nullptr, false);
  if (status == 200 && reply.is_object() && reply.value("ok", false) && reply.contains("result")) return reply["result"];
  std::string detail = reply.is_object() ? reply.value("description", std::string()) : std::string();
  if (detail.empty()) detail = status == 200 ? "malformed reply" : "HTTP " + std::to_string(status);
  if (detail.size() > 300) detail = detail.substr(0, 300) + "...";
  detail = redact("Telegram " + method + ": " + detail);
  if (status == 429 || status >= 500 || status == 200) {
    Error e = unavailable(detail);
    throw e;
  }
  throw invalid_input(detail);
}

template <typename PostFn>
nlohmann::json BotApi::send_with_retries(const std::string& method, PostFn post) {
  double delay = config_.retry_backoff_s;
  std::string last_error;
  for (int attempt = 0; attempt < std::max(1, config_.send_attempts); ++attempt) {
    if (attempt > 0) std::this_thread::sleep_for(std::chrono::duration<double>(delay)), delay *= 2;
    httplib::Result res = [&] {
      std::lock_guard<std::mutex> lock(clients_->send_mutex);
      return post(clients_->send);
    }();
    if (!res) {
      last_error = "Telegram " + method + ": cannot reach the Bot API (" + httplib::to_string(res.error()) + ")";
      continue;
    }
    if (res->status == 429 || res->status >= 500) {
      auto reply = nlohmann::json::parse(res->body, nullptr, false);
      delay = std::max(delay, std::min(30.0, retry_after_s(reply)));
      last_error = "Telegram " + method + ": HTTP " + std::to_string(res->status);
      continue;
    }
    return result_of(method, res->status, res->body);
  }
  throw unavailable(redact(last_error));
}

nlohmann::json BotApi::call(const std::string& method, const nlohmann::json& params) {
  const std::string body = params.dump();
  return send_with_retries(method, [&](httplib::Client& client) {
    return client.Post(prefix_ + "/" + method, body, "application/json");
  });
}

std::vector<nlohmann::json> BotApi::get_updates(int64_t offset, int timeout_s) {
  nlohmann::json params = {{"offset", offset}, {"timeout", timeout_s}, {"allowed_updates", {"message"}}};
  // The server holds the request up to timeout_s: read a little longer.
  set_timeouts(clients_->poll, config_.connect_timeout_s, timeout_s + 15.0);
  auto res = clients_->poll.Post(prefix_ + "/getUpdates", params.dump(), "application/json");
  if (!res) throw unavailable("Telegram getUpdates: cannot reach the Bot API (" + httplib::to_string(res.error()) + ")");
  auto result = result_of("getUpdates", res->status, res->body);
  if (!result.is_array()) throw unavailable("Telegram getUpdates: malformed reply");
  std::vector<nlohmann::json> updates(result.begin(), result.end());
  std::sort(updates.begin(), updates.end(), [](const nlohmann::json& a, const nlohmann::json& b) {
    return a.value("update_id", int64_t{0}) < b.value("update_id", int64_t{0});
  });
  return updates;
}

void BotApi::cancel_poll() { clients_->poll.stop(); }

int64_t BotApi::send_message(int64_t chat_id, const std::string& text, ParseMode mode) {
  nlohmann::json params = {{"chat_id", chat_id}, {"text", text}};
  if (mode == ParseMode::kMarkdownV2) params["parse_mode"] = "MarkdownV2";
  auto result = call("sendMessage", params);
  return result.is_object() ? result.value("message_id", int64_t{0}) : 0;
}

void BotApi::send_chat_action(int64_t chat_id, const std::string& action) {
  call("sendChatAction", {{"chat_id", chat_id}, {"action", action}});
}

int64_t BotApi::send_voice(int64_t chat_id, const std::string& ogg_opus, const std::string& caption) {
  httplib::MultipartFormDataItems items = {
      {"chat_id", std::to_string(chat_id), "", ""},
      {"voice", ogg_opus, "voice.ogg", "audio/ogg"},
  };
  if (!caption.empty()) items.push_back({"caption", caption, "", ""});
  auto result = send_with_retries("sendVoice", [&](httplib::Client& client) {
    return client.Post(prefix_ + "/sendVoice", items);
  });
  return result.is_object() ? result.value("message_id", int64_t{0}) : 0;
}

std::string BotApi::download_file(const std::string& file_id, size_t max_bytes) {
  auto file = call("getFile", {{"file_id", file_id}});
  const std::string path = file.is_object() ? file.value("file_path", std::string()) : std::string();
  if (path.empty()) throw unavailable("Telegram getFile: no file_path in the reply");
  if (file.value("file_size", int64_t{0}) > static_cast<int64_t>(max_bytes))
    throw too_large("the file is larger than " + std::to_string(max_bytes >> 20) + " MB");
  std::string bytes;
  bool too_big = false;
  // Its own connection: a large download must not hold up replies.
  httplib::Client client(clients_->origin);
  set_timeouts(client, config_.connect_timeout_s, config_.send_timeout_s);
  const std::string base_path = prefix_.substr(0, prefix_.rfind("/bot"));
  httplib::Result res = client.Get(base_path + "/file/bot" + config_.token + "/" + path,
                                   [&](const char* data, size_t len) {
                                     if (bytes.size() + len > max_bytes) {
                                       too_big = true;
                                       return false;
                                     }
                                     bytes.append(data, len);
                                     return true;
                                   });
  if (too_big) throw too_large("the file is larger than " + std::to_string(max_bytes >> 20) + " MB");
  if (!res) throw unavailable("Telegram file download: cannot reach the Bot API (" + httplib::to_string(res.error()) + ")");
  if (res->status != 200) {
    Error e = res->status >= 500 ? unavailable("Telegram file download: HTTP " + std::to_string(res->status))
                                 : invalid_input("Telegram file download: HTTP " + std::to_string(res->status));
    throw e;
  }
  return bytes;
}

std::string escape_markdown_v2(std::string_view text) {
  static constexpr std::string_view kReserved = "_*[]()~`>#+-=|{}.!\\";
  std::string out;
  out.reserve(text.size() + text.size() / 8);
  for (char c : text) {
    if (kReserved.find(c) != std::string_view::npos) out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

namespace {

size_t utf8_sequence_length(unsigned char lead) {
  if (lead < 0x80) return 1;
  if ((lead >> 5) == 0x6) return 2;
  if ((lead >> 4) == 0xE) return 3;
  if ((lead >> 3) == 0x1E) return 4;
  return 1;  // a stray continuation byte: count it alone
}

}  // namespace

size_t utf16_length(std::string_view text) {
  size_t units = 0;
  for (size_t i = 0; i < text.size();) {
    const size_t n = utf8_sequence_length(static_cast<unsigned char>(text[i]));
    units += n == 4 ? 2 : 1;  // characters beyond the BMP take a surrogate pair
    i += n;
  }
  return units;
}

std::vector<std::string> split_message(std::string_view text, size_t max_units) {
  std::vector<std::string> parts;
  while (!text.empty()) {
    // The longest prefix within the limit, cut between UTF-8 characters.
    size_t units = 0, fit = 0;
    while (fit < text.size()) {
      const size_t n = std::min(utf8_sequence_length(static_cast<unsigned char>(text[fit])), text.size() - fit);
      const size_t u = n == 4 ? 2 : 1;
      if (units + u > max_units) break;
      units += u;
      fit += n;
    }
    if (fit == text.size()) {
      while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
      if (!text.empty()) parts.emplace_back(text);
      break;
    }
    // Prefer a natural break, but not so early that messages become tiny.
    const std::string_view head = text.substr(0, fit);
    size_t cut = std::string_view::npos;
    for (std::string_view sep : {"\n\n", "\n", " "}) {
      const size_t at = head.rfind(sep);
      if (at != std::string_view::npos && at >= fit / 2) {
        cut = at;
        break;
      }
    }
    std::string_view piece = cut == std::string_view::npos ? head : head.substr(0, cut);
    size_t next = cut == std::string_view::npos ? fit : cut;
    while (next < text.size() && (text[next] == '\n' || text[next] == ' ')) ++next;
    while (!piece.empty() && (piece.back() == '\n' || piece.back() == ' ')) piece.remove_suffix(1);
    if (!piece.empty()) parts.emplace_back(piece);
    text.remove_prefix(next);
  }
  return parts;
}

}  // namespace kioku::telegram
