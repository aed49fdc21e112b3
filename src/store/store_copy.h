// Copies a whole Kioku store between backends: the SQLite files of a data
// folder (memory.db, journal.db) and a PostgreSQL database, either way
// (`kioku migrate --to`). Every table is copied row by row with the same
// columns: memories, journals, vectors, relations, the graph, lifecycle,
// core blocks and their versions, jobs and the scheduler, journal drafts,
// users and their token hashes, and the learned profile (emotions,
// strategies and their history, importance patterns and predictions,
// conversation state).
//
// Safe to rerun: a row whose key is already in the destination is left as
// it is, so an interrupted copy continues where it stopped. Afterwards each
// table is verified: the rows of the source (of `user` when given) must be
// in the destination with the same count and the same checksum (SHA-256 over
// the sorted, canonical rows: JSON re-serialised, numbers in one format), so
// a destination that already held other rows for the same keys fails.
// With a user, only that user's rows move (the embedding cache and the
// scheduler's slots, which belong to no user, stay behind).
// Failures throw kioku::Error; a failed verification is kConflict naming the
// tables that differ. Thread safety: opens connections of its own.
#pragma once

#include <filesystem>
#include <map>
#include <string>

namespace kioku {

// A SQLite data folder, or a postgresql:// URL.
struct StoreLocation {
  std::filesystem::path sqlite_dir;
  std::string postgres_url;
  static StoreLocation parse(const std::string& folder_or_url);
  std::string describe() const;  // for messages (the URL's password masked)
};

struct TableCopy {
  int64_t source_rows = 0;
  int64_t copied = 0;  // new in the destination
  std::string checksum;
};

struct CopyReport {
  std::map<std::string, TableCopy> tables;
  bool verified = false;
};

CopyReport copy_store(const StoreLocation& from, const StoreLocation& to, const std::string& user = "");

}  // namespace kioku
