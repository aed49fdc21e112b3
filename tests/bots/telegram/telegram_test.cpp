// The Telegram bot against a loopback server that speaks the Bot API: whole
// conversations, restarts and replays, with the fake LLM behind the companion.
#include <gtest/gtest.h>
#include <opus/opusfile.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>

#include "app/app_context.h"
#include "app/engine.h"
#include "bots/telegram/bot_api.h"
#include "bots/telegram/telegram_bot.h"
#include "core/error.h"
#include "llm/fake_llm_server.h"
#include "testing/images.h"
#include "testing/loopback_server.h"
#include "testing/run_binary.h"
#include "testing/background_process.h"
#include "testing/run_binary.h"
#include "testing/real_model.h"
#include "testing/temp_dir.h"

namespace kioku::telegram {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

constexpr const char* kToken = "123456:TEST-secret-token";
constexpr int64_t kAlice = 1001;    // allowed
constexpr int64_t kMallory = 6666;  // not allowed

// MarkdownV2 as Telegram checks it, for the subset the bot uses (escapes,
// *bold*, _italic_): returns the shown text, or nullopt where Telegram would
// answer "can't parse entities".
std::optional<std::string> render_markdown_v2(const std::string& text) {
  static const std::string reserved = "[]()~`>#+-=|{}.!";
  std::string out;
  bool bold = false, italic = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\\') {
      if (i + 1 >= text.size()) return std::nullopt;
      out.push_back(text[++i]);
    } else if (c == '*') {
      bold = !bold;
    } else if (c == '_') {
      italic = !italic;
    } else if (reserved.find(c) != std::string::npos) {
      return std::nullopt;
    } else {
      out.push_back(c);
    }
  }
  if (bold || italic) return std::nullopt;
  return out;
}

// A loopback Bot API: scripted updates go out through getUpdates (with
// Telegram's offset semantics), everything the bot sends is recorded.
class FakeBotApi {
 public:
  struct Sent {
    std::string method;
    int64_t chat_id = 0;
    std::string text;  // as shown (MarkdownV2 rendered)
    std::string raw;   // as sent
    std::string voice;  // sendVoice bytes
  };

  FakeBotApi() : server_([this](httplib::Server& s) { routes(s); }) {}

  std::string url() const { return server_.url(); }

  int64_t push(json message) {
    std::lock_guard<std::mutex> lock(mutex_);
    const int64_t id = next_update_id_++;
    message["message_id"] = id * 10;
    message["date"] = static_cast<int64_t>(std::time(nullptr));
    updates_.push_back({{"update_id", id}, {"message", message}});
    history_.push_back(updates_.back());
    cv_.notify_all();
    return id;
  }
  static json base(int64_t user) {
    return {{"from", {{"id", user}, {"is_bot", false}, {"first_name", "U"}}}, {"chat", {{"id", user}, {"type", "private"}}}};
  }
  int64_t push_text(int64_t user, const std::string& text) {
    json m = base(user);
    m["text"] = text;
    return push(m);
  }
  int64_t push_photo(int64_t user, const std::string& bytes, const std::string& caption = "") {
    const std::string id = add_file("photos/p" + std::to_string(files_.size()) + ".png", bytes);
    json m = base(user);
    // Telegram lists several sizes; the bot must take the largest.
    m["photo"] = json::array({{{"file_id", "thumb"}, {"width", 90}, {"height", 60}},
                              {{"file_id", id}, {"width", 3000}, {"height", 2000}},
                              {{"file_id", "medium"}, {"width", 800}, {"height", 533}}});
    if (!caption.empty()) m["caption"] = caption;
    return push(m);
  }
  int64_t push_voice(int64_t user, const std::string& ogg) {
    const std::string id = add_file("voice/v" + std::to_string(files_.size()) + ".oga", ogg);
    json m = base(user);
    m["voice"] = {{"file_id", id}, {"duration", 1}, {"mime_type", "audio/ogg"}};
    return push(m);
  }

  std::vector<Sent> sent() {
    std::lock_guard<std::mutex> lock(mutex_);
    return sent_;
  }
  // An update as it was served (to replay it, as a crash would).
  json update(int64_t update_id) {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& u : history_)
      if (u["update_id"] == update_id) return u;
    return json();
  }
  std::vector<std::string> texts(int64_t chat) {
    std::vector<std::string> out;
    for (const auto& s : sent())
      if (s.method == "sendMessage" && s.chat_id == chat) out.push_back(s.text);
    return out;
  }
  int count_exact(int64_t chat, const std::string& text) {
    int n = 0;
    for (const auto& t : texts(chat)) n += t == text;
    return n;
  }
  int count_text(int64_t chat, const std::string& needle) {
    int n = 0;
    for (const auto& t : texts(chat)) n += t.find(needle) != std::string::npos;
    return n;
  }
  // Every update id that went out, as often as it went out.
  std::vector<int64_t> delivered() {
    std::lock_guard<std::mutex> lock(mutex_);
    return delivered_;
  }
  std::atomic<int> bad_markdown{0};  // MarkdownV2 messages Telegram would refuse

 private:
  std::string add_file(const std::string& path, const std::string& bytes) {
    std::lock_guard<std::mutex> lock(mutex_);
    const std::string id = "file" + std::to_string(files_.size());
    files_[id] = {path, bytes};
    return id;
  }

  static json ok(json result) { return {{"ok", true}, {"result", std::move(result)}}; }

  void routes(httplib::Server& s) {
    const std::string bot = std::string("/bot") + kToken;
    s.Post(bot + "/getUpdates", [this](const httplib::Request& req, httplib::Response& res) {
      const json p = json::parse(req.body);
      const int64_t offset = p.value("offset", int64_t{0});
      const int timeout = std::min(p.value("timeout", 0), 2);
      std::unique_lock<std::mutex> lock(mutex_);
      // Telegram forgets updates below the offset: they were confirmed.
      while (!updates_.empty() && updates_.front()["update_id"].get<int64_t>() < offset) updates_.pop_front();
      cv_.wait_for(lock, std::chrono::seconds(timeout), [&] { return !updates_.empty(); });
      json result = json::array();
      for (const auto& u : updates_) {
        result.push_back(u);
        delivered_.push_back(u["update_id"]);
      }
      res.set_content(ok(result).dump(), "application/json");
    });
    s.Post(bot + "/sendMessage", [this](const httplib::Request& req, httplib::Response& res) {
      const json p = json::parse(req.body);
      Sent sent{"sendMessage", p.value("chat_id", int64_t{0}), p.value("text", ""), p.value("text", ""), ""};
      if (p.value("parse_mode", "") == "MarkdownV2") {
        auto shown = render_markdown_v2(sent.raw);
        if (!shown) {
          ++bad_markdown;
          res.status = 400;
          res.set_content(R"({"ok":false,"error_code":400,"description":"Bad Request: can't parse entities"})", "application/json");
          return;
        }
        sent.text = *shown;
      }
      if (sent.text.empty() || render_length(sent.text) > 4096) {
        res.status = 400;
        res.set_content(R"({"ok":false,"error_code":400,"description":"Bad Request: message is too long"})", "application/json");
        return;
      }
      std::lock_guard<std::mutex> lock(mutex_);
      sent_.push_back(sent);
      res.set_content(ok({{"message_id", static_cast<int64_t>(sent_.size())}}).dump(), "application/json");
    });
    s.Post(bot + "/sendChatAction", [this](const httplib::Request& req, httplib::Response& res) {
      const json p = json::parse(req.body);
      std::lock_guard<std::mutex> lock(mutex_);
      sent_.push_back({"sendChatAction", p.value("chat_id", int64_t{0}), p.value("action", ""), "", ""});
      res.set_content(ok(true).dump(), "application/json");
    });
    s.Post(bot + "/sendVoice", [this](const httplib::Request& req, httplib::Response& res) {
      if (!req.has_file("voice") || !req.has_file("chat_id")) {
        res.status = 400;
        res.set_content(R"({"ok":false,"description":"Bad Request: no voice"})", "application/json");
        return;
      }
      std::lock_guard<std::mutex> lock(mutex_);
      sent_.push_back({"sendVoice", std::stoll(req.get_file_value("chat_id").content), "", "",
                       req.get_file_value("voice").content});
      res.set_content(ok({{"message_id", static_cast<int64_t>(sent_.size())}}).dump(), "application/json");
    });
    s.Post(bot + "/getFile", [this](const httplib::Request& req, httplib::Response& res) {
      const json p = json::parse(req.body);
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = files_.find(p.value("file_id", ""));
      if (it == files_.end()) {
        res.status = 400;
        res.set_content(R"({"ok":false,"description":"Bad Request: invalid file_id"})", "application/json");
        return;
      }
      res.set_content(ok({{"file_id", it->first}, {"file_path", it->second.first},
                          {"file_size", it->second.second.size()}}).dump(), "application/json");
    });
    s.Get(R"(/file/bot([^/]+)/(.+))", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (req.matches[1] != kToken) {
        res.status = 401;
        return;
      }
      for (const auto& [id, file] : files_) {
        if (file.first == req.matches[2]) {
          res.set_content(file.second, "application/octet-stream");
          return;
        }
      }
      res.status = 404;
    });
    // Anything else (a wrong token included) is refused like Telegram does.
    s.set_error_handler([](const httplib::Request&, httplib::Response& res) {
      if (res.body.empty()) res.set_content(R"({"ok":false,"error_code":404,"description":"Not Found"})", "application/json");
    });
  }

  static size_t render_length(const std::string& text) { return utf16_length(text); }

  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<json> updates_;
  std::vector<json> history_;  // every update ever pushed
  int64_t next_update_id_ = 500;
  std::vector<Sent> sent_;
  std::vector<int64_t> delivered_;
  std::map<std::string, std::pair<std::string, std::string>> files_;  // id -> (path, bytes)
  testing::LoopbackServer server_;
};

// A loopback PDS: createSession and createRecord, failing on demand.
class FakePds {
 public:
  FakePds() : server_([this](httplib::Server& s) { routes(s); }) {}
  std::string url() const { return server_.url(); }
  std::atomic<bool> failing{false};
  std::vector<std::string> posts() {
    std::lock_guard<std::mutex> lock(mutex_);
    return posts_;
  }

 private:
  void routes(httplib::Server& s) {
    s.Post("/xrpc/com.atproto.server.createSession", [this](const httplib::Request&, httplib::Response& res) {
      if (failing) return fail(res);
      res.set_content(R"({"accessJwt":"a","refreshJwt":"r","did":"did:plc:test","handle":"alice.test"})", "application/json");
    });
    s.Post("/xrpc/com.atproto.repo.createRecord", [this](const httplib::Request& req, httplib::Response& res) {
      if (failing) return fail(res);
      const json p = json::parse(req.body);
      std::lock_guard<std::mutex> lock(mutex_);
      posts_.push_back(p["record"].value("text", ""));
      res.set_content(json{{"uri", "at://did:plc:test/app.bsky.feed.post/" + p.value("rkey", "x")}, {"cid", "c"}}.dump(),
                      "application/json");
    });
  }
  static void fail(httplib::Response& res) {
    res.status = 500;
    res.set_content(R"({"error":"InternalServerError","message":"down"})", "application/json");
  }
  std::mutex mutex_;
  std::vector<std::string> posts_;
  testing::LoopbackServer server_;
};

// A loopback /v1/audio/transcriptions server.
class FakeTranscriber {
 public:
  FakeTranscriber() : server_([](httplib::Server& s) {
    s.Post("/v1/audio/transcriptions", [](const httplib::Request& req, httplib::Response& res) {
      res.set_content(req.has_file("file") ? R"({"text":" where does Hana live? "})" : R"({"error":"no file"})",
                      "application/json");
    });
  }) {}
  std::string url() const { return server_.url("/v1"); }

 private:
  testing::LoopbackServer server_;
};

std::string message_text(const json& message) {
  const auto& c = message["content"];
  if (c.is_string()) return c.get<std::string>();
  std::string out;
  if (c.is_array())
    for (const auto& part : c)
      if (part.value("type", "") == "text") out += part.value("text", "");
  return out;
}

// The fake model: describes photos, compiles journals, and answers chat from
// what the prompt holds.
std::string model_reply(const json& request) {
  const std::string all = request.dump();
  if (all.find("image_url") != std::string::npos) return "A grey heron standing in the canal.";
  std::string system;
  for (const auto& m : request["messages"])
    if (m.value("role", "") == "system") system += message_text(m);
  if (system.find("journal article") != std::string::npos) {
    const std::string notes = message_text(request["messages"].back());
    return json{{"title", "Canal morning"}, {"article", "Today:\n\n" + notes}, {"tags", {"walk"}}}.dump();
  }
  if (system.find("remembering") != std::string::npos) return R"({"memories": []})";
  const std::string question = message_text(request["messages"].back());
  if (question.find("long answer") != std::string::npos) {
    std::string text;
    for (int i = 0; i < 60; ++i) text += "Paragraph " + std::to_string(i) + ": " + std::string(140, 'x') + "\n\n";
    return text;
  }
  if (question.find("dog") != std::string::npos)
    return all.find("Mochi") != std::string::npos ? "Yes: Mochi, your puppy." : "I don't know of a dog.";
  if (question.find("Hana") != std::string::npos)
    return all.find("Osaka") != std::string::npos ? "Hana lives in Osaka." : "I don't know where Hana lives.";
  return "Nice to hear from you!";
}

template <typename Pred>
bool wait_until(Pred pred, std::chrono::milliseconds limit = 15s) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return pred();
}

class TelegramBotTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::ofstream(dir_ / "config.toml") << "[llm]\nvision = true\n";
    env_ = {{"KIOKU_LLM_PROVIDER", "openai"},   {"KIOKU_LLM_URL", llm_.url()},
            {"KIOKU_LLM_MODEL", "test-model"},  {"KIOKU_LLM_MAX_RETRIES", "0"},
            {"KIOKU_EMBED_PROVIDER", "none"},   {"TELEGRAM_BOT_TOKEN", kToken},
            {"KIOKU_TELEGRAM_API_URL", api_.url()}, {"KIOKU_TELEGRAM_ALLOWED_USERS", std::to_string(kAlice)}};
  }

  EnvLookup env() {
    auto copy = env_;
    return [copy](const std::string& name) -> std::optional<std::string> {
      auto it = copy.find(name);
      if (it == copy.end()) return std::nullopt;
      return it->second;
    };
  }

  TelegramBotOptions options() {
    TelegramBotOptions o;
    o.data_dir = dir_.path();
    o.env = env();
    o.poll_timeout_s = 1;
    o.error_backoff = 50ms;
    o.send_backoff_s = 0.05;
    o.log = [this](std::string_view line) {
      std::lock_guard<std::mutex> lock(log_mutex_);
      log_ += std::string(line) + "\n";
    };
    return o;
  }

  void start(TelegramBotOptions o) {
    const Config config = Config::empty(env());
    bot_ = std::make_unique<TelegramBot>(load_telegram_settings(config), std::move(o));
    thread_ = std::thread([this] { bot_->run(); });
  }
  void start() { start(options()); }
  void stop() {
    if (!bot_) return;
    bot_->stop();
    thread_.join();
    bot_.reset();
  }
  void TearDown() override { stop(); }

  std::string log() {
    std::lock_guard<std::mutex> lock(log_mutex_);
    return log_;
  }
  AppContext context() { return AppContext(dir_.path(), "", env()); }

  // Sends text and waits until the bot has sent `replies` more messages.
  void say(const std::string& text, size_t replies = 1) {
    const size_t before = api_.texts(kAlice).size();
    api_.push_text(kAlice, text);
    ASSERT_TRUE(wait_until([&] { return api_.texts(kAlice).size() >= before + replies; })) << "no reply to " << text;
  }
  std::string last() { return api_.texts(kAlice).empty() ? "" : api_.texts(kAlice).back(); }

  testing::TempDir dir_;
  testing::FakeLlmServer llm_{model_reply};
  FakeBotApi api_;
  std::map<std::string, std::string> env_;
  std::mutex log_mutex_;
  std::string log_;
  std::unique_ptr<TelegramBot> bot_;
  std::thread thread_;
};

TEST(TelegramText, EscapesEveryMarkdownV2ReservedCharacter) {
  const std::string all = "_*[]()~`>#+-=|{}.!\\";
  const std::string escaped = escape_markdown_v2("a" + all + "b");
  EXPECT_EQ(escaped, "a\\_\\*\\[\\]\\(\\)\\~\\`\\>\\#\\+\\-\\=\\|\\{\\}\\.\\!\\\\b");
  EXPECT_EQ(render_markdown_v2(escaped), "a" + all + "b");
  EXPECT_EQ(render_markdown_v2(escape_markdown_v2("Tea 3.5 (hot)! – ok") ), "Tea 3.5 (hot)! – ok");
}

TEST(TelegramText, SplitsAtParagraphsWithinTheLimit) {
  std::string text;
  for (int i = 0; i < 30; ++i) text += "Paragraph " + std::to_string(i) + " " + std::string(300, 'a') + "\n\n";
  const auto parts = split_message(text);
  ASSERT_GE(parts.size(), 3u);
  std::string joined;
  for (const auto& p : parts) {
    EXPECT_LE(utf16_length(p), kMaxMessageLength);
    EXPECT_EQ(p.rfind("Paragraph ", 0), 0u) << "cut inside a paragraph";
    joined += p + "\n\n";
  }
  EXPECT_TRUE(joined == text) << "text lost or changed in splitting";
  EXPECT_TRUE(split_message(" \n\n ").empty());
}

TEST(TelegramText, SplitsLongWordsBetweenCharactersCountingUtf16) {
  std::string emoji;
  for (int i = 0; i < 3000; ++i) emoji += "\xF0\x9F\x98\x80";  // U+1F600: two UTF-16 units
  const auto parts = split_message(emoji);
  ASSERT_EQ(parts.size(), 2u);
  EXPECT_EQ(utf16_length(parts[0]), 4096u);
  EXPECT_EQ(parts[0].size() % 4, 0u);
  EXPECT_EQ(parts[0] + parts[1], emoji);
  EXPECT_TRUE(split_message("").empty());
  EXPECT_EQ(split_message("short"), std::vector<std::string>{"short"});
}

TEST(TelegramSettingsTest, ReadsEnvironmentAndRefusesBadIds) {
  auto env_of = [](std::map<std::string, std::string> m) -> EnvLookup {
    return [m](const std::string& k) -> std::optional<std::string> {
      auto it = m.find(k);
      return it == m.end() ? std::nullopt : std::optional<std::string>(it->second);
    };
  };
  auto s = load_telegram_settings(Config::empty(env_of({{"TELEGRAM_BOT_TOKEN", "t"},
                                                        {"KIOKU_TELEGRAM_ALLOWED_USERS", " 12, 34 ,"},
                                                        {"KIOKU_TELEGRAM_API_URL", "http://127.0.0.1:9/"}})));
  EXPECT_EQ(s.token, "t");
  EXPECT_EQ(s.api_url, "http://127.0.0.1:9");
  EXPECT_EQ(s.allowed_users, (std::set<int64_t>{12, 34}));
  EXPECT_THROW(load_telegram_settings(Config::empty(env_of({{"KIOKU_TELEGRAM_ALLOWED_USERS", "12,bob"}}))), Error);
  const auto mapped = load_telegram_settings(Config::empty(env_of({{"KIOKU_TELEGRAM_USERS", "12=alice,56=bob"}})));
  EXPECT_EQ(mapped.users, (std::map<int64_t, std::string>{{12, "alice"}, {56, "bob"}}));
  EXPECT_EQ(mapped.allowed_users, (std::set<int64_t>{12, 56})) << "mapped users are allowed";
  EXPECT_THROW(load_telegram_settings(Config::empty(env_of({{"KIOKU_TELEGRAM_USERS", "12"}}))), Error);
  EXPECT_THROW(load_telegram_settings(Config::empty(env_of({{"KIOKU_TELEGRAM_USERS", "12=../x"}}))), Error);

  testing::TempDir dir;
  TelegramBotOptions o;
  o.data_dir = dir.path();
  o.env = env_of({});
  TelegramSettings no_users;
  no_users.token = "t";
  EXPECT_THROW(TelegramBot(no_users, o), Error);
  EXPECT_THROW(TelegramBot(TelegramSettings{}, o), Error);
}

TEST(TelegramApi, ErrorsNeverContainTheToken) {
  BotApiConfig c;
  c.token = kToken;
  c.base_url = "http://127.0.0.1:1";  // nothing listens
  c.send_attempts = 1;
  BotApi api(c);
  try {
    api.send_message(1, "hi");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUnavailable);
    EXPECT_EQ(std::string(e.what()).find("secret"), std::string::npos) << e.what();
  }
  EXPECT_EQ(api.redact(std::string("x ") + kToken + " y"), "x *** y");
}

TEST_F(TelegramBotTest, IgnoresUsersNotOnTheWhitelistAndLogsNoContent) {
  start();
  api_.push_text(kMallory, "secret plans for Mallory");
  api_.push_text(kAlice, "/help");
  ASSERT_TRUE(wait_until([&] { return !api_.texts(kAlice).empty(); }));
  EXPECT_NE(last().find("/journal start"), std::string::npos);
  say("/start");
  for (const auto& s : api_.sent()) EXPECT_NE(s.chat_id, kMallory) << s.method;
  EXPECT_NE(log().find(std::to_string(kMallory)), std::string::npos);
  EXPECT_EQ(log().find("secret plans"), std::string::npos);
  EXPECT_EQ(log().find("TEST-secret"), std::string::npos);
  EXPECT_TRUE(llm_.requests().empty());
  auto ctx = context();
  MemoryFilter f;
  EXPECT_EQ(ctx.memories().count(f), 0);
}

// Issue 14: each whitelisted Telegram user maps to a Kioku user; their
// messages, journals and answers stay theirs.
TEST_F(TelegramBotTest, EachMappedTelegramUserLandsInTheirOwnKiokuUsersMemory) {
  constexpr int64_t kBob = 2002, kCarol = 3003;
  env_["KIOKU_TELEGRAM_USERS"] = std::to_string(kAlice) + "=alice, " + std::to_string(kBob) + "=bob";
  env_["KIOKU_TELEGRAM_ALLOWED_USERS"] = std::to_string(kCarol);  // allowed, not mapped: the bot's own user
  {
    AppContext ctx(dir_.path(), "", env());
    ctx.ensure_initialized();
    Memory m;
    m.user_id = "alice";
    m.content = "My sister Hana lives in Osaka";
    ctx.memories().add(m);
  }
  start();
  auto say_as = [&](int64_t who, const std::string& text) {
    const size_t before = api_.texts(who).size();
    api_.push_text(who, text);
    EXPECT_TRUE(wait_until([&] { return api_.texts(who).size() > before; })) << "no reply to " << text;
    return api_.texts(who).empty() ? std::string() : api_.texts(who).back();
  };
  EXPECT_EQ(say_as(kAlice, "where does Hana live?"), "Hana lives in Osaka.");
  EXPECT_EQ(say_as(kBob, "where does Hana live?"), "I don't know where Hana lives.");
  EXPECT_NE(say_as(kBob, "/journal start").find("Journal mode"), std::string::npos);
  EXPECT_EQ(say_as(kBob, "Bob's quiet evening"), "✓");
  // Bob's journal mode is Bob's: Alice still chats.
  EXPECT_NE(say_as(kAlice, "/status").find("Mode: normal"), std::string::npos);
  EXPECT_EQ(say_as(kAlice, "hello"), "Nice to hear from you!");
  EXPECT_EQ(say_as(kCarol, "hello from carol"), "Nice to hear from you!");
  EXPECT_NE(say_as(kBob, "/status").find("Mode: journal"), std::string::npos);
  say_as(kAlice, "/help");  // the last chat is Alice's: Bob's reminders still go to Bob
  stop();

  AppContext ctx(dir_.path(), "", env());
  auto chats_of = [&](const std::string& user) {
    MemoryFilter f;
    f.user_id = user;
    f.types = {"chat"};
    std::string all;
    for (const auto& m : ctx.memories().list(f, ListOrder::kOldestFirst, 100, 0)) all += m.content + "\n";
    return all;
  };
  EXPECT_NE(chats_of("alice").find("hello"), std::string::npos);
  EXPECT_EQ(chats_of("alice").find("carol"), std::string::npos);
  EXPECT_NE(chats_of("bob").find("where does Hana live?"), std::string::npos);
  EXPECT_NE(chats_of(ctx.user_id()).find("hello from carol"), std::string::npos);
  EXPECT_EQ(chats_of(ctx.user_id()).find("Hana"), std::string::npos);
  auto bobs = ctx.drafts().open_session("bob");
  ASSERT_TRUE(bobs);
  ASSERT_EQ(ctx.drafts().entries(bobs->id).size(), 1u);
  EXPECT_EQ(ctx.drafts().entries(bobs->id)[0].content, "Bob's quiet evening");
  EXPECT_FALSE(ctx.drafts().open_session("alice"));
  EXPECT_FALSE(ctx.drafts().open_session(ctx.user_id()));
  EXPECT_TRUE(ctx.users().get_user("bob")) << "mapped Telegram users become users of the data directory";

  // A restarted bot finds Bob's journal open, and only Bob's.
  start();
  ASSERT_TRUE(wait_until([&] { return api_.count_text(kBob, "journal from") == 1; }));
  EXPECT_EQ(say_as(kBob, "more of Bob's evening"), "✓");
  EXPECT_EQ(say_as(kAlice, "hello again"), "Nice to hear from you!");
  for (const auto& sent : api_.sent()) {
    if (sent.chat_id == kAlice || sent.chat_id == kCarol) EXPECT_EQ(sent.text.find("journal from"), std::string::npos) << sent.text;
  }
}

TEST_F(TelegramBotTest, JournalSessionWithTextAndPhotoCompilesIntoAnArticle) {
  start();
  say("/journal start");
  EXPECT_NE(last().find("Journal mode"), std::string::npos);
  say("Morning walk by the canal");
  EXPECT_EQ(last(), "✓");
  say("/status");
  EXPECT_NE(last().find("Mode: journal"), std::string::npos);
  const size_t before = api_.texts(kAlice).size();
  api_.push_photo(kAlice, testing::make_image(3000, 2000, ".png"), "a heron");
  ASSERT_TRUE(wait_until([&] { return api_.texts(kAlice).size() > before; }));
  EXPECT_EQ(last(), "✓");
  say("/bsky not now");
  EXPECT_NE(last().find("normal mode"), std::string::npos);
  // The description may still be on its way: done waits for it (same worker).
  say("/journal done", 3);
  auto texts = api_.texts(kAlice);
  EXPECT_EQ(texts[texts.size() - 3], "Compiling journal...");
  EXPECT_NE(texts[texts.size() - 2].find("Canal morning"), std::string::npos);
  EXPECT_NE(texts.back().find("Morning walk by the canal"), std::string::npos);
  EXPECT_NE(texts.back().find("grey heron"), std::string::npos);
  EXPECT_EQ(api_.bad_markdown, 0);

  auto ctx = context();
  auto journals = ctx.memories().list_journals(ctx.user_id(), 10);
  ASSERT_EQ(journals.size(), 1u);
  EXPECT_EQ(journals[0].title, "Canal morning");
  EXPECT_EQ(journals[0].source_entry_ids.size(), 2u);
  EXPECT_FALSE(ctx.drafts().open_session(ctx.user_id()));
  MemoryFilter chats;
  chats.types = {"chat"};
  EXPECT_EQ(ctx.memories().count(chats), 0) << "journal input must not become chat turns";
  // The photo was shrunk to at most 2048 px before storing.
  bool found_photo = false;
  for (const auto& e : std::filesystem::directory_iterator(dir_ / "media")) {
    found_photo = e.path().extension() == ".jpg";
    vips::VImage image = vips::VImage::new_from_file(e.path().c_str());
    EXPECT_LE(std::max(image.width(), image.height()), 2048);
  }
  EXPECT_TRUE(found_photo);
  say("hello again");
  EXPECT_EQ(last(), "Nice to hear from you!");
}

TEST_F(TelegramBotTest, ChatTurnIsAnsweredFromMemory) {
  {
    auto ctx = context();
    ctx.ensure_initialized();
    Memory m;
    m.user_id = ctx.user_id();
    m.content = "My sister Hana lives in Osaka";
    ctx.memories().add(m);
  }
  start();
  say("where does Hana live?");
  EXPECT_EQ(last(), "Hana lives in Osaka.");
  bool typing = false;
  for (const auto& s : api_.sent()) typing |= s.method == "sendChatAction" && s.text == "typing";
  EXPECT_TRUE(typing);
  say("/rate 5");
  EXPECT_EQ(last(), "Thanks! Rated 5/5.");
  say("/rate 9");
  EXPECT_EQ(last(), "Usage: /rate <1-5>");
  // A long reply arrives in several messages, each within Telegram's limit.
  const size_t before = api_.texts(kAlice).size();
  api_.push_text(kAlice, "give me a long answer");
  ASSERT_TRUE(wait_until([&] { return api_.count_text(kAlice, "Paragraph 59") == 1; }));
  EXPECT_GE(api_.texts(kAlice).size() - before, 3u);
}

// Issue 10: a memory added after the bot started (by another session of the
// same engine, as the web app does in kioku serve) is found by meaning, with
// the real MiniLM weights: no word of the question is in the memory.
TEST_F(TelegramBotTest, FindsByMeaningAMemoryAddedAfterTheBotStarted) {
  KIOKU_REQUIRE_REAL_MINILM();
  std::filesystem::create_directories(dir_ / "models");
  std::filesystem::create_directory_symlink(testing::real_minilm_dir(), dir_ / "models" / "all-MiniLM-L6-v2");
  env_["KIOKU_EMBED_PROVIDER"] = "local";
  auto engine = Engine::open(EngineOptions{dir_.path(), "", env()});
  TelegramBotOptions o = options();
  o.engine = engine;
  start(o);
  say("do I have a dog?");
  EXPECT_EQ(last(), "I don't know of a dog.");  // the bot's session has its (empty) index now

  {
    auto web = engine->session();
    Memory m;
    m.user_id = web->user_id();
    m.content = "Last week I adopted a little puppy called Mochi";
    m.created_at = system_time().now() - std::chrono::hours(72);  // not in "the last 24 hours"
    web->memories().add(m);
  }
  engine->run_background(std::chrono::seconds(30));  // embeds it (kioku serve's background round)
  say("do I have a dog?");
  EXPECT_EQ(last(), "Yes: Mochi, your puppy.");
}

TEST_F(TelegramBotTest, ChatIsQueuedWhenTheModelIsDownAndAnsweredLater) {
  llm_.down = true;
  start();  // queue retries: at start only (a failed retry would wait 30 s)
  say("are you there?");
  EXPECT_NE(last().find("will be answered"), std::string::npos) << last();
  {
    auto ctx = context();
    EXPECT_EQ(ctx.jobs().count_open(ctx.user_id()), 1);
  }
  stop();
  // The model is back; the restarted bot answers from the queue and sends it.
  llm_.down = false;
  start();
  ASSERT_TRUE(wait_until([&] { return api_.count_exact(kAlice, "Nice to hear from you!") == 1; })) << log();
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(api_.count_exact(kAlice, "Nice to hear from you!"), 1) << "answered once";
  auto ctx = context();
  EXPECT_EQ(ctx.jobs().count_open(ctx.user_id()), 0);
}

TEST_F(TelegramBotTest, BlueskyPostSucceedsFailsAndIsRetried) {
  FakePds pds;
  env_["BLUESKY_HANDLE"] = "alice.test";
  env_["BLUESKY_APP_PASSWORD"] = "app-pass";
  env_["KIOKU_BLUESKY_PDS_URL"] = pds.url();
  auto o = options();
  o.maintenance_every = 300ms;
  start(o);
  say("/bsky First post!");
  EXPECT_NE(last().find("Posted to Bluesky"), std::string::npos) << last();
  pds.failing = true;
  say("/bsky Second post");
  EXPECT_NE(last().find("retry"), std::string::npos) << last();
  EXPECT_EQ(pds.posts().size(), 1u);
  pds.failing = false;
  ASSERT_TRUE(wait_until([&] { return pds.posts().size() == 2; }));
  EXPECT_EQ(pds.posts()[1], "Second post");
  ASSERT_TRUE(wait_until([&] { return api_.count_text(kAlice, "were waiting") == 1; }));
  say("/bsky");
  EXPECT_EQ(last(), "Usage: /bsky <text>");
  auto ctx = context();
  MemoryFilter f;
  f.types = {"bsky_post"};
  EXPECT_EQ(ctx.memories().count(f), 2);
  EXPECT_EQ(log().find("app-pass"), std::string::npos);
}

TEST_F(TelegramBotTest, VoiceRepliesAreOggOpusThatDecodes) {
  start();
  say("/voice");
  EXPECT_NE(last().find("Voice replies on"), std::string::npos);
  api_.push_text(kAlice, "say something");
  std::string ogg;
  ASSERT_TRUE(wait_until([&] {
    for (const auto& s : api_.sent())
      if (s.method == "sendVoice") ogg = s.voice;
    return !ogg.empty();
  }));
  EXPECT_EQ(ogg.substr(0, 4), "OggS");
  int error = 0;
  OggOpusFile* file = op_open_memory(reinterpret_cast<const unsigned char*>(ogg.data()), ogg.size(), &error);
  ASSERT_NE(file, nullptr) << "opusfile error " << error;
  opus_int16 pcm[5760 * 2];
  int64_t samples = 0;
  for (int n; (n = op_read(file, pcm, 5760 * 2, nullptr)) > 0;) samples += n;
  op_free(file);
  EXPECT_GT(samples, 48000 / 10) << "less than 0.1 s of audio";
  say("/voice");
  EXPECT_EQ(last(), "Voice replies off.");
  say("and now?");
  EXPECT_EQ(last(), "Nice to hear from you!");
  // The setting survives a restart.
  stop();
  EXPECT_NE(testing::slurp(dir_ / "telegram-state.json").find("\"voice\": false"), std::string::npos);
}

TEST_F(TelegramBotTest, VoiceMessagesAreTranscribedOrKeptAndQueued) {
  start();
  say("/journal start");
  api_.push_voice(kAlice, "OggS fake audio 1");
  ASSERT_TRUE(wait_until([&] { return api_.count_text(kAlice, "transcribed later") == 1; }));
  stop();
  {
    auto ctx = context();
    MemoryFilter f;
    f.types = {"audio"};
    auto audio = ctx.memories().list(f, ListOrder::kNewestFirst, 10, 0);
    ASSERT_EQ(audio.size(), 1u);
    EXPECT_TRUE(std::filesystem::exists(audio[0].media_path));
    EXPECT_EQ(ctx.jobs().count_open(ctx.user_id()), 1);
  }
  FakeTranscriber stt;
  env_["KIOKU_STT_URL"] = stt.url();
  start();
  api_.push_text(kAlice, "/journal cancel");
  ASSERT_TRUE(wait_until([&] { return api_.count_text(kAlice, "Journal discarded.") == 1; }));
  {
    auto ctx = context();
    ctx.memories().add([&] {
      Memory m;
      m.user_id = ctx.user_id();
      m.content = "My sister Hana lives in Osaka";
      return m;
    }());
  }
  const size_t before = api_.texts(kAlice).size();
  api_.push_voice(kAlice, "OggS fake audio 2");
  ASSERT_TRUE(wait_until([&] { return api_.texts(kAlice).size() > before; }));
  EXPECT_EQ(last(), "Hana lives in Osaka.");
  // In journal mode the transcript is an entry.
  say("/journal start");
  const int ticks = api_.count_exact(kAlice, "✓");
  api_.push_voice(kAlice, "OggS fake audio 3");
  ASSERT_TRUE(wait_until([&] { return api_.count_exact(kAlice, "✓") > ticks; }));
  auto ctx = context();
  auto status = ctx.journal().status(ctx.user_id());
  ASSERT_TRUE(status);
  ASSERT_EQ(status->entries.size(), 1u);
  EXPECT_EQ(status->entries[0].content, "where does Hana live?");
}

TEST_F(TelegramBotTest, RestartInTheMiddleOfAJournalSessionContinuesIt) {
  start();
  say("/journal start");
  say("first entry before the restart");
  EXPECT_EQ(last(), "✓");
  stop();

  start();
  ASSERT_TRUE(wait_until([&] { return api_.count_text(kAlice, "still open") == 1; }));
  say("second entry after the restart");
  EXPECT_EQ(last(), "✓");
  say("/journal done", 3);
  EXPECT_NE(last().find("first entry before the restart"), std::string::npos);
  EXPECT_NE(last().find("second entry after the restart"), std::string::npos);
  stop();

  // Every update went out until confirmed, and none was handled twice.
  EXPECT_EQ(api_.count_exact(kAlice, "✓"), 2);
  auto ctx = context();
  auto journals = ctx.memories().list_journals(ctx.user_id(), 10);
  ASSERT_EQ(journals.size(), 1u);
  EXPECT_EQ(journals[0].source_entry_ids.size(), 2u);
  EXPECT_NE(testing::slurp(dir_ / "telegram-state.json").find("\"inbox\": []"), std::string::npos);
}

TEST_F(TelegramBotTest, UpdatesLeftInTheInboxByACrashAreHandledOnceOnRestart) {
  // A crash after the batch was saved: one entry was stored before the crash,
  // one was not.
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  {
    auto ctx = context();
    ctx.ensure_initialized();
    ctx.journal().start(ctx.user_id());
    ctx.journal().add_text(ctx.user_id(), "stored before the crash");
  }
  auto update = [&](int64_t id, const std::string& text) {
    json m = FakeBotApi::base(kAlice);
    m["message_id"] = id;
    m["date"] = now - 1;
    m["text"] = text;
    return json{{"update_id", id}, {"message", m}};
  };
  json state = {{"version", 1}, {"offset", 42}, {"last_chat", kAlice}, {"chats", json::object()},
                {"inbox", {update(40, "stored before the crash"), update(41, "not stored yet")}}};
  std::ofstream(dir_ / "telegram-state.json") << state.dump();
  start();
  ASSERT_TRUE(wait_until([&] { return api_.count_exact(kAlice, "✓") == 2; }));
  stop();
  auto ctx = context();
  auto status = ctx.journal().status(ctx.user_id());
  ASSERT_TRUE(status);
  ASSERT_EQ(status->entries.size(), 2u);
  EXPECT_EQ(status->entries[0].content, "stored before the crash");
  EXPECT_EQ(status->entries[1].content, "not stored yet");
  for (int64_t id : api_.delivered()) EXPECT_GE(id, 42);
}

TEST_F(TelegramBotTest, IdleJournalIsRemindedThenCompiled) {
  auto o = options();
  o.idle_warn = 300ms;
  o.idle_compile = 1500ms;
  start(o);
  say("/journal start");
  say("a quiet afternoon");
  ASSERT_TRUE(wait_until([&] { return api_.count_text(kAlice, "quiet for") == 1; }));
  ASSERT_TRUE(wait_until([&] { return api_.count_text(kAlice, "a quiet afternoon") == 1; }));
  EXPECT_EQ(api_.count_text(kAlice, "Canal morning"), 1);
  EXPECT_EQ(api_.count_text(kAlice, "quiet for"), 1) << "warned once";
  auto ctx = context();
  EXPECT_EQ(ctx.memories().list_journals(ctx.user_id(), 10).size(), 1u);
  say("back to chatting");
  EXPECT_EQ(last(), "Nice to hear from you!");
}

TEST_F(TelegramBotTest, NormalModePhotoBecomesADescribedImageMemory) {
  start();
  const size_t before = api_.texts(kAlice).size();
  api_.push_photo(kAlice, testing::make_image(640, 480, ".jpg"), "at the canal");
  ASSERT_TRUE(wait_until([&] { return api_.texts(kAlice).size() >= before + 2; }));
  EXPECT_EQ(api_.texts(kAlice)[before], "Processing image...");
  EXPECT_NE(last().find("grey heron"), std::string::npos);
  auto ctx = context();
  MemoryFilter f;
  f.types = {"image"};
  auto images = ctx.memories().list(f, ListOrder::kNewestFirst, 10, 0);
  ASSERT_EQ(images.size(), 1u);
  EXPECT_NE(images[0].content.find("at the canal"), std::string::npos);
}

TEST_F(TelegramBotTest, APhotoLeftInTheInboxByACrashIsStoredOnce) {
  start();
  say("/journal start");
  const size_t before = api_.texts(kAlice).size();
  const int64_t photo = api_.push_photo(kAlice, testing::make_image(1200, 900, ".jpg"), "the heron again");
  ASSERT_TRUE(wait_until([&] { return api_.texts(kAlice).size() > before && last() == "✓"; }));
  stop();
  // A crash after the photo was stored but before the update left the inbox:
  // the restart handles it again.
  json state = json::parse(testing::slurp(dir_ / "telegram-state.json"));
  const json replayed = api_.update(photo);
  ASSERT_FALSE(replayed.is_null());
  state["inbox"] = json::array({replayed});
  std::ofstream(dir_ / "telegram-state.json") << state.dump();
  const int ticks = api_.count_exact(kAlice, "✓");
  start();
  ASSERT_TRUE(wait_until([&] { return api_.count_exact(kAlice, "✓") > ticks; })) << log();
  stop();
  auto ctx = context();
  auto status = ctx.journal().status(ctx.user_id());
  ASSERT_TRUE(status);
  int photos = 0;
  for (const auto& e : status->entries) photos += e.media_path.empty() ? 0 : 1;
  EXPECT_EQ(photos, 1) << "the replayed photo must not be a second entry";
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir_ / "media")) files += e.is_regular_file() ? 1 : 0;
  EXPECT_EQ(files, 1);
  EXPECT_NE(testing::slurp(dir_ / "telegram-state.json").find("\"inbox\": []"), std::string::npos);
}

// `kioku telegram` as a user runs it: a clear refusal without settings,
// answers, SIGTERM stops it cleanly, and the token never reaches its output.
TEST_F(TelegramBotTest, TheKiokuTelegramCommandRunsUntilSigterm) {
  std::map<std::string, std::string> run_env = env_;
  run_env["KIOKU_HOME"] = dir_.path().string();
  auto without = run_env;
  without.erase("TELEGRAM_BOT_TOKEN");
  auto refused = testing::run_binary(KIOKU_BINARY, {"telegram"}, dir_ / "cwd", without);
  EXPECT_EQ(refused.exit_code, 2);
  EXPECT_NE(refused.err.find("TELEGRAM_BOT_TOKEN"), std::string::npos) << refused.err;

  testing::BackgroundProcess bot(KIOKU_BINARY, {"telegram"}, dir_ / "bot", run_env);
  api_.push_text(kAlice, "/help");
  ASSERT_TRUE(wait_until([&] { return !api_.texts(kAlice).empty(); })) << bot.err();
  EXPECT_NE(last().find("/journal"), std::string::npos) << last();
  api_.push_text(kAlice, "hello from the binary");
  ASSERT_TRUE(wait_until([&] { return api_.texts(kAlice).size() >= 2; })) << bot.err();
  EXPECT_EQ(bot.stop(), 0) << bot.err();
  EXPECT_NE(bot.out().find("Telegram bot stopped."), std::string::npos) << bot.out();
  EXPECT_EQ(bot.out().find(kToken), std::string::npos);
  EXPECT_EQ(bot.err().find(kToken), std::string::npos) << bot.err();
  auto ctx = context();
  MemoryFilter chats;
  chats.types = {"chat"};
  EXPECT_EQ(ctx.memories().count(chats), 2) << "the message and the reply";
}

}  // namespace
}  // namespace kioku::telegram
