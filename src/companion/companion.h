// The companion's public face: one chat turn, memory-grounded.
//
// A turn (seed 000's normal mode): store the user's message as a memory,
// build the context (recent memories, relevant memories, journals, profile),
// generate with the persona, store the reply as a memory, mark the memories
// used as accessed. The user's message is persisted before any AI step; when
// no provider is reachable the turn is queued and `queued` is set.
// Thread safety: implementations document their own; callers on several
// threads should use one Companion per thread or serialise calls.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace kioku {

struct ChatTurnResult {
  std::string reply;                        // empty when queued
  std::vector<std::string> used_memory_ids;  // memories placed in the prompt
  std::string user_memory_id;               // the stored user message
  std::string reply_memory_id;              // the stored reply ("" when queued)
  bool queued = false;                      // provider unreachable: will be answered later
  std::string notice;                       // one line for the user, e.g. why it was queued
};

class Companion {
 public:
  virtual ~Companion() = default;
  // on_delta, when given, receives the reply as it streams.
  virtual ChatTurnResult chat(const std::string& user_id, const std::string& message,
                              const std::function<void(std::string_view delta)>* on_delta = nullptr) = 0;
};

}  // namespace kioku
