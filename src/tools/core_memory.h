// CoreMemory: the rules of core memory blocks on top of CoreMemoryStore.
//
//  - Every user has the default blocks persona (2048 characters), human
//    (2048) and system (1024, read-only to the agent); they are created on
//    first use and cannot be removed. Users add their own blocks.
//  - Limits count characters (Unicode code points). An agent edit that would
//    pass a block's limit fails with kTooLarge naming the block, its limit
//    and the size asked for; the block is unchanged. The user may write past
//    a limit (the prompt then shows the block cut, see render()), so a turn
//    never fails because of an oversized block.
//  - Agent edits of a read-only block fail with kConflict.
//  - Every change, rollback included, is a new version (the store keeps
//    them all); rollback writes the content of an old version as the newest.
// Failure: kioku::Error (kNotFound for unknown labels or versions, with the
// labels that do exist). Thread safety: one instance per thread (its store).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "store/core_memory.h"

namespace kioku {

struct CoreBlockDefault {
  std::string label;
  int limit;
  bool read_only;
  std::string description;
};
// persona, human, system (seed 003's configuration).
const std::vector<CoreBlockDefault>& default_core_blocks();

// Characters (code points) of UTF-8 text.
size_t char_count(std::string_view text);

// What a user edit may change; unset fields keep their value.
struct CoreBlockEdit {
  std::optional<std::string> value;
  std::optional<std::string> description;
  std::optional<int> limit;
  std::optional<bool> read_only;
  std::optional<int> expected_version;  // kConflict when the block moved on
};

// A line diff between two texts: lines prefixed "  ", "- " or "+ ".
std::string diff_lines(const std::string& before, const std::string& after);

class CoreMemory {
 public:
  CoreMemory(CoreMemoryStore& store, std::string user_id) : store_(store), user_id_(std::move(user_id)) {}

  // All blocks (defaults created first when missing), defaults first, then by label.
  std::vector<CoreBlock> blocks();
  CoreBlock get(const std::string& label);

  // --- The agent's edits (Letta's tool semantics). author.kind is "agent"
  // unless the caller says otherwise (MCP clients act for the user's agent).
  // Each returns the new version of the block.
  CoreBlock append(const std::string& label, const std::string& content, const CoreBlockAuthor& author);
  // Replaces every occurrence of old_content; kInvalidInput when it does not occur.
  CoreBlock replace(const std::string& label, const std::string& old_content, const std::string& new_content,
                    const CoreBlockAuthor& author);
  // Inserts new_str before line insert_line (0 = at the start, -1 = at the end).
  CoreBlock insert(const std::string& label, const std::string& new_str, int insert_line, const CoreBlockAuthor& author);
  // Replaces the whole value.
  CoreBlock rethink(const std::string& label, const std::string& new_memory, const CoreBlockAuthor& author);

  // --- The user's edits: no limit check (warn with over_limit()).
  CoreBlock create(const CoreBlock& block);
  CoreBlock edit(const std::string& label, const CoreBlockEdit& edit);
  CoreBlock rollback(const std::string& label, int version);
  // User blocks only; the defaults stay.
  void remove(const std::string& label);

  std::vector<CoreBlockVersion> history(const std::string& label);
  CoreBlockVersion version(const std::string& label, int version);
  // Diff of version `from` to version `to` (to = 0: the current one).
  std::string diff(const std::string& label, int from, int to = 0);
  std::optional<TimePoint> changed_at() { return store_.blocks_changed_at(user_id_); }

  static bool over_limit(const CoreBlock& b) { return char_count(b.value) > static_cast<size_t>(b.limit); }

 private:
  CoreBlock agent_write(CoreBlock block, std::string new_value, const CoreBlockAuthor& author, const char* what);
  void ensure_defaults();

  CoreMemoryStore& store_;
  std::string user_id_;
  bool defaults_checked_ = false;
};

// The blocks as prompt text within max_bytes (Letta's <memory_blocks>
// layout): each with its label, description, size and limit. When the
// blocks do not fit, the longest are cut (marked, with the characters not
// shown) until they do: an oversized block never stops a prompt.
std::string render_core_blocks(const std::vector<CoreBlock>& blocks, size_t max_bytes);

// The JSON shapes of the CLI, the HTTP API and MCP.
nlohmann::json to_json(const CoreBlock& block);
nlohmann::json to_json(const CoreBlockVersion& version);

}  // namespace kioku
