// Builds what the companion knows for one turn (seed 000's WaifuContext):
// memories of the last 24 h, the most relevant memories by search, the latest
// journals and the user profile (persistent memories and preferences), fitted
// into a token budget.
//
// Budget: tokens are estimated as bytes/4 (close enough for English and safe
// for CJK, which over-counts). Sections are filled in order of usefulness:
// profile, relevant memories (best first), recent memories, journals; an item
// that does not fit is dropped, a journal is cut to its first paragraph
// first. The ids of everything placed are returned so the reply can record
// which memories it used.
#pragma once

#include <string>
#include <vector>

#include "core/memory.h"
#include "search/searcher.h"
#include "store/knowledge.h"
#include "store/store.h"

namespace kioku {

struct ContextOptions {
  int token_budget = 2048;
  int relevant_limit = 8;
  int recent_hours = 24;
  int recent_limit = 20;
  int journal_limit = 3;
  int profile_limit = 10;
  int entity_limit = 5;  // entities named in the message whose facts are added
};

struct ContextItem {
  std::string memory_id;
  std::string text;
};

struct BuiltContext {
  std::vector<ContextItem> profile;
  std::vector<ContextItem> relevant;
  std::vector<ContextItem> recent;
  std::vector<ContextItem> journals;
  std::vector<ContextItem> entities;  // what the graph knows about people/places named in the message
  // How the user feels now and what helps them (src/profile; set by the
  // companion, "" when nothing is known): rendered first.
  std::string feelings;
  int estimated_tokens = 0;
  std::vector<std::string> used_memory_ids() const;
  // The sections as prompt text ("## What you know about the user" ...).
  std::string render() const;
};

int estimate_tokens(std::string_view text);

class ContextBuilder {
 public:
  ContextBuilder(MemoryStore& store, Searcher& searcher, const TimeSource& clock = system_time());
  // exclude_ids: memories not to repeat (e.g. the message being answered).
  BuiltContext build(const std::string& user_id, const std::string& query, const ContextOptions& options,
                     const std::vector<std::string>& exclude_ids = {});
  // With a knowledge graph, the context also says what is known about the
  // entities the message names, and search also looks for their other names.
  void set_knowledge(KnowledgeStore* knowledge) { knowledge_ = knowledge; }

 private:
  MemoryStore& store_;
  Searcher& searcher_;
  const TimeSource& clock_;
  KnowledgeStore* knowledge_ = nullptr;
};

}  // namespace kioku
