#include "companion/companion_service.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "core/id.h"
#include "core/text.h"
#include "tools/core_memory.h"
#include "tools/memory_tools.h"

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

CompanionService::CompanionService(MemoryStore& store, JobStore& jobs, Searcher& searcher, LlmClient* llm,
                                   Persona persona, CompanionOptions options, const TimeSource& clock)
    : store_(store),
      jobs_(jobs),
      searcher_(searcher),
      llm_(llm),
      persona_(std::move(persona)),
      options_(options),
      clock_(clock),
      builder_(store, searcher, clock) {
  MemoryToolOptions tool_options;
  tool_options.inserts_need_approval = options_.agent_memories_need_approval;
  register_memory_tools(tools_, store_, searcher_, tool_options, clock_);
}

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

Job chat_reply_job(const std::string& user_id, const std::string& message_id, const std::string& reason) {
  Job job;
  job.user_id = user_id;
  job.kind = "chat_reply";
  job.payload = {{"memory_id", message_id}};
  job.wait_reason = reason;
  job.dedupe_key = "chat_reply:" + message_id;
  return job;
}

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
    if (profile_) {
      try {
        profile_->observe_message(user_id, m);  // read now, so the profile sees every message
      } catch (const Error&) {
      }
    }
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
    ChatTurnResult r = partial_;  // the tool calls made before the provider dropped
    r.user_memory_id = m.id;
    r.queued = true;
    r.notice = std::string("The model is unreachable (") + e.what() + "): your message is saved and will be answered when it is back.";
    queue_turn(user_id, m, e.what());
    return r;
  }
}

std::string CompanionService::queue_turn(const std::string& user_id, const Memory& user_message, const std::string& reason) {
  return jobs_.enqueue(chat_reply_job(user_id, user_message.id, reason));
}

namespace {

int estimate_request_tokens(const ChatRequest& request) {
  size_t bytes = 0;
  for (const auto& m : request.messages) {
    bytes += m.content.size() + 8;
    for (const auto& tc : m.tool_calls) bytes += tc.name.size() + tc.arguments.dump().size();
  }
  for (const auto& t : request.tools) bytes += t.name.size() + t.description.size() + t.parameters.dump().size();
  return static_cast<int>((bytes + 3) / 4);
}

// A provider that refuses a request because of its tools (Ollama: "does not
// support tools", HTTP 400; OpenAI-compatible servers: 400/422 naming tools).
bool refused_tools(const Error& e) {
  std::string what = e.what();
  std::transform(what.begin(), what.end(), what.begin(), [](unsigned char c) { return std::tolower(c); });
  return what.find("tool") != std::string::npos || what.find("http 400") != std::string::npos ||
         what.find("http 422") != std::string::npos;
}

nlohmann::json tool_call_json(const ToolCallRecord& t) {
  auto args = nlohmann::json::parse(t.arguments_json, nullptr, false);
  nlohmann::json j = {{"id", t.id},
                      {"name", t.name},
                      {"arguments", args.is_discarded() ? nlohmann::json(t.arguments_json) : args},
                      {"result", truncate_utf8(t.result, 2000)},
                      {"is_error", t.is_error},
                      {"step", t.step}};
  if (!t.core_label.empty()) {
    j["core_label"] = t.core_label;
    j["core_version"] = t.core_version;
  }
  return j;
}

}  // namespace

std::string CompanionService::system_prompt(const std::string& user_id, const BuiltContext& ctx,
                                            const std::string& core_text, bool tools_offered) {
  std::string system = persona_.prompt + "\n\nToday is " + format_iso8601(clock_.now()).substr(0, 10) + ".\n\n";
  system += "# Core memory\n";
  system += tools_offered
                ? "These blocks are always in view. Keep them current with core_memory_append, core_memory_replace, "
                  "memory_insert and memory_rethink; each block has a character limit, and read-only blocks are the "
                  "user's. Store other lasting details with archival_memory_insert; look things up with "
                  "archival_memory_search (long-term memory) and conversation_search (earlier messages).\n"
                : "These blocks are always in view.\n";
  system += core_text;
  // The figures are for the model's orientation, so a count up to a minute
  // old does (pending suggestions count too). Counted from the (user, type,
  // time) and (user, time) indexes alone: with the approved filter every row
  // was read, 60 ms a turn at 100k memories.
  MemoryCounts& counts = memory_counts_[user_id];
  const TimePoint now = clock_.now();
  if (counts.counted_at == TimePoint{} || now - counts.counted_at > std::chrono::minutes(1) ||
      now < counts.counted_at) {
    MemoryFilter chats;
    chats.user_id = user_id;
    chats.types = {std::string(memory_types::kChat)};
    chats.approved = std::nullopt;
    MemoryFilter all;
    all.user_id = user_id;
    all.approved = std::nullopt;
    counts.chats = store_.count(chats);
    counts.archival = store_.count(all) - counts.chats;
    counts.counted_at = now;
  }
  const int64_t chat_count = counts.chats;
  const int64_t archival_count = counts.archival;
  const auto changed = store_.core_memory().blocks_changed_at(user_id);
  system += "\n# Memory metadata\n- Core memory last changed: " +
            (changed ? format_iso8601(*changed).substr(0, 16) + " UTC" : std::string("never")) + "\n" +
            "- Recall memory: " + std::to_string(chat_count) + " messages in the conversation history\n" +
            "- Archival memory: " + std::to_string(archival_count) + " memories\n\n";
  const std::string rendered = ctx.render();
  system += rendered.empty() ? "You have no stored memories about this yet.\n" : "# Your memories\n\n" + rendered;
  return system;
}

ChatResponse CompanionService::run_loop(ChatRequest& request, const std::string& user_id, const std::string& turn_id,
                                        const std::function<void(std::string_view)>* on_delta, ChatTurnResult& r) {
  std::string text;  // the reply so far, all steps
  bool separate = false;
  std::function<void(std::string_view)> stream = [&](std::string_view delta) {
    if (separate) {
      (*on_delta)("\n\n");
      separate = false;
    }
    (*on_delta)(delta);
  };
  int call_counter = static_cast<int>(r.tool_calls.size());
  for (int step = 1;; ++step) {
    const bool last = step > options_.max_tool_steps && !request.tools.empty();
    if (last) {
      request.tools.clear();
      request.messages.push_back(
          {"system", "You have used all the tool steps of this turn. Answer the user now, without calling tools."});
    }
    last_request_ = request;
    r.prompt.steps = step;
    r.prompt.estimated_tokens = estimate_request_tokens(request);
    separate = !text.empty();
    ChatResponse response = llm_->chat(request, on_delta ? &stream : nullptr);
    r.prompt.provider_prompt_tokens = response.prompt_tokens;
    if (!response.text.empty()) text += (text.empty() ? "" : "\n\n") + response.text;
    if (response.tool_calls.empty() || request.tools.empty()) {
      response.text = text;
      return response;
    }
    ChatMessage assistant{"assistant", response.text};
    for (auto& call : response.tool_calls) {
      // Ids must be unique within the turn (Ollama gives none, or call_0 every step).
      ++call_counter;
      if (call.id.empty() || std::any_of(r.tool_calls.begin(), r.tool_calls.end(),
                                         [&](const ToolCallRecord& t) { return t.id == call.id; }))
        call.id = "call_" + std::to_string(step) + "_" + std::to_string(call_counter);
      assistant.tool_calls.push_back(call);
    }
    request.messages.push_back(assistant);
    for (const auto& call : assistant.tool_calls) {
      ToolContext tctx;
      tctx.user_id = user_id;
      tctx.turn_id = turn_id;
      tctx.tool_call_id = call.id;
      tctx.caller = "agent";
      const ToolResult result = tools_.call(call.name, call.arguments, tctx);
      ToolCallRecord rec;
      rec.id = call.id;
      rec.name = call.name;
      rec.arguments_json = call.arguments.is_string() ? call.arguments.get<std::string>() : call.arguments.dump();
      rec.result = result.text;
      rec.is_error = result.is_error;
      rec.core_label = result.core_label;
      rec.core_version = result.core_version;
      rec.step = step;
      r.tool_calls.push_back(rec);
      partial_.tool_calls = r.tool_calls;
      ChatMessage back{"tool", result.is_error ? "Error: " + result.text : result.text};
      back.tool_call_id = call.id;
      back.tool_name = call.name;
      back.is_error = result.is_error;
      request.messages.push_back(back);
    }
  }
}

ChatTurnResult CompanionService::answer(const std::string& user_id, const Memory& user_message,
                                        const std::function<void(std::string_view)>* on_delta) {
  partial_ = ChatTurnResult{};
  partial_.user_memory_id = user_message.id;
  // Earlier turns as real messages; they are then not repeated in the context.
  MemoryFilter chats;
  chats.user_id = user_id;
  chats.types = {std::string(memory_types::kChat)};
  // A reply stored in the same millisecond as this message is history too
  // (the message itself is dropped by id below).
  chats.until = user_message.event_time + std::chrono::milliseconds(1);
  std::vector<Memory> history;
  std::optional<TurnSupport> support;
  if (profile_) {
    try {
      support = profile_->observe_message(user_id, user_message);
      history = profile_->history(user_id, user_message, options_.history_turns);
    } catch (const Error&) {
      support.reset();  // learning never fails a turn: the plain history below
    }
  }
  if (!support) {
    history = store_.list(chats, ListOrder::kNewestFirst, options_.history_turns + 1, 0);
    history.erase(std::remove_if(history.begin(), history.end(), [&](const Memory& h) { return h.id == user_message.id; }),
                  history.end());
    if (static_cast<int>(history.size()) > options_.history_turns) history.resize(static_cast<size_t>(options_.history_turns));
    std::reverse(history.begin(), history.end());
  }
  std::vector<std::string> exclude = {user_message.id};
  for (const auto& h : history) exclude.push_back(h.id);

  // Core memory first: it is always in the prompt (up to 3/4 of the budget);
  // the rest of the budget goes to the built context.
  CoreMemory core(store_.core_memory(), user_id);
  const size_t core_budget = std::max<size_t>(1024, static_cast<size_t>(options_.context.token_budget) * 3);
  const std::string core_text = render_core_blocks(core.blocks(), core_budget);
  ContextOptions context_options = options_.context;
  context_options.token_budget = std::max(0, context_options.token_budget - estimate_tokens(core_text));
  BuiltContext ctx = builder_.build(user_id, user_message.content, context_options, exclude);
  if (support) ctx.feelings = support->prompt;

  ChatTurnResult r;
  r.user_memory_id = user_message.id;
  r.prompt.core_memory_tokens = estimate_tokens(core_text);
  const bool offer = options_.tools && options_.max_tool_steps > 0;
  auto make_request = [&](bool with_tools) {
    ChatRequest request;
    request.messages.push_back({"system", system_prompt(user_id, ctx, core_text, with_tools)});
    for (const auto& h : history)
      request.messages.push_back({h.metadata.value("role", "user") == "assistant" ? "assistant" : "user", h.content});
    request.messages.push_back({"user", user_message.content});
    if (with_tools)
      for (const Tool* t : tools_.list(true)) request.tools.push_back({t->name, t->description, t->input_schema});
    return request;
  };
  if (!options_.tools) r.notice = "Memory tools are off for this model ([llm] tools = false): answered without them.";

  ChatRequest request = make_request(offer);
  ChatResponse response;
  try {
    response = run_loop(request, user_id, user_message.id, on_delta, r);
  } catch (const Error& e) {
    if (!(offer && (e.code() == ErrorCode::kInvalidInput || e.code() == ErrorCode::kUnavailable) && r.tool_calls.empty() && r.prompt.steps == 1 &&
          refused_tools(e)))
      throw;
    // The model (or server) does not take tools: the plain turn, as before tools.
    request = make_request(false);
    r.prompt = PromptSize{0, r.prompt.core_memory_tokens, 0, 0};
    response = run_loop(request, user_id, user_message.id, on_delta, r);
    r.notice = "This model does not take tool calls, so it answered without the memory tools (set [llm] tools = false "
               "to skip the attempt).";
  }
  if (response.text.find_first_not_of(" \t\r\n") == std::string::npos) {
    if (r.tool_calls.empty()) throw unavailable("the model sent an empty reply");
    // It used its tools but never answered (the step limit stopped it).
    response.text = "(I worked on my memory but did not get to an answer within " +
                    std::to_string(options_.max_tool_steps) + " steps. Could you ask again?)";
    r.notice = "The model stopped at the step limit (" + std::to_string(options_.max_tool_steps) +
               " tool steps) without a final answer.";
  }

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
                    {"model", llm_->model()},
                    {"prompt", {{"estimated_tokens", r.prompt.estimated_tokens},
                                {"core_memory_tokens", r.prompt.core_memory_tokens},
                                {"provider_prompt_tokens", r.prompt.provider_prompt_tokens},
                                {"steps", r.prompt.steps}}}};
  if (support) reply.metadata["support"] = support->metadata();
  if (!r.tool_calls.empty()) {
    nlohmann::json calls = nlohmann::json::array();
    for (const auto& t : r.tool_calls) calls.push_back(tool_call_json(t));
    reply.metadata["tool_calls"] = calls;
  }
  r.reply = response.text;
  r.reply_memory_id = store_.add(reply).id;
  r.used_memory_ids = ctx.used_memory_ids();
  store_.record_access(user_id, r.used_memory_ids, clock_.now());
  if (profile_) {
    try {
      reply.id = r.reply_memory_id;
      profile_->after_reply(user_id, user_message, reply, r.used_memory_ids);
    } catch (const Error&) {
    }
  }
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
  Job job;
  job.user_id = user_id;
  job.kind = "describe_image";
  job.payload = {{"entry_id", entry.id}, {"media_path", entry.media_path}};
  job.dedupe_key = "describe_image:" + entry.id;
  jobs_.enqueue(job);
  return "";
}

JobOutcome CompanionService::run_chat_reply(const Job& job) {
  if (!llm_) return JobOutcome::later("no LLM provider is configured");
  auto message = store_.get(job.user_id, job.payload.value("memory_id", ""));
  if (!message) return JobOutcome::finished({{"skipped", "the message was deleted"}});
  if (auto earlier = existing_reply(job.user_id, *message))
    return JobOutcome::finished({{"reply_memory_id", earlier->id}, {"skipped", "already answered"}});
  const ChatTurnResult r = answer(job.user_id, *message, nullptr);  // kUnavailable: the runner waits
  return JobOutcome::finished({{"reply_memory_id", r.reply_memory_id}});
}

JobOutcome CompanionService::run_describe_image(const Job& job) {
  if (!llm_ || !vision_) return JobOutcome::later("waits for a vision-capable model ([llm] vision = true)");
  if (!drafts_) return JobOutcome::later("the journal drafts are not open in this process");
  std::ifstream in(job.payload.value("media_path", ""), std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (bytes.empty()) return JobOutcome::finished({{"skipped", "the photo is gone"}});
  drafts_->set_image_description(job.payload.value("entry_id", ""), describe_image(bytes));
  return JobOutcome::finished({{"described", 1}});
}

void CompanionService::register_jobs(JobRegistry& registry) {
  JobKindPolicy replies;
  replies.lease = std::chrono::minutes(5);
  replies.wait_max = std::chrono::minutes(10);  // a user is waiting: look again soon
  registry.add("chat_reply", [this](const Job& j) { return run_chat_reply(j); }, replies);
  JobKindPolicy photos;
  photos.wait_max = std::chrono::hours(1);
  registry.add("describe_image", [this](const Job& j) { return run_describe_image(j); }, photos);
}

QueueRunResult CompanionService::run_queue(int limit) {
  JobRegistry registry;
  register_jobs(registry);
  JobRunner runner(jobs_, registry, new_job_holder_id(), clock_);
  runner.set_ignore_run_after(true);
  const JobRunReport report = runner.run_due(limit, std::chrono::minutes(10));
  QueueRunResult result;
  result.done = report.done;
  result.failed = report.failed + report.retried + report.waiting;
  return result;
}

std::string CompanionService::rate_last_reply(const std::string& user_id, int rating) {
  if (rating < 1 || rating > 5) throw invalid_input("a rating is a number from 1 to 5");
  MemoryFilter f;
  f.user_id = user_id;
  f.types = {std::string(memory_types::kChat)};
  for (auto& m : store_.list(f, ListOrder::kNewestFirst, 50, 0)) {
    if (m.metadata.value("role", "") != "assistant") continue;
    const bool first_rating = !m.metadata.contains("rating");
    m.metadata["rating"] = rating;
    m.metadata["rated_at"] = format_iso8601(clock_.now());
    store_.update(m);
    if (profile_) {
      try {
        profile_->on_rating(user_id, m, rating, first_rating);
      } catch (const Error&) {
      }
    }
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
