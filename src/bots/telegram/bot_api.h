// A small client for the Telegram Bot API (https://core.telegram.org/bots/api):
// only the methods the companion bot uses.
//
// Every method is `POST {base}/bot<token>/<method>`; files come from
// `GET {base}/file/bot<token>/<file_path>`. The token is part of every URL,
// so no URL ever reaches an error message or a log line: errors name the
// method and Telegram's description, with the token redacted in case the
// server echoes it.
//
// Errors (net::HttpClient's mapping): kioku::Error — kUnavailable when
// Telegram cannot be reached, times out, answers 429 or 5xx (sends are
// retried first, honouring retry_after); kAuthFailed for a refused token
// (401); kInvalidInput when it refuses the request (other 4xx, e.g.
// unparsable MarkdownV2, or 403 "bot was blocked by the user"); kNotFound
// for 404; kTooLarge for downloads over the limit.
// Thread safety: poll() may run on one thread while the send methods run on
// others; the send methods share one keep-alive connection, one request at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace kioku::telegram {

enum class ParseMode { kPlain, kMarkdownV2 };

struct BotApiConfig {
  std::string token;                               // secret: never logged
  std::string base_url = "https://api.telegram.org";
  double connect_timeout_s = 10;
  double send_timeout_s = 60;                      // sends, uploads, downloads
  int send_attempts = 3;                           // on 429 / 5xx / network errors
  double retry_backoff_s = 1;                      // first retry delay, doubled each time
};

class BotApi {
 public:
  explicit BotApi(BotApiConfig config);
  ~BotApi();
  BotApi(const BotApi&) = delete;
  BotApi& operator=(const BotApi&) = delete;

  // getUpdates long polling: waits up to timeout_s for updates with
  // update_id >= offset and returns them raw (oldest first). Calling it with
  // offset = last id + 1 is what confirms earlier updates to Telegram.
  std::vector<nlohmann::json> get_updates(int64_t offset, int timeout_s);
  // Interrupts a get_updates() in progress (it then throws kUnavailable).
  void cancel_poll();

  // Returns the new message's id. `text` must already fit one message (see
  // split_message) and, for kMarkdownV2, be escaped (escape_markdown_v2).
  int64_t send_message(int64_t chat_id, const std::string& text, ParseMode mode = ParseMode::kPlain);
  // "typing", "upload_voice", "upload_photo", ... shown for ~5 s.
  void send_chat_action(int64_t chat_id, const std::string& action);
  // A voice note: OGG/Opus bytes, uploaded as multipart/form-data.
  int64_t send_voice(int64_t chat_id, const std::string& ogg_opus, const std::string& caption = "");
  // getFile, then the download. Throws kTooLarge beyond max_bytes (Telegram's
  // own limit for bots is 20 MB).
  std::string download_file(const std::string& file_id, size_t max_bytes = 20u << 20);

  // Replaces the token in text by "***" (for anything derived from a reply).
  std::string redact(std::string text) const;

 private:
  nlohmann::json call(const std::string& method, const nlohmann::json& params);

  struct Clients;  // the net::HttpClients (bot_api.cpp)
  BotApiConfig config_;
  std::string prefix_;  // "/bot<token>", after the base URL's path
  std::unique_ptr<Clients> clients_;
};

// Escapes every character MarkdownV2 reserves (_*[]()~`>#+-=|{}.! and \)
// so that text shows literally.
std::string escape_markdown_v2(std::string_view text);

// Telegram's limit for one message's text, in UTF-16 code units.
inline constexpr size_t kMaxMessageLength = 4096;

// Splits text into messages of at most max_units UTF-16 code units, cutting
// at a paragraph break if one is in the second half of a chunk, else a line
// break, else a space, else anywhere between UTF-8 characters. Empty text
// gives no messages.
std::vector<std::string> split_message(std::string_view text, size_t max_units = kMaxMessageLength);

// Length of UTF-8 text in UTF-16 code units (how Telegram counts).
size_t utf16_length(std::string_view text);

}  // namespace kioku::telegram
