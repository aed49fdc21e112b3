// SQLite backends of the store interfaces (the embedded default).
#pragma once

#include <filesystem>
#include <memory>

#include "core/time.h"
#include "store/store.h"

namespace kioku {

// Opens (creating and migrating) memory.db at path.
std::unique_ptr<MemoryStore> open_sqlite_memory_store(const std::filesystem::path& path,
                                                      const TimeSource& clock = system_time());
// Opens (creating and migrating) journal.db at path.
std::unique_ptr<JournalDraftStore> open_sqlite_journal_store(const std::filesystem::path& path,
                                                             const TimeSource& clock = system_time());

}  // namespace kioku
