#include "companion/companion_service.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "core/id.h"
#include "core/text.h"

namespace kioku {

std::optional<nlohmann::json> extract_json(std::string_view text) {
  for (size_t start = 0; start < text.size(); ++start) {
    if (text[start] != '{' && text[start] != '[') continue;
    const char open = text[start], close = open == '{' ? '}' : ']';
    for (size_t end = text.rfind(close); end != std::string_view::npos && end > start; end = text.rfind(close, end - 1)) {
      auto j = nlohmann::json::parse(text.substr(start, end - start + 1), nullptr, false);
      if (!j.is_discarded()) return j;
      if (end == 0) break;
    }
  }
  return std::nullopt;
}

CompanionService::CompanionService(MemoryStore& store, Searcher& searcher, LlmClient* llm, Persona persona,
                                   CompanionOptions options, const TimeSource& clock)
    : store_(store),
      searcher_(searcher),
      llm_(llm),
      persona_(std::move(persona)),
      options_(options),
      clock_(clock),
      builder_(store, searcher, clock) {}

namespace {

Memory user_chat_memory(const std::string& user_id, const std::string& message, TimePoint at, std::string message_id) {
  if (message.find_first_not_of(" \t\r\n") == std::string::npos) throw invalid_input("the message is empty");
  Memory m;
  m.user_id = user_id;
  m.type = std::string(memory_types::kChat);
  m.content = message;
  m.source = Source::kConversation;
  m.memory_kind = MemoryKind::kEvent;
  m.event_time = at;
  m.provenance.kind = "chat";
  m.provenance.message_id = std::move(message_id);
  m.metadata = {{"role", "user"}};
  return m;
}

}  // namespace

std::vector<std::string> used_memory_ids_of(const Memory& reply) {
  std::vector<std::string> ids;
  const auto it = reply.metadata.find("used_memory_ids");
  if (it == reply.metadata.end() || !it->is_array()) return ids;
  for (const auto& id : *it)
    if (id.is_string()) ids.push_back(id.get<std::string>());
  return ids;
}

ChatTurnResult CompanionService::chat(const std::string& user_id, const std::string& message,
                                      const std::function<void(std::string_view)>* on_delta) {
  const TimePoint now = clock_.now();
  Memory m = user_chat_memory(user_id, message, now, new_uuid_v7(now));
  m.id = store_.add(m).id;  // 1. persisted before any AI step
  return respond(user_id, m, on_delta);
}

ChatTurnResult CompanionService::chat_incoming(const std::string& user_id, const std::string& message,
                                               const IncomingMessage& incoming,
                                               const std::function<void(std::string_view)>* on_delta) {
  if (incoming.source_id.empty()) throw invalid_input("an incoming message needs its source id");
  Memory m = user_chat_memory(user_id, message, incoming.sent_at, incoming.source_id);
  const AddOutcome added = store_.add(m);  // persisted before any AI step
  m.id = added.id;
  if (!added.created) {
    // Seen before: give back the answer it already got, if it got one.
    if (auto earlier = existing_reply(user_id, m)) {
      ChatTurnResult r;
      r.user_memory_id = m.id;
      r.reply = earlier->content;
      r.reply_memory_id = earlier->id;
      r.used_memory_ids = used_memory_ids_of(*earlier);
      return r;
    }
  }
  return respond(user_id, m, on_delta);
}

ChatTurnResult CompanionService::respond(const std::string& user_id, const Memory& m,
                                         const std::function<void(std::string_view)>* on_delta) {
  if (!llm_) {
    ChatTurnResult r;
    r.user_memory_id = m.id;
    r.queued = true;
    r.notice = "No LLM provider is configured ([llm] in config.toml): your message is saved and will be answered once one is.";
    queue_turn(user_id, m, "no provider configured");
    return r;
  }
  try {
    return answer(user_id, m, on_delta);
  } catch (const Error& e) {
    if (e.code() != ErrorCode::kUnavailable) throw;
    ChatTurnResult r;
    r.user_memory_id = m.id;
    r.queued = true;
    r.notice = std::string("The model is unreachable (") + e.what() + "): your message is saved and will be answered when it is back.";
    queue_turn(user_id, m, e.what());
    return r;
  }
}

std::string CompanionService::queue_turn(const std::string& user_id, const Memory& user_message, const std::string& reason) {
  AiTask t;
  t.user_id = user_id;
  t.kind = "chat_reply";
  t.payload = {{"memory_id", user_message.id}};
  t.last_error = reason;
  return store_.enqueue_task(t);
}

ChatTurnResult CompanionService::answer(const std::string& user_id, const Memory& user_message,
                                        const std::function<void(std::string_view)>* on_delta) {
  // Earlier turns as real messages; they are then not repeated in the context.
  MemoryFilter chats;
  chats.user_id = user_id;
  chats.types = {std::string(memory_types::kChat)};
  chats.until = user_message.event_time;
  auto history = store_.list(chats, ListOrder::kNewestFirst, options_.history_turns + 1, 0);
  history.erase(std::remove_if(history.begin(), history.end(), [&](const Memory& h) { return h.id == user_message.id; }),
                history.end());
  if (static_cast<int>(history.size()) > options_.history_turns) history.resize(static_cast<size_t>(options_.history_turns));
  std::reverse(history.begin(), history.end());
  std::vector<std::string> exclude = {user_message.id};
  for (const auto& h : history) exclude.push_back(h.id);

  BuiltContext ctx = builder_.build(user_id, user_message.content, options_.context, exclude);
  ChatRequest request;
  std::string system = persona_.prompt + "\n\nToday is " + format_iso8601(clock_.now()).substr(0, 10) + ".\n\n";
  const std::string rendered = ctx.render();
  system += rendered.empty() ? "You have no stored memories about this yet.\n" : "# Your memories\n\n" + rendered;
  request.messages.push_back({"system", system});
  for (const auto& h : history)
    request.messages.push_back({h.metadata.value("role", "user") == "assistant" ? "assistant" : "user", h.content});
  request.messages.push_back({"user", user_message.content});
  last_request_ = request;

  std::function<void(std::string_view)> stream = on_delta ? *on_delta : std::function<void(std::string_view)>();
  ChatResponse response = llm_->chat(request, on_delta ? &stream : nullptr);
  if (response.text.find_first_not_of(" \t\r\n") == std::string::npos) throw unavailable("the model sent an empty reply");

  Memory reply;
  reply.user_id = user_id;
  reply.type = std::string(memory_types::kChat);
  reply.content = response.text;
  reply.source = Source::kConversation;
  reply.memory_kind = MemoryKind::kEvent;
  reply.event_time = std::max(clock_.now(), user_message.event_time + std::chrono::milliseconds(1));
  reply.provenance.kind = "chat";
  reply.provenance.message_id = "reply:" + user_message.id;
  reply.metadata = {{"role", "assistant"},
                    {"in_reply_to", user_message.id},
                    {"used_memory_ids", ctx.used_memory_ids()},
                    {"persona", persona_.id},
                    {"model", llm_->model()}};
  ChatTurnResult r;
  r.user_memory_id = user_message.id;
  r.reply = response.text;
  r.reply_memory_id = store_.add(reply).id;
  r.used_memory_ids = ctx.used_memory_ids();
  store_.record_access(user_id, r.used_memory_ids, clock_.now());
  if (options_.suggestions) {
    try {
      suggest_memories(user_id, user_message.content, response.text);
    } catch (const Error&) {
      // Suggestions are a bonus: a failure here must not fail the turn.
    }
  }
  return r;
}

std::optional<Memory> CompanionService::existing_reply(const std::string& user_id, const Memory& user_message) {
  MemoryFilter f;
  f.user_id = user_id;
  f.types = {std::string(memory_types::kChat)};
  f.since = user_message.event_time;
  for (auto& m : store_.list(f, ListOrder::kOldestFirst, 200, 0))
    if (m.metadata.value("in_reply_to", "") == user_message.id) return m;
  return std::nullopt;
}

std::string CompanionService::describe_image(const std::string& jpeg_bytes) {
  if (!llm_ || !vision_) throw unavailable("no vision-capable model is configured ([llm] vision = true)");
  ChatRequest req;
  ChatMessage msg{"user", "Describe this photo in one or two plain sentences: who or what is in it, where, and the mood. "
                          "No preamble."};
  msg.images.push_back({"image/jpeg", jpeg_bytes});
  req.messages.push_back(msg);
  auto response = llm_->chat(req, nullptr);
  std::string text = response.text;
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  if (text.empty()) throw unavailable("the model sent an empty description");
  return text;
}

std::string CompanionService::describe_or_queue(const std::string& user_id, const JournalEntry& entry) {
  if (llm_ && vision_) {
    try {
      std::ifstream in(entry.media_path, std::ios::binary);
      const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      const std::string description = describe_image(bytes);
      if (drafts_) drafts_->set_image_description(entry.id, description);
      return description;
    } catch (const Error& e) {
      // The photo is stored either way; its description waits for the model
      // (or for a key that works).
      if (e.code() != ErrorCode::kUnavailable && e.code() != ErrorCode::kAuthFailed) throw;
    }
  }
  AiTask t;
  t.user_id = user_id;
  t.kind = "describe_image";
  t.payload = {{"entry_id", entry.id}, {"media_path", entry.media_path}};
  store_.enqueue_task(t);
  return "";
}

QueueRunResult CompanionService::run_queue(int limit) {
  QueueRunResult result;
  if (!llm_) return result;
  for (const auto& task : store_.due_tasks(clock_.now(), limit)) {
    if (task.kind == "describe_image") {
      if (!vision_) continue;  // waits for a vision-capable model
      try {
        std::ifstream in(task.payload.value("media_path", ""), std::ios::binary);
        const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        if (!bytes.empty() && drafts_) drafts_->set_image_description(task.payload.value("entry_id", ""), describe_image(bytes));
        store_.complete_task(task.id);
        ++result.done;
      } catch (const Error& e) {
        store_.retry_task_later(task.id, e.what(), clock_.now() + std::chrono::minutes(10));
        ++result.failed;
        if (e.code() == ErrorCode::kUnavailable || e.code() == ErrorCode::kAuthFailed) break;
      }
      continue;
    }
    if (task.kind != "chat_reply") continue;  // other kinds belong to other workers
    auto message = store_.get(task.user_id, task.payload.value("memory_id", ""));
    if (!message || existing_reply(task.user_id, *message)) {
      store_.complete_task(task.id);  // deleted meanwhile, or already answered
      ++result.done;
      continue;
    }
    try {
      answer(task.user_id, *message, nullptr);
      store_.complete_task(task.id);
      ++result.done;
    } catch (const Error& e) {
      const auto wait = std::chrono::seconds(std::min<int64_t>(3600, 30LL << std::min(task.attempts, 7)));
      store_.retry_task_later(task.id, e.what(), clock_.now() + wait);
      ++result.failed;
      // Still down, or the key is refused: every later task fails the same way.
      if (e.code() == ErrorCode::kUnavailable || e.code() == ErrorCode::kAuthFailed) break;
    }
  }
  return result;
}

std::string CompanionService::rate_last_reply(const std::string& user_id, int rating) {
  if (rating < 1 || rating > 5) throw invalid_input("a rating is a number from 1 to 5");
  MemoryFilter f;
  f.user_id = user_id;
  f.types = {std::string(memory_types::kChat)};
  for (auto& m : store_.list(f, ListOrder::kNewestFirst, 50, 0)) {
    if (m.metadata.value("role", "") != "assistant") continue;
    m.metadata["rating"] = rating;
    m.metadata["rated_at"] = format_iso8601(clock_.now());
    store_.update(m);
    return m.id;
  }
  throw not_found("there is no reply to rate yet");
}

void CompanionService::suggest_memories(const std::string& user_id, const std::string& message, const std::string& reply) {
  ChatRequest req;
  req.messages.push_back(
      {"system",
       "You pick out facts worth remembering long-term about the user from one chat exchange: preferences, people, "
       "plans, events, skills. Answer only with JSON: {\"memories\": [{\"content\": \"...\", \"importance\": 0.0-1.0, "
       "\"tags\": [\"...\"]}]}. Use an empty list when nothing is worth keeping. Write each memory as a standalone "
       "sentence about the user."});
  req.messages.push_back({"user", "User: " + message + "\nCompanion: " + reply});
  req.settings.temperature = 0.0;
  auto response = llm_->chat(req, nullptr);
  auto j = extract_json(response.text);
  if (!j || !j->is_object() || !(*j).contains("memories") || !(*j)["memories"].is_array()) return;
  for (const auto& s : (*j)["memories"]) {
    if (!s.is_object() || !s.contains("content") || !s["content"].is_string()) continue;
    const double importance = s.value("importance", 0.5);
    if (importance < options_.suggestion_threshold) continue;
    Memory m;
    m.user_id = user_id;
    m.type = std::string(memory_types::kFact);
    m.content = s["content"];
    m.importance = std::clamp(importance, 0.0, 1.0);
    m.source = Source::kAiSuggested;
    m.approved = false;
    m.truth_category = TruthCategory::kInferred;
    m.provenance.kind = "suggestion";
    if (s.contains("tags") && s["tags"].is_array())
      for (const auto& t : s["tags"])
        if (t.is_string()) m.tags.push_back(t);
    store_.add(m);
  }
}

CompiledJournal LlmJournalCompiler::compile(const std::vector<JournalEntry>& entries, TimePoint started_at) {
  std::ostringstream notes;
  for (const auto& e : entries) {
    notes << "[" << format_iso8601(e.timestamp).substr(0, 16) << "] ";
    if (e.type == "image") {
      notes << "(photo " << e.media_path << ")"
            << (e.image_description.empty() ? "" : " showing: " + e.image_description)
            << (e.content.empty() ? "" : " caption: " + e.content);
    } else {
      notes << e.content;
    }
    notes << "\n";
  }
  ChatRequest req;
  req.messages.push_back(
      {"system",
       "You turn a person's raw journal notes into a short, warm journal article in their own voice (first person). "
       "Keep every fact, invent nothing. Include photos as markdown images with their given paths. Answer only with "
       "JSON: {\"title\": \"...\", \"article\": \"markdown\", \"tags\": [\"3 to 6 lower-case topic tags\"]}."});
  req.messages.push_back({"user", "Notes from " + format_iso8601(started_at).substr(0, 10) + ":\n" + notes.str()});
  try {
    auto response = llm_.chat(req, nullptr);
    auto j = extract_json(response.text);
    if (j && j->is_object() && j->contains("title") && j->contains("article") && (*j)["title"].is_string() &&
        (*j)["article"].is_string() && !(*j)["article"].get<std::string>().empty()) {
      CompiledJournal c;
      c.title = (*j)["title"];
      c.body = (*j)["article"];
      if (c.body.back() != '\n') c.body += "\n";
      if (j->contains("tags") && (*j)["tags"].is_array())
        for (const auto& t : (*j)["tags"])
          if (t.is_string()) c.tags.push_back(t);
      if (std::find(c.tags.begin(), c.tags.end(), "journal") == c.tags.end()) c.tags.insert(c.tags.begin(), "journal");
      return c;
    }
  } catch (const Error& e) {
    if (e.code() != ErrorCode::kUnavailable) throw;
  }
  return fallback_.compile(entries, started_at);  // marked needs_recompile
}

}  // namespace kioku
