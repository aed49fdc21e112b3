// CompanionService: the Companion (companion.h) on top of the store, search
// and an LLM client.
//
// NOTES ON THE DESIGN OF A TURN
//  1. The user's message is committed as a `chat` memory before anything else
//     can fail: nothing the user says is lost.
//  2. Without a reachable provider the turn becomes a `chat_reply` job
//     (src/jobs, persistent, leased); a job runner answers it later and the
//     reply is stored then. A job whose reply already exists completes
//     without asking again, so a crash between "reply stored" and "job done"
//     does not produce two replies.
//  3. The reply memory records the ids of the memories that were in the
//     prompt (metadata.used_memory_ids); those memories are marked accessed.
//  4. Suggested memories (off by default) come from a second, small request
//     after the reply and wait unapproved (approved=false, source ai_suggested).
//  5. The turn is an agent loop: the model is offered the memory tools
//     (src/tools), each call it makes runs and its result goes back, until it
//     answers without calls or max_tool_steps model calls asked for tools;
//     then one last call without tools asks for the answer. Text streams at
//     every step. Tool failures (bad arguments, unknown tool, a block's
//     limit) are results the model reads, never a failed turn.
//  6. Tool calls change the store as they run (core memory edits are
//     versioned with the turn and the call id). A provider that drops
//     mid-loop queues the turn as in 2; the calls already made stay, are
//     reported in the result, and the resumed turn sees their effects.
//  7. A model without tool calling ([llm] tools = false, or a provider that
//     refuses the tools of the first request) gets the plain turn and the
//     result carries a one-line notice.
//  8. The system prompt holds the persona, the core memory blocks (with
//     labels, sizes and limits), memory metadata and the built context, all
//     inside context.token_budget; blocks over their limit are cut in the
//     prompt, never fatal. result.prompt reports the size of every turn.
//  9. With a profile (set_profile), each stored message has its emotion read
//     and the reply a support strategy (src/profile/profile_service.h);
//     recent turns come from the write-through conversation cache. The
//     profile only ever adds to a turn: its failures are swallowed.
// Thread safety: one CompanionService per thread (it uses one store).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "companion/companion.h"
#include "companion/context_builder.h"
#include "companion/persona.h"
#include "jobs/jobs.h"
#include "journal/journal_service.h"
#include "llm/llm_client.h"
#include "profile/profile_service.h"
#include "search/searcher.h"
#include "store/store.h"
#include "tools/tool_registry.h"

namespace kioku {

struct CompanionOptions {
  ContextOptions context;
  int history_turns = 10;  // earlier chat turns sent as messages
  bool suggestions = false;
  double suggestion_threshold = 0.6;  // minimum importance of a suggestion
  bool tools = true;                  // offer the memory tools (and the model takes them)
  int max_tool_steps = 6;             // model calls that may ask for tools in one turn
  bool agent_memories_need_approval = false;  // agent inserts wait as suggestions
};

struct QueueRunResult {
  int done = 0;
  int failed = 0;
};

// The ids of the memories a stored reply was grounded in (its metadata).
std::vector<std::string> used_memory_ids_of(const Memory& reply);

// The `chat` memory of a user's message (role user), as every turn stores
// it first. Throws kInvalidInput for an empty message.
Memory user_chat_memory(const std::string& user_id, const std::string& message, TimePoint at, std::string message_id);
// The job that answers a stored user message later (one per message: its
// dedupe key is the message's id).
Job chat_reply_job(const std::string& user_id, const std::string& message_id, const std::string& reason);

class CompanionService final : public Companion {
 public:
  // llm may be null (no provider configured): turns are then queued as jobs.
  CompanionService(MemoryStore& store, JobStore& jobs, Searcher& searcher, LlmClient* llm, Persona persona,
                   CompanionOptions options, const TimeSource& clock = system_time());

  ChatTurnResult chat(const std::string& user_id, const std::string& message,
                      const std::function<void(std::string_view delta)>* on_delta = nullptr) override;

  // A turn for a message that has its own identity elsewhere (a Telegram
  // update): handled twice, as after a crash before the bot noted it done,
  // it is stored once and answered once; the second call returns the first
  // reply (or queues, or answers, whatever the first call did not finish).
  struct IncomingMessage {
    std::string source_id;  // unique per message, e.g. "telegram:<chat>:<message>"
    TimePoint sent_at;
  };
  ChatTurnResult chat_incoming(const std::string& user_id, const std::string& message, const IncomingMessage& incoming,
                               const std::function<void(std::string_view delta)>* on_delta = nullptr);

  // Adds the companion's job kinds (chat_reply, describe_image) to registry;
  // the handlers use this service, which must outlive the registry's use.
  void register_jobs(JobRegistry& registry);
  // Runs the companion's due jobs now (kioku queue run, tests): a runner
  // over register_jobs(). A kind whose provider is down waits.
  QueueRunResult run_queue(int limit = 20);

  // Asks the (vision-capable) model for a short description of a photo.
  // Throws kUnavailable when no model is reachable.
  std::string describe_image(const std::string& jpeg_bytes);
  // Describes a journal photo now if possible, else queues it (a
  // `describe_image` job). Returns the description or "".
  std::string describe_or_queue(const std::string& user_id, const JournalEntry& entry);
  // Where journal photo descriptions go (needed by run_queue for
  // describe_image tasks).
  void set_journal_drafts(JournalDraftStore* drafts) { drafts_ = drafts; }
  void set_vision(bool vision) { vision_ = vision; }
  // The knowledge graph the context builder reads (null: none).
  void set_knowledge(KnowledgeStore* knowledge) { builder_.set_knowledge(knowledge); }

  // What the companion learns about the user (src/profile): the emotion of
  // each message, the support strategy of each reply and how it went,
  // importance patterns, the cached conversation. Null: none of it.
  void set_profile(ProfileService* profile) { profile_ = profile; }
  ProfileService* profile() { return profile_; }

  // Stores a 1-5 rating on the user's last reply. Throws kNotFound when there
  // is no reply yet, kInvalidInput for a rating outside 1-5.
  std::string rate_last_reply(const std::string& user_id, int rating);

  // The last request sent to the provider (for --json and tests).
  const ChatRequest& last_request() const { return last_request_; }
  // The memory tools (the agent loop's; the MCP server builds its own).
  const ToolRegistry& tools() const { return tools_; }

 private:
  ChatTurnResult answer(const std::string& user_id, const Memory& user_message,
                        const std::function<void(std::string_view)>* on_delta);
  std::optional<Memory> existing_reply(const std::string& user_id, const Memory& user_message);
  // Answers a stored user message, or queues it when no model answers.
  ChatTurnResult respond(const std::string& user_id, const Memory& user_message,
                         const std::function<void(std::string_view delta)>* on_delta);
  void suggest_memories(const std::string& user_id, const std::string& message, const std::string& reply);
  std::string queue_turn(const std::string& user_id, const Memory& user_message, const std::string& reason);
  // The system prompt: persona, date, core memory, memory metadata, context.
  std::string system_prompt(const std::string& user_id, const BuiltContext& ctx, const std::string& core_text,
                            bool tools_offered);
  // Runs the agent loop on request; fills result.tool_calls and prompt as it goes.
  ChatResponse run_loop(ChatRequest& request, const std::string& user_id, const std::string& turn_id,
                        const std::function<void(std::string_view)>* on_delta, ChatTurnResult& result);

  JobOutcome run_chat_reply(const Job& job);
  JobOutcome run_describe_image(const Job& job);

  MemoryStore& store_;
  JobStore& jobs_;
  Searcher& searcher_;
  LlmClient* llm_;
  Persona persona_;
  CompanionOptions options_;
  const TimeSource& clock_;
  ContextBuilder builder_;
  ChatRequest last_request_;
  ToolRegistry tools_;
  // Partial results of a turn that failed mid-loop (tool calls already made).
  ChatTurnResult partial_;
  JournalDraftStore* drafts_ = nullptr;
  bool vision_ = false;
  ProfileService* profile_ = nullptr;
  // The memory metadata figures of the system prompt, per user: counting
  // 100k rows took 3-4 ms of every turn, and the model only needs their size.
  struct MemoryCounts {
    int64_t chats = 0;
    int64_t archival = 0;
    TimePoint counted_at{};
  };
  std::unordered_map<std::string, MemoryCounts> memory_counts_;
};

// Journal compilation by the LLM: title, markdown article and tags. Falls
// back to the plain compile (marked for a later re-compile) when the provider
// is unreachable or answers nonsense, so `journal done` always finishes.
class LlmJournalCompiler final : public JournalCompiler {
 public:
  explicit LlmJournalCompiler(LlmClient& llm) : llm_(llm) {}
  CompiledJournal compile(const std::vector<JournalEntry>& entries, TimePoint started_at) override;

 private:
  LlmClient& llm_;
  PlainJournalCompiler fallback_;
};

// Finds the first JSON object or array in text (models like code fences).
std::optional<nlohmann::json> extract_json(std::string_view text);

}  // namespace kioku
