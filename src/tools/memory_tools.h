// The memory tools of seed 003's three layers, registered into a
// ToolRegistry:
//   core memory     core_memory_append, core_memory_replace, memory_insert,
//                   memory_rethink (Letta's names and arguments)
//   archival        archival_memory_insert, archival_memory_search
//   recall          conversation_search
//   MCP only        add_memory, search_memory, get_memory, update_memory,
//                   delete_memory, list_journals
// Handlers keep references to the store and searcher: the registry must not
// outlive them. Memories the agent inserts are pending suggestions
// (approved=false) when MemoryToolOptions::inserts_need_approval is set.
#pragma once

#include "core/time.h"
#include "search/searcher.h"
#include "store/store.h"
#include "tools/tool_registry.h"

namespace kioku {

struct MemoryToolOptions {
  bool inserts_need_approval = false;
  int max_results = 50;  // cap of top_k / limit
};

void register_memory_tools(ToolRegistry& registry, MemoryStore& store, Searcher& searcher,
                           const MemoryToolOptions& options = {}, const TimeSource& clock = system_time());

// A memory as tools show it (id, type, content, tags, time, importance).
nlohmann::json tool_memory_json(const Memory& m);

}  // namespace kioku
