// Private to src/store/sqlite: the schema of memory.db, shared by every
// class that opens a connection to it (memories, jobs).
#pragma once

#include "store/sqlite/database.h"

namespace kioku {

// Brings memory.db to the newest schema version (idempotent).
void migrate_memory_database(sqlite::Database& db);

}  // namespace kioku
