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

// memories.content_hash on disk (migration v13): a SHA-256 in lower-case
// hex, which is what compute_content_hash and the bots write, is kept as its
// 32 bytes (half the row's and the unique index's bytes for it); any other
// key a caller sets stays text. SQLite never finds a BLOB equal to a TEXT, so
// each form deduplicates only against itself, and each reads back as written.
void bind_content_hash(sqlite::Statement& st, int index, const std::string& hash);
std::string read_content_hash(const sqlite::Statement& st, int column);

// The SQL functions memory.db's migrations call (kioku_content_hash_key,
// v13), on this connection.
void register_memory_sql_functions(sqlite::Database& db);
// Brings memory.db to the newest schema version (idempotent). Every class
// that opens memory.db migrates through this, after registering them.
void migrate_memory_database(sqlite::Database& db);

}  // namespace kioku
