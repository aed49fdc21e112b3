// The schema of memory.db, shared by the SQLite stores that open it
// (SqliteMemoryStore, SqliteKnowledgeStore): whichever opens the file first
// migrates it. Private to src/store/sqlite.
#pragma once

#include <string>
#include <vector>

namespace kioku {

const std::vector<std::string>& sqlite_memory_migrations();

}  // namespace kioku
