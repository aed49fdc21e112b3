// Private to src/store/sqlite: the schema of memory.db, shared by every
// class that opens a connection to it (memories, jobs).
#pragma once

#include "core/memory.h"
#include "store/sqlite/database.h"

namespace kioku {

// The columns of a memory row (table alias m), in the order read_memory_row
// reads them, and that reader: one definition for every class that loads
// memories from memory.db.
const char* memory_columns();
Memory read_memory_row(const sqlite::Statement& st);

// Brings memory.db to the newest schema version (idempotent).
void migrate_memory_database(sqlite::Database& db);

}  // namespace kioku
