#include "bots/telegram/bot_api.h"

#include <algorithm>

#include "core/error.h"
#include "net/http_client.h"

namespace kioku::telegram {

namespace {

// Telegram answers {"ok":false,"error_code":429,"parameters":{"retry_after":N}}
// when a bot sends too fast.
std::optional<double> retry_after_in_body(const net::Response& r) {
  auto reply = nlohmann::json::parse(r.body, nullptr, false);
  if (reply.is_object() && reply.contains("parameters") && reply["parameters"].is_object() &&
      reply["parameters"].contains("retry_after") && reply["parameters"]["retry_after"].is_number())
    return reply["parameters"]["retry_after"].get<double>();
  return std::nullopt;
}

net::ClientOptions client_options(const BotApiConfig& config) {
  net::ClientOptions o;
  o.base_url = config.base_url;
  o.service = {"Telegram", "bot token", {config.token}};
  o.connect_timeout_s = config.connect_timeout_s;
  o.read_timeout_s = config.send_timeout_s;
  o.keep_alive = true;
  o.retry.max_attempts = std::max(1, config.send_attempts);
  o.retry.initial_backoff_s = config.retry_backoff_s;
  o.retry_after_hint = retry_after_in_body;
  return o;
}

}  // namespace

struct BotApi::Clients {
  explicit Clients(const BotApiConfig& config)
      : poll(client_options(config)), send(client_options(config)), files(client_options(config)) {}
  net::HttpClient poll;   // getUpdates only: cancel_poll() interrupts it
  net::HttpClient send;   // every other method
  net::HttpClient files;  // downloads: a large one must not hold up replies

  // The result of a Bot API reply, or the Error it stands for.
  static nlohmann::json result_of(const net::HttpClient& http, const std::string& method, const net::Response& r) {
    auto reply = nlohmann::json::parse(r.body, nullptr, false);
    if (r.ok()) {
      if (reply.is_object() && reply.value("ok", false) && reply.contains("result")) return reply["result"];
      throw http.protocol_error("malformed reply", method);
    }
    // A 403 is about one chat (e.g. "Forbidden: bot was blocked by the
    // user"), not the token: the request is refused, the bot works on.
    if (r.outcome == net::Outcome::kAuth && r.status == 403)
      throw invalid_input(http.redact("Telegram " + method + ": " + net::error_detail(r.body)));
    throw http.error_for(r, method);
  }
};

BotApi::BotApi(BotApiConfig config) : config_(std::move(config)) {
  if (config_.token.empty()) throw invalid_input("the Telegram bot token is empty (set TELEGRAM_BOT_TOKEN)");
  clients_ = std::make_unique<Clients>(config_);
  prefix_ = "/bot" + config_.token;
}

BotApi::~BotApi() = default;

std::string BotApi::redact(std::string text) const { return net::redact(std::move(text), {config_.token}); }

nlohmann::json BotApi::call(const std::string& method, const nlohmann::json& params) {
  net::Request r;
  r.method = "POST";
  r.path = prefix_ + "/" + method;
  r.body = params.dump();
  r.content_type = "application/json";
  return Clients::result_of(clients_->send, method, clients_->send.send(r));
}

std::vector<nlohmann::json> BotApi::get_updates(int64_t offset, int timeout_s) {
  nlohmann::json params = {{"offset", offset}, {"timeout", timeout_s}, {"allowed_updates", {"message"}}};
  net::Request r;
  r.method = "POST";
  r.path = prefix_ + "/getUpdates";
  r.body = params.dump();
  r.content_type = "application/json";
  // The server holds the request up to timeout_s: read a little longer. The
  // bot's poll loop has its own backoff, so no retries here.
  r.read_timeout_s = timeout_s + 15.0;
  r.retry = net::RetryPolicy::never();
  auto result = Clients::result_of(clients_->poll, "getUpdates", clients_->poll.send(r));
  if (!result.is_array()) throw clients_->poll.protocol_error("malformed reply", "getUpdates");
  std::vector<nlohmann::json> updates(result.begin(), result.end());
  std::sort(updates.begin(), updates.end(), [](const nlohmann::json& a, const nlohmann::json& b) {
    return a.value("update_id", int64_t{0}) < b.value("update_id", int64_t{0});
  });
  return updates;
}

void BotApi::cancel_poll() { clients_->poll.cancel(); }

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
  net::Request r;
  r.method = "POST";
  r.path = prefix_ + "/sendVoice";
  r.parts = {
      {"chat_id", std::to_string(chat_id), "", ""},
      {"voice", ogg_opus, "voice.ogg", "audio/ogg"},
  };
  if (!caption.empty()) r.parts.push_back({"caption", caption, "", ""});
  auto result = Clients::result_of(clients_->send, "sendVoice", clients_->send.send(r));
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
  net::Request r;
  r.path = "/file/bot" + config_.token + "/" + path;
  r.on_body = [&](std::string_view data) {
    if (bytes.size() + data.size() > max_bytes) {
      too_big = true;
      return false;
    }
    bytes.append(data);
    return true;
  };
  const net::Response res = clients_->files.send(r);
  if (too_big) throw too_large("the file is larger than " + std::to_string(max_bytes >> 20) + " MB");
  if (!res.ok()) throw clients_->files.error_for(res, "file download");
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
