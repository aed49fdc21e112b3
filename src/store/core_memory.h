// Core memory blocks (seed 003, after MemGPT/Letta): short labelled texts that
// are always in the companion's prompt and that the user and the agent edit.
// Every change is kept as a numbered version (1, 2, ...) of its block, with
// who made it (user or agent), the tool call and chat turn behind it, and
// when, so any edit can be inspected and undone.
//
// Contract: put_block() writes the block and its new version in one
// transaction; with expected_version set it throws kConflict when the block
// moved on meanwhile (two editors never silently overwrite each other).
// Policy (limits, read-only blocks, defaults) lives above the store, in
// src/tools/core_memory.h: the store keeps whatever it is given.
// Thread safety: like MemoryStore, one thread at a time.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/time.h"

namespace kioku {

struct CoreBlock {
  std::string label;
  std::string value;
  std::string description;
  int limit = 2048;  // characters (Unicode code points)
  bool read_only = false;
  int version = 0;  // the version this content is; 0 = never stored
  TimePoint updated_at{};
};

struct CoreBlockAuthor {
  std::string kind = "user";  // "user" or "agent"
  std::string tool_call_id;   // the agent's tool call that made the change
  std::string tool_name;
  std::string turn_id;        // the chat turn (its user message id)
  std::string note;           // e.g. "rollback to 2"
};

struct CoreBlockVersion {
  CoreBlock block;  // the content as of this version
  CoreBlockAuthor author;
  TimePoint created_at{};
};

class CoreMemoryStore {
 public:
  virtual ~CoreMemoryStore() = default;
  // The user's blocks, ordered by label.
  virtual std::vector<CoreBlock> list_blocks(const std::string& user_id) = 0;
  virtual std::optional<CoreBlock> get_block(const std::string& user_id, const std::string& label) = 0;
  // Stores block as the next version of its label (creating the block at
  // version 1) and returns it with version and updated_at set.
  virtual CoreBlock put_block(const std::string& user_id, const CoreBlock& block, const CoreBlockAuthor& author,
                              std::optional<int> expected_version = std::nullopt) = 0;
  // Oldest first.
  virtual std::vector<CoreBlockVersion> block_history(const std::string& user_id, const std::string& label) = 0;
  virtual std::optional<CoreBlockVersion> block_version(const std::string& user_id, const std::string& label,
                                                        int version) = 0;
  // Deletes the block and its history. Returns false when there was none.
  virtual bool remove_block(const std::string& user_id, const std::string& label) = 0;
  // When any of the user's blocks last changed (nullopt: never).
  virtual std::optional<TimePoint> blocks_changed_at(const std::string& user_id) = 0;
};

}  // namespace kioku
