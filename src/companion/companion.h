// The companion's public face: one chat turn, memory-grounded.
//
// A turn (seed 000's normal mode): store the user's message as a memory,
// build the context (core memory blocks, recent memories, relevant memories,
// journals, profile), let the model call the memory tools until it answers,
// store the reply as a memory, mark the memories used as accessed. The user's message is persisted before any AI step; when
// no provider is reachable the turn is queued and `queued` is set.
// Thread safety: implementations document their own; callers on several
// threads should use one Companion per thread or serialise calls.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace kioku {

// One tool call the model made during a turn, and what it got back.
struct ToolCallRecord {
  std::string id;
  std::string name;
  std::string arguments_json;  // as the model sent them
  std::string result;          // the text the model read
  bool is_error = false;
  std::string core_label;  // set when the call made a new core memory version
  int core_version = 0;
  int step = 0;  // 1-based model call that asked for it
};

// How big the turn's prompt was (blocks that grow unchecked make agents expensive).
struct PromptSize {
  int estimated_tokens = 0;       // the last request's messages, bytes/4
  int core_memory_tokens = 0;     // of which the core memory blocks
  int provider_prompt_tokens = 0; // what the provider counted for the last call (0: not reported)
  int steps = 0;                  // model calls in the turn
};

struct ChatTurnResult {
  std::string reply;                        // empty when queued
  std::vector<std::string> used_memory_ids;  // memories placed in the prompt
  std::string user_memory_id;               // the stored user message
  std::string reply_memory_id;              // the stored reply ("" when queued)
  bool queued = false;                      // provider unreachable: will be answered later
  std::string notice;                       // one line for the user, e.g. why it was queued
  std::vector<ToolCallRecord> tool_calls;   // in the order they ran (kept when the turn was queued mid-way)
  PromptSize prompt;
};

class Companion {
 public:
  virtual ~Companion() = default;
  // on_delta, when given, receives the reply as it streams.
  virtual ChatTurnResult chat(const std::string& user_id, const std::string& message,
                              const std::function<void(std::string_view delta)>* on_delta = nullptr) = 0;
};

}  // namespace kioku
