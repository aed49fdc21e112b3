#include "bots/telegram/telegram_bot.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <fstream>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include "app/app_context.h"
#include "app/users.h"
#include "bots/bluesky/bluesky.h"
#include "bots/telegram/bot_api.h"
#include "bots/telegram/bot_state.h"
#include "bots/telegram/update.h"
#include "core/error.h"
#include "core/hash.h"
#include "media/image.h"
#include "voice/voice.h"

namespace kioku::telegram {

namespace {

constexpr const char* kHelp =
    "I'm your Kioku companion. Talk to me, or:\n"
    "\n"
    "/journal start — journal mode: I keep what you send silently (✓)\n"
    "/journal done — compile the journal into an article\n"
    "/journal cancel — discard the journal\n"
    "/bsky <text> — post to Bluesky (and remember it)\n"
    "/status — mode and memory stats\n"
    "/voice — spoken replies on/off\n"
    "/rate <1-5> — rate my last reply\n"
    "/help — this list\n"
    "\n"
    "Photos and voice messages are welcome too.";

// The prepared form of journal photos, as AppContext::journal() makes it;
// used to recognise a photo already stored when an update is replayed.
constexpr int kPhotoMaxSide = 2048;
constexpr int kPhotoQuality = 85;

std::string trim(std::string_view s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return "";
  const auto last = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(first, last - first + 1));
}

std::string human_duration(std::chrono::milliseconds d) {
  using namespace std::chrono;
  if (d >= hours(1)) return std::to_string(duration_cast<hours>(d).count()) + " h";
  if (d >= minutes(1)) return std::to_string(duration_cast<minutes>(d).count()) + " min";
  return std::to_string(std::max<int64_t>(1, duration_cast<seconds>(d).count())) + " s";
}

int64_t sender_of(const nlohmann::json& update) {
  for (const char* kind : {"message", "edited_message", "callback_query", "inline_query"}) {
    if (!update.is_object() || !update.contains(kind) || !update[kind].is_object() || !update[kind].contains("from")) continue;
    const auto& from = update[kind]["from"];
    if (from.is_object() && from.contains("id") && from["id"].is_number_integer()) return from["id"].get<int64_t>();
    return 0;
  }
  return 0;
}

}  // namespace

TelegramSettings load_telegram_settings(const Config& config) {
  TelegramSettings s;
  s.token = config.get_string_or("telegram.token", "", "TELEGRAM_BOT_TOKEN");
  s.api_url = config.get_string_or("telegram.api_url", s.api_url, "KIOKU_TELEGRAM_API_URL");
  while (!s.api_url.empty() && s.api_url.back() == '/') s.api_url.pop_back();
  const auto parse_id = [](const std::string& word) {
    try {
      size_t used = 0;
      const int64_t id = std::stoll(word, &used);
      if (used == word.size() && id > 0) return id;
    } catch (const std::exception&) {
    }
    throw invalid_input("allowed Telegram users must be numeric user ids, got '" + word + "'");
  };
  std::string list;
  if (auto env = config.env() ? config.env()("KIOKU_TELEGRAM_ALLOWED_USERS") : std::nullopt; env) {
    list = *env;
  } else if (const auto& data = config.data(); data.contains("telegram") && data["telegram"].is_object() &&
                                               data["telegram"].contains("allowed_users")) {
    const auto& users = data["telegram"]["allowed_users"];
    if (users.is_array()) {
      for (const auto& u : users) list += (u.is_string() ? u.get<std::string>() : u.dump()) + ",";
    } else {
      list = users.is_string() ? users.get<std::string>() : users.dump();
    }
  }
  std::stringstream words(list);
  for (std::string word; std::getline(words, word, ',');) {
    word = trim(word);
    if (!word.empty()) s.allowed_users.insert(parse_id(word));
  }
  const auto map_user = [&](const std::string& id_text, const std::string& name) {
    const std::string kioku_user = trim(name);
    check_user_id(kioku_user);
    const int64_t id = parse_id(trim(id_text));
    s.users[id] = kioku_user;
    s.allowed_users.insert(id);
  };
  if (auto env = config.env() ? config.env()("KIOKU_TELEGRAM_USERS") : std::nullopt; env) {
    std::stringstream pairs(*env);
    for (std::string pair; std::getline(pairs, pair, ',');) {
      if (trim(pair).empty()) continue;
      const auto eq = pair.find('=');
      if (eq == std::string::npos)
        throw invalid_input("KIOKU_TELEGRAM_USERS takes TELEGRAM_ID=KIOKU_USER pairs, got '" + trim(pair) + "'");
      map_user(pair.substr(0, eq), pair.substr(eq + 1));
    }
  } else if (const auto& data = config.data(); data.contains("telegram") && data["telegram"].is_object() &&
                                               data["telegram"].contains("users")) {
    const auto& users = data["telegram"]["users"];
    if (!users.is_object())
      throw invalid_input("telegram.users must be a table of Telegram ids to Kioku users, e.g. {\"12345\" = \"alice\"}");
    for (const auto& [id, name] : users.items()) {
      if (!name.is_string()) throw invalid_input("telegram.users: Telegram user " + id + " must map to a user name");
      map_user(id, name.get<std::string>());
    }
  }
  return s;
}

namespace {

// Voice messages that could not be transcribed when they came wait as
// `transcribe_audio` jobs until a transcription server answers.
void register_transcriptions(Engine& engine) {
  JobKindPolicy policy;
  policy.wait_max = std::chrono::hours(1);
  engine.add_job_kind(
      "transcribe_audio",
      [](AppContext& session, const kioku::Job& job) {
        auto transcriber = make_transcriber(session.config());
        if (!transcriber) return JobOutcome::later("waits for a transcription server ([voice] stt_url)");
        auto m = session.memories().get(job.user_id, job.payload.value("memory_id", ""));
        if (!m) return JobOutcome::finished({{"skipped", "the voice memory was deleted"}});
        if (m->metadata.value("transcribed", false)) return JobOutcome::finished({{"skipped", "already transcribed"}});
        std::ifstream file(m->media_path, std::ios::binary);
        const std::string audio((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
        m->content = "Voice message: " + trim(transcriber->transcribe(audio, "voice.ogg"));
        m->metadata["transcribed"] = true;
        session.memories().update(*m);
        return JobOutcome::finished({{"transcribed", 1}});
      },
      policy);
}

}  // namespace

struct TelegramBot::Impl {
  struct Job {
    int64_t update_id = 0;  // the update to mark done afterwards (0: none)
    int64_t chat_id = 0;    // where failures are reported (0: nowhere)
    std::function<void(AppContext&)> run;
  };

  TelegramSettings settings;
  TelegramBotOptions options;
  BotApi api;
  BotState state;
  std::shared_ptr<Engine> engine;      // shared with kioku serve when it runs the bot
  std::unique_ptr<AppContext> ctx;     // the polling thread's
  std::unique_ptr<AppContext> worker_ctx;  // the worker's
  std::string user;          // the bot's own Kioku user (unmapped Telegram ids act as it)
  std::string current_user;  // the Kioku user of the update being handled (polling thread)

  std::unique_ptr<BlueskyService> bsky;
  std::unique_ptr<SpeechSynthesizer> synthesizer;
  std::unique_ptr<Transcriber> transcriber;

  std::atomic<bool> stopping{false};
  std::mutex stop_mutex;
  std::condition_variable stop_cv;

  std::mutex jobs_mutex;
  std::condition_variable jobs_cv;
  std::deque<Job> jobs;
  bool worker_busy = false;
  bool worker_quit = false;
  std::thread worker;

  // The Kioku users in journal mode (an open session in journal.db).
  std::mutex mode_mutex;
  std::set<std::string> journaling;
  bool in_journal(const std::string& u) {
    std::lock_guard<std::mutex> lock(mode_mutex);
    return journaling.count(u) > 0;
  }
  void set_journal(const std::string& u, bool on) {
    std::lock_guard<std::mutex> lock(mode_mutex);
    if (on) journaling.insert(u);
    else journaling.erase(u);
  }
  std::string user_of(int64_t telegram_id) const {
    auto it = settings.users.find(telegram_id);
    return it == settings.users.end() ? user : it->second;
  }
  // Every Kioku user this bot serves.
  std::set<std::string> served_users() const {
    std::set<std::string> out{user};
    for (const auto& [id, u] : settings.users) out.insert(u);
    return out;
  }
  std::set<int64_t> replayed;  // updates found in the inbox at start
  std::chrono::steady_clock::time_point next_maintenance{};

  Impl(TelegramSettings s, TelegramBotOptions o)
      : settings(std::move(s)),
        options(std::move(o)),
        api(BotApiConfig{settings.token, settings.api_url, 10, 60, 3, options.send_backoff_s}),
        state(options.data_dir / "telegram-state.json") {
    engine = options.engine;
    if (!engine) engine = Engine::open(EngineOptions{options.data_dir, options.user, options.env});
    register_transcriptions(*engine);
    ctx = engine->open_session();
    ctx->ensure_initialized();
    worker_ctx = engine->open_session();
    user = ctx->user_id();
    current_user = user;
    // Mapped users are users of the data directory (kioku users list shows
    // them; kioku token --user gives them the web app too).
    for (const auto& [id, u] : settings.users) ctx->users().ensure_user(u, /*admin=*/false);
  }

  void log(const std::string& line) {
    if (options.log) options.log(api.redact(line));
  }

  // --- sending (never throws: a failed send is logged; the input is kept) ---

  void reply(int64_t chat_id, const std::string& text) {
    for (const auto& part : split_message(text)) {
      try {
        api.send_message(chat_id, part);
      } catch (const Error& e) {
        log(std::string("telegram: cannot send a message: ") + e.what());
        return;
      }
    }
  }

  // A formatted message; falls back to plain text if Telegram cannot parse it.
  void reply_markdown(int64_t chat_id, const std::string& markdown, const std::string& plain) {
    try {
      api.send_message(chat_id, markdown, ParseMode::kMarkdownV2);
    } catch (const Error& e) {
      if (e.code() != ErrorCode::kInvalidInput) {
        log(std::string("telegram: cannot send a message: ") + e.what());
        return;
      }
      reply(chat_id, plain);
    }
  }

  void action(int64_t chat_id, const std::string& what) {
    try {
      api.send_chat_action(chat_id, what);
    } catch (const Error&) {
      // Only a hint to the user; the real answer follows.
    }
  }

  // A companion reply: a voice note when the chat asked for them.
  void answer(int64_t chat_id, const std::string& text) {
    if (state.chat(chat_id).voice) {
      try {
        action(chat_id, "record_voice");
        if (!synthesizer) synthesizer = make_synthesizer(ctx->config());
        api.send_voice(chat_id, synthesizer->synthesize(text).ogg_opus);
        return;
      } catch (const Error& e) {
        log(std::string("telegram: no voice reply, sending text: ") + e.what());
      }
    }
    reply(chat_id, text);
  }

  // --- the worker ---

  void enqueue(Job job) {
    {
      std::lock_guard<std::mutex> lock(jobs_mutex);
      jobs.push_back(std::move(job));
    }
    jobs_cv.notify_all();
  }

  bool worker_idle() {
    std::lock_guard<std::mutex> lock(jobs_mutex);
    return jobs.empty() && !worker_busy;
  }

  void worker_loop() {
    while (true) {
      Job job;
      {
        std::unique_lock<std::mutex> lock(jobs_mutex);
        jobs_cv.wait(lock, [&] { return worker_quit || !jobs.empty(); });
        // Jobs not started stay in the inbox and run again after a restart.
        if (worker_quit) return;
        job = std::move(jobs.front());
        jobs.pop_front();
        worker_busy = true;
      }
      try {
        job.run(*worker_ctx);
      } catch (const Error& e) {
        log(std::string("telegram: a background step failed: ") + e.what());
        if (job.chat_id) reply(job.chat_id, std::string("Sorry, that did not work: ") + e.what());
      } catch (const std::exception& e) {
        log(std::string("telegram: a background step failed: ") + e.what());
        if (job.chat_id) reply(job.chat_id, "Sorry, something went wrong on my side.");
      }
      if (job.update_id) state.mark_done(job.update_id);
      {
        std::lock_guard<std::mutex> lock(jobs_mutex);
        worker_busy = false;
      }
      jobs_cv.notify_all();
    }
  }

  // --- journal mode (every step runs on the worker, in order) ---

  void journal_start(const Incoming& in) {
    if (in_journal(current_user)) {
      reply(in.chat_id, "You're already in journal mode. /journal done compiles it, /journal cancel discards it.");
      state.mark_done(in.update_id);
      return;
    }
    set_journal(current_user, true);
    const int64_t chat = in.chat_id;
    enqueue({in.update_id, chat, [this, chat, user = current_user](AppContext& w) {
               try {
                 w.journal().start(user);
               } catch (const Error& e) {
                 if (e.code() != ErrorCode::kConflict) {
                   set_journal(user, false);
                   throw;
                 }
               }
               state.set_warned_session_of(user, "");
               reply(chat,
                     "📓 Journal mode. Everything you send now is kept silently (✓). "
                     "/journal done compiles it into an article, /journal cancel discards it.");
             }});
  }

  void compile_journal(int64_t update_id, int64_t chat, const std::string& of_user) {
    enqueue({update_id, chat, [this, chat, update_id, user = of_user](AppContext& w) {
               Journal j;
               try {
                 j = w.journal().done(user);
               } catch (const Error& e) {
                 if (e.code() != ErrorCode::kConflict) throw;
                 reply(chat, replayed.count(update_id) ? "The journal was already compiled." : "No journal session is open.");
                 return;
               }
               const std::string count = std::to_string(j.source_entry_ids.size()) + " entries";
               const std::string note = j.needs_recompile ? " Compiled without an AI model; it will be rewritten once one answers." : "";
               reply_markdown(chat, "📓 *" + escape_markdown_v2(j.title) + "*\n" + escape_markdown_v2(count + ", saved to your memory." + note),
                              "📓 " + j.title + "\n" + count + ", saved to your memory." + note);
               reply(chat, j.body);
             }});
  }

  void journal_done(const Incoming& in) {
    if (!in_journal(current_user)) {
      reply(in.chat_id, "No journal session is open. Start one with /journal start.");
      state.mark_done(in.update_id);
      return;
    }
    set_journal(current_user, false);
    reply(in.chat_id, "Compiling journal...");
    compile_journal(in.update_id, in.chat_id, current_user);
  }

  void journal_cancel(const Incoming& in) {
    if (!in_journal(current_user)) {
      reply(in.chat_id, "No journal session is open.");
      state.mark_done(in.update_id);
      return;
    }
    set_journal(current_user, false);
    const int64_t chat = in.chat_id;
    enqueue({in.update_id, chat, [this, chat, user = current_user](AppContext& w) {
               try {
                 w.journal().cancel(user, true);
               } catch (const Error& e) {
                 if (e.code() != ErrorCode::kConflict && e.code() != ErrorCode::kNotFound) throw;
               }
               reply(chat, "Journal discarded.");
             }});
  }

  // True when a replayed update's entry is already in the open session.
  bool already_stored(AppContext& w, const std::string& user, const Incoming& in, const std::string& type,
                      const std::string& content, const std::string& media_path) {
    if (!replayed.count(in.update_id)) return false;
    auto status = w.journal().status(user);
    if (!status) return false;
    const TimePoint sent = from_millis(in.date * 1000);
    return std::any_of(status->entries.begin(), status->entries.end(), [&](const JournalEntry& e) {
      if (e.type != type || e.timestamp < sent) return false;
      return type == "image" ? e.media_path == media_path : e.content == content;
    });
  }

  void journal_text(const Incoming& in, const std::string& text) {
    enqueue({in.update_id, in.chat_id, [this, in, text, user = current_user](AppContext& w) {
               if (!already_stored(w, user, in, "text", text, ""))
                 add_entry(w, user, [&] { w.journal().add_text(user, text); });
               reply(in.chat_id, "✓");
             }});
  }

  // Runs an add; without an open session (cancelled or compiled meanwhile)
  // tells the user instead of failing silently.
  void add_entry(AppContext&, const std::string& user, const std::function<void()>& add) {
    try {
      add();
    } catch (const Error& e) {
      if (e.code() != ErrorCode::kConflict) throw;
      set_journal(user, false);
      throw conflict("no journal session is open any more; /journal start begins a new one");
    }
  }

  std::filesystem::path temp_file(const std::string& name, const std::string& bytes) {
    const auto dir = options.data_dir / "tmp";
    std::filesystem::create_directories(dir);
    const auto path = dir / name;
    write_file_atomically(path, bytes);
    return path;
  }

  void journal_photo(const Incoming& in) {
    action(in.chat_id, "upload_photo");
    enqueue({in.update_id, in.chat_id, [this, in, user = current_user](AppContext& w) {
               const std::string bytes = api.download_file(in.photo_file_id);
               std::optional<JournalEntry> entry;
               if (replayed.count(in.update_id)) {
                 const auto prepared = shrink_to_jpeg(bytes, kPhotoMaxSide, kPhotoQuality);
                 const std::string path = (options.data_dir / "media" / (sha256_hex(prepared.jpeg) + ".jpg")).string();
                 if (already_stored(w, user, in, "image", "", path)) {
                   const auto status = w.journal().status(user);
                   for (const auto& e : status->entries)
                     if (e.media_path == path) entry = e;
                 }
               }
               if (!entry) {
                 const auto file = temp_file("telegram-" + std::to_string(in.update_id) + ".img", bytes);
                 try {
                   add_entry(w, user, [&] { entry = w.journal().add_image(user, file, in.text); });
                 } catch (...) {
                   std::filesystem::remove(file);
                   throw;
                 }
                 std::filesystem::remove(file);
               }
               reply(in.chat_id, "✓");
               // Stored: the description may take a while (or wait in the AI queue).
               if (entry->image_description.empty()) w.companion().describe_or_queue(user, *entry);
             }});
  }

  // --- normal mode ---

  void normal_photo(const Incoming& in) {
    reply(in.chat_id, "Processing image...");
    enqueue({in.update_id, in.chat_id, [this, in, user = current_user](AppContext& w) {
               const auto prepared = shrink_to_jpeg(api.download_file(in.photo_file_id), kPhotoMaxSide, kPhotoQuality);
               const auto path = options.data_dir / "media" / (sha256_hex(prepared.jpeg) + ".jpg");
               if (!std::filesystem::exists(path)) write_file_atomically(path, prepared.jpeg);
               std::string description;
               if (w.llm() && w.llm_config().vision) {
                 try {
                   description = w.companion().describe_image(prepared.jpeg);
                 } catch (const Error& e) {
                   // The photo is kept either way (a refused key included).
                   if (e.code() != ErrorCode::kUnavailable && e.code() != ErrorCode::kAuthFailed) throw;
                 }
               }
               Memory m;
               m.user_id = user;
               m.type = std::string(memory_types::kImage);
               m.content = trim(in.text + (in.text.empty() || description.empty() ? "" : "\n") + description);
               if (m.content.empty()) m.content = "A photo sent on Telegram";
               m.media_path = path.string();
               m.source = Source::kConversation;
               m.provenance.kind = "telegram";
               m.provenance.message_id = std::to_string(in.message_id);
               m.content_hash = sha256_hex(prepared.jpeg);  // one memory per photo, whatever its caption
               m.event_time = from_millis(in.date * 1000);
               w.memories().add(m);
               reply(in.chat_id, description.empty() ? "Saved the photo ✓" : "Saved the photo ✓\n" + description);
             }});
  }

  void chat_turn(const Incoming& in, const std::string& text) {
    action(in.chat_id, "typing");
    // The update's identity makes a replay after a crash store the message
    // once and answer it once.
    const CompanionService::IncomingMessage incoming{
        "telegram:" + std::to_string(in.chat_id) + ":" + std::to_string(in.message_id), from_millis(in.date * 1000)};
    ChatTurnResult r = ctx->companion().chat_incoming(current_user, text, incoming);
    if (r.queued) {
      state.add_queued_turn({r.user_memory_id, in.chat_id, current_user});
      reply(in.chat_id, r.notice.empty() ? "I can't reach my AI model right now; I'll answer once it is back." : r.notice);
      return;
    }
    answer(in.chat_id, r.reply);
  }

  // Returns true when the update is finished; false when a worker job owns it.
  bool voice_message(const Incoming& in) {
    action(in.chat_id, "typing");
    const std::string audio = api.download_file(in.voice_file_id);
    if (!transcriber) transcriber = make_transcriber(ctx->config());
    if (transcriber) {
      try {
        const std::string text = trim(transcriber->transcribe(audio, "voice.ogg"));
        if (!text.empty()) return handle_text(in, text);
      } catch (const Error& e) {
        if (e.code() != ErrorCode::kUnavailable && e.code() != ErrorCode::kAuthFailed) throw;
        log(std::string("telegram: transcription failed, keeping the audio: ") + e.what());
      }
    }
    // Kept as an audio memory; a `transcribe_audio` task turns it into text
    // once a transcription server answers.
    const std::string hash = sha256_hex(audio);
    const auto path = options.data_dir / "media" / (hash + ".ogg");
    if (!std::filesystem::exists(path)) write_file_atomically(path, audio);
    Memory m;
    m.user_id = current_user;
    m.type = "audio";
    m.content = "Voice message (not transcribed yet)";
    m.content_hash = hash;
    m.media_path = path.string();
    m.source = Source::kConversation;
    m.provenance.kind = "telegram";
    m.provenance.message_id = std::to_string(in.message_id);
    m.event_time = from_millis(in.date * 1000);
    m.metadata = {{"transcribed", false}, {"journal", in_journal(current_user)}};
    const AddOutcome added = ctx->memories().add(m);
    if (added.created) {
      kioku::Job job;
      job.user_id = current_user;
      job.kind = "transcribe_audio";
      job.payload = {{"memory_id", added.id}, {"media_path", path.string()}};
      job.dedupe_key = "transcribe_audio:" + added.id;
      ctx->jobs().enqueue(job);
    }
    reply(in.chat_id, in_journal(current_user) ? "✓ (voice kept; it will be transcribed later)"
                                   : "I saved your voice message. I can't transcribe it yet; it will be turned "
                                     "into text once a transcription server is configured.");
    return true;
  }

  // --- commands ---

  void bsky_post(const Incoming& in, const std::string& text) {
    if (text.empty()) {
      reply(in.chat_id, "Usage: /bsky <text>");
      return;
    }
    if (current_user != user) {
      // One Bluesky account, the bot's own user's: not anyone's to post as.
      reply(in.chat_id, "Bluesky posting is set up for the bot's own user only.");
      return;
    }
    if (!bsky) bsky = std::make_unique<BlueskyService>(*ctx);
    if (!bsky->configured()) {
      reply(in.chat_id, "Bluesky is not configured (BLUESKY_HANDLE and BLUESKY_APP_PASSWORD).");
      return;
    }
    action(in.chat_id, "typing");
    // Older pending posts go first, so the feed keeps the order they were written in.
    int retried = 0;
    try {
      retried = bsky->retry_pending();
    } catch (const Error&) {
    }
    if (replayed.count(in.update_id)) {
      MemoryFilter f;
      f.user_id = user;
      f.types = {std::string(memory_types::kBskyPost)};
      for (const auto& m : ctx->memories().list(f, ListOrder::kNewestFirst, 20, 0)) {
        if (m.content == text) {
          reply(in.chat_id, "That post was already handled (it is in your memory).");
          return;
        }
      }
    }
    const BskyPostResult r = bsky->post(text);
    std::string msg = r.sent ? "Posted to Bluesky ✓" + (r.uri.empty() ? "" : "\n" + r.uri)
                             : "Saved, but Bluesky did not take it (" + r.error + "). I'll retry later.";
    if (retried > 0) msg += "\nAlso sent " + std::to_string(retried) + " post(s) that were waiting.";
    reply(in.chat_id, msg);
  }

  void status(const Incoming& in) {
    const StoreStats stats = ctx->memories().stats(current_user);
    std::ostringstream s;
    s << "Mode: " << (in_journal(current_user) ? "journal" : "normal") << "\n";
    if (auto session = ctx->drafts().open_session(current_user))
      s << "Journal: " << ctx->drafts().entries(session->id).size() << " entries since " << format_iso8601(session->started_at) << "\n";
    s << "Memories: " << stats.memories << "\nJournals: " << stats.journals << "\n";
    s << "Waiting for the AI: " << ctx->jobs().count_open(current_user) << " job(s)\n";
    s << "Voice replies: " << (state.chat(in.chat_id).voice ? "on" : "off");
    reply(in.chat_id, s.str());
  }

  void toggle_voice(const Incoming& in) {
    ChatSettings c = state.chat(in.chat_id);
    c.voice = !c.voice;
    state.set_chat(in.chat_id, c);
    reply(in.chat_id, c.voice ? "Voice replies on: I'll answer with voice notes." : "Voice replies off.");
  }

  void rate(const Incoming& in, const std::string& args) {
    int rating = 0;
    try {
      size_t used = 0;
      rating = std::stoi(args, &used);
      if (used != args.size()) rating = 0;
    } catch (const std::exception&) {
    }
    if (rating < 1 || rating > 5) {
      reply(in.chat_id, "Usage: /rate <1-5>");
      return;
    }
    ctx->companion().rate_last_reply(current_user, rating);
    reply(in.chat_id, "Thanks! Rated " + std::to_string(rating) + "/5.");
  }

  // --- dispatch ---

  // Returns true when the update is finished; false when a worker job owns it.
  bool handle_text(const Incoming& in, const std::string& text) {
    if (text.empty() || text[0] != '/') {
      if (in_journal(current_user)) {
        journal_text(in, text);
        return false;
      }
      chat_turn(in, text);
      return true;
    }
    const auto space = text.find_first_of(" \n");
    std::string command = text.substr(0, space);
    if (auto at = command.find('@'); at != std::string::npos) command.resize(at);  // "/help@kioku_bot"
    const std::string args = space == std::string::npos ? "" : trim(text.substr(space + 1));
    if (command == "/start" || command == "/help") {
      reply(in.chat_id, kHelp);
    } else if (command == "/journal") {
      const std::string sub = args.substr(0, args.find(' '));
      if (sub == "start") journal_start(in);
      else if (sub == "done") journal_done(in);
      else if (sub == "cancel") journal_cancel(in);
      else {
        reply(in.chat_id, "Usage: /journal start | done | cancel");
        return true;
      }
      return false;  // each of them marks the update done itself
    } else if (command == "/bsky") {
      if (in_journal(current_user)) reply(in.chat_id, "Bluesky posts work in normal mode: finish the journal first (/journal done).");
      else bsky_post(in, args);
    } else if (command == "/status") {
      status(in);
    } else if (command == "/voice") {
      toggle_voice(in);
    } else if (command == "/rate") {
      rate(in, args);
    } else {
      reply(in.chat_id, "I don't know " + command + ". /help lists what I understand.");
    }
    return true;
  }

  void handle(const nlohmann::json& update) {
    const int64_t id = update.value("update_id", int64_t{0});
    const auto in = parse_update(update);
    if (!in) {
      state.mark_done(id);
      return;
    }
    bool finished = true;
    current_user = user_of(in->from_id);
    try {
      state.set_last_chat(in->chat_id);
      state.set_last_chat_of(current_user, in->chat_id);
      if (!in->voice_file_id.empty()) {
        finished = voice_message(*in);
      } else if (!in->photo_file_id.empty()) {
        if (in_journal(current_user)) journal_photo(*in);
        else normal_photo(*in);
        finished = false;
      } else if (in->text.empty()) {
        reply(in->chat_id, "I understand text, photos and voice messages.");
      } else {
        finished = handle_text(*in, in->text);
      }
    } catch (const Error& e) {
      log(std::string("telegram: update ") + std::to_string(id) + " failed: " + e.what());
      reply(in->chat_id, std::string("Sorry, that did not work: ") + e.what());
      finished = true;
    }
    if (finished) state.mark_done(id);
  }

  // --- timers and maintenance ---

  // Reminds, then compiles, each served user's journal that has gone quiet,
  // in the chat that user last wrote from.
  void check_journal_idle() {
    if (!worker_idle()) return;
    for (const std::string& u : served_users()) {
      if (!in_journal(u)) continue;
      auto session = ctx->drafts().open_session(u);
      auto chat = state.last_chat_of(u);
      if (!chat && u == user) chat = state.last_chat();  // state files from before per-user chats
      if (!session || !chat) continue;
      const auto idle =
          std::chrono::duration_cast<std::chrono::milliseconds>(system_time().now() - session->last_activity);
      if (idle >= options.idle_compile) {
        set_journal(u, false);
        reply(*chat, "Nothing new in your journal for " + human_duration(options.idle_compile) + ": compiling journal...");
        compile_journal(0, *chat, u);
      } else if (idle >= options.idle_warn && state.warned_session_of(u) != session->id) {
        state.set_warned_session_of(u, session->id);
        reply(*chat, "Your journal has been quiet for " + human_duration(options.idle_warn) +
                         ". Send /journal done to compile it, or keep writing; I'll compile it myself after " +
                         human_duration(options.idle_compile) + ".");
      }
    }
  }

  void maintenance() {
    const auto now = std::chrono::steady_clock::now();
    if (now < next_maintenance) return;
    next_maintenance = now + options.maintenance_every;
    const auto chat = state.last_chat();
    try {
      if (!bsky) bsky = std::make_unique<BlueskyService>(*ctx);
      if (bsky->configured()) {
        const int sent = bsky->retry_pending();
        if (sent > 0 && chat) reply(*chat, "Sent " + std::to_string(sent) + " Bluesky post(s) that were waiting.");
      }
    } catch (const Error& e) {
      log(std::string("telegram: Bluesky retry failed: ") + e.what());
    }
    // Jobs (queued replies, photo descriptions, transcriptions) and the
    // embedding queue, unless kioku serve runs them for this engine. Leases
    // keep two processes on one data directory from doing a job twice.
    if (options.run_background) {
      for (const auto& line : engine->run_background(std::chrono::seconds(10)).lines) log("telegram: " + line);
    }
    try {
      deliver_queued_answers();
    } catch (const Error& e) {
      log(std::string("telegram: queued answers: ") + e.what());
    }
  }

  // Sends the answers the AI queue produced for turns queued from Telegram.
  void deliver_queued_answers() {
    const auto waiting = state.queued_turns();
    if (waiting.empty()) return;
    std::map<std::string, std::vector<Memory>> recent_of;  // each user's recent chat turns
    for (const auto& turn : waiting) {
      const std::string& of = turn.user.empty() ? user : turn.user;
      if (!recent_of.count(of)) {
        MemoryFilter f;
        f.user_id = of;
        f.types = {std::string(memory_types::kChat)};
        recent_of[of] = ctx->memories().list(f, ListOrder::kNewestFirst, 200, 0);
      }
      const auto& recent = recent_of[of];
      if (!ctx->memories().get(of, turn.memory_id)) {
        state.remove_queued_turn(turn.memory_id);  // deleted meanwhile
        continue;
      }
      for (const auto& m : recent) {
        if (m.metadata.value("in_reply_to", "") != turn.memory_id) continue;
        answer(turn.chat_id, m.content);
        state.remove_queued_turn(turn.memory_id);
        break;
      }
    }
  }

  void sleep_unless_stopped(std::chrono::milliseconds d) {
    std::unique_lock<std::mutex> lock(stop_mutex);
    stop_cv.wait_for(lock, d, [&] { return stopping.load(); });
  }

  void run() {
    worker_quit = false;
    worker = std::thread([this] { worker_loop(); });
    log("telegram: bot started (" + std::to_string(settings.allowed_users.size()) + " allowed user(s))");

    for (const std::string& u : served_users()) {
      auto session = ctx->drafts().open_session(u);
      if (!session) continue;
      set_journal(u, true);
      auto chat = state.last_chat_of(u);
      if (!chat && u == user) chat = state.last_chat();  // state files from before per-user chats
      if (chat) {
        reply(*chat, "Your journal from " + format_iso8601(session->started_at).substr(0, 16) + " is still open (" +
                         std::to_string(ctx->drafts().entries(session->id).size()) +
                         " entries). Carry on; /journal done compiles it.");
      }
    }
    // Updates received before a stop or crash but not finished: again, in order.
    for (const auto& update : state.inbox()) replayed.insert(update.value("update_id", int64_t{0}));
    for (const auto& update : state.inbox()) {
      if (stopping) break;
      handle(update);
    }

    auto backoff = options.error_backoff;
    while (!stopping) {
      try {
        check_journal_idle();
        maintenance();
      } catch (const Error& e) {
        log(std::string("telegram: ") + e.what());
      }
      std::vector<nlohmann::json> updates;
      try {
        updates = api.get_updates(state.offset(), options.poll_timeout_s);
        backoff = options.error_backoff;
      } catch (const Error& e) {
        if (stopping) break;
        log(std::string("telegram: polling failed, retrying in ") + human_duration(backoff) + ": " + e.what());
        sleep_unless_stopped(backoff);
        backoff = std::min<std::chrono::milliseconds>(backoff * 2, std::chrono::seconds(60));
        continue;
      }
      if (updates.empty()) continue;
      std::vector<nlohmann::json> accepted;
      for (const auto& u : updates) {
        const int64_t from = sender_of(u);
        if (settings.allowed_users.count(from)) accepted.push_back(u);
        else log("telegram: ignored an update from user " + std::to_string(from) + " (not in the allowed users)");
      }
      // Durable before the next getUpdates confirms them to Telegram.
      state.receive(accepted, updates.back().value("update_id", int64_t{0}) + 1);
      for (const auto& u : accepted) {
        if (stopping) break;  // the rest waits in the inbox
        handle(u);
      }
    }

    {
      std::lock_guard<std::mutex> lock(jobs_mutex);
      worker_quit = true;
    }
    jobs_cv.notify_all();
    worker.join();
    log("telegram: bot stopped");
  }

  void stop() {
    {
      std::lock_guard<std::mutex> lock(stop_mutex);
      stopping = true;
    }
    stop_cv.notify_all();
    api.cancel_poll();
  }
};

TelegramBot::TelegramBot(TelegramSettings settings, TelegramBotOptions options) {
  if (!settings.configured()) throw invalid_input("no Telegram bot token: set TELEGRAM_BOT_TOKEN (or telegram.token)");
  if (settings.allowed_users.empty())
    throw invalid_input(
        "no allowed Telegram users: set KIOKU_TELEGRAM_ALLOWED_USERS (comma-separated user ids) or "
        "telegram.allowed_users");
  impl_ = std::make_unique<Impl>(std::move(settings), std::move(options));
}

TelegramBot::~TelegramBot() = default;

void TelegramBot::run() { impl_->run(); }

void TelegramBot::stop() { impl_->stop(); }

}  // namespace kioku::telegram
