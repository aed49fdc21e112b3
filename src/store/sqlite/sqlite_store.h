// SQLite backends of the store interfaces (the embedded default).
#pragma once

#include <filesystem>
#include <memory>

#include "core/time.h"
#include "store/job_store.h"
#include "store/spool_store.h"
#include "store/store.h"
#include "store/user_store.h"

namespace kioku {

// Opens (creating and migrating) memory.db at path.
std::unique_ptr<MemoryStore> open_sqlite_memory_store(const std::filesystem::path& path,
                                                      const TimeSource& clock = system_time());
// The jobs of memory.db at path, on a connection of its own (creating and
// migrating the database like open_sqlite_memory_store).
std::unique_ptr<JobStore> open_sqlite_job_store(const std::filesystem::path& path,
                                                const TimeSource& clock = system_time());
// The users and token hashes of memory.db at path, on a connection of its own.
std::unique_ptr<UserStore> open_sqlite_user_store(const std::filesystem::path& path,
                                                  const TimeSource& clock = system_time());
// Opens (creating and migrating) journal.db at path.
std::unique_ptr<JournalDraftStore> open_sqlite_journal_store(const std::filesystem::path& path,
                                                             const TimeSource& clock = system_time());

// Opens (creating and migrating) the write spool at path (spool.db in the
// data directory: the writes taken while PostgreSQL was unreachable).
std::unique_ptr<SpoolStore> open_sqlite_spool_store(const std::filesystem::path& path,
                                                    const TimeSource& clock = system_time());

// A backup is a folder holding memory.db and journal.db copies made with
// SQLite's online backup API (consistent while kioku runs).
void backup_sqlite_data(MemoryStore& memories, JournalDraftStore& drafts, const std::filesystem::path& folder);
// Verifies the backup's files and copies them over the databases in data_dir
// (page by page through SQLite, so WAL files stay consistent). Stop other
// kioku processes first.
void restore_sqlite_data(const std::filesystem::path& folder, const std::filesystem::path& data_dir);

}  // namespace kioku
