// SQLite implementation of CoreMemoryStore over memory.db's connection
// (tables core_blocks and core_block_versions, created by kMemoryMigrations).
// Private to src/store/sqlite; owned by the SqliteMemoryStore whose
// connection it shares, so it is single-threaded like that store.
#pragma once

#include "core/time.h"
#include "store/core_memory.h"
#include "store/sqlite/database.h"

namespace kioku::sqlite {

class SqliteCoreMemoryStore final : public CoreMemoryStore {
 public:
  SqliteCoreMemoryStore(Database& db, const TimeSource& clock) : db_(db), clock_(clock) {}

  std::vector<CoreBlock> list_blocks(const std::string& user_id) override;
  std::optional<CoreBlock> get_block(const std::string& user_id, const std::string& label) override;
  CoreBlock put_block(const std::string& user_id, const CoreBlock& block, const CoreBlockAuthor& author,
                      std::optional<int> expected_version) override;
  std::vector<CoreBlockVersion> block_history(const std::string& user_id, const std::string& label) override;
  std::optional<CoreBlockVersion> block_version(const std::string& user_id, const std::string& label,
                                                int version) override;
  bool remove_block(const std::string& user_id, const std::string& label) override;
  std::optional<TimePoint> blocks_changed_at(const std::string& user_id) override;

 private:
  Database& db_;
  const TimeSource& clock_;
};

}  // namespace kioku::sqlite
