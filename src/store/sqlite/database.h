// Thin RAII wrapper over the SQLite C API, private to src/store/sqlite.
// Errors become kioku::Error(kIo) naming the database file and SQLite's message.
// Not thread-safe: one Database per thread.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace kioku::sqlite {

class Database;

// A prepared statement with 1-based binds and 0-based column reads.
class Statement {
 public:
  Statement(Database& db, sqlite3_stmt* stmt) : db_(&db), stmt_(stmt) {}
  Statement& bind(int index, std::string_view value);
  Statement& bind(int index, int64_t value);
  Statement& bind(int index, int value) { return bind(index, static_cast<int64_t>(value)); }
  Statement& bind(int index, double value);
  Statement& bind_blob(int index, const void* data, size_t bytes);
  Statement& bind_null(int index);
  // Binds nullopt as NULL.
  Statement& bind_optional(int index, const std::optional<int64_t>& value);
  // Returns true while there is a row.
  bool step();
  // Runs to completion (for writes).
  void run();
  std::string text(int column) const;
  int64_t integer(int column) const;
  double real(int column) const;
  bool is_null(int column) const;
  bool is_blob(int column) const;
  const void* blob(int column) const;
  int blob_bytes(int column) const;
  void reset();

 private:
  Database* db_;
  sqlite3_stmt* stmt_;
};

class Database {
 public:
  // Opens (creating if needed) and applies Kioku's pragmas: WAL,
  // synchronous=NORMAL, 64 MB cache, temp_store=MEMORY, 256 MB mmap,
  // foreign keys on, busy timeout 5 s.
  explicit Database(const std::filesystem::path& path);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  void exec(std::string_view sql);
  // Cached prepared statement, reset and with bindings cleared.
  Statement prepare(const std::string& sql);
  int64_t changes() const;
  int user_version();
  void set_user_version(int v);
  // Applies migrations[i] for every i >= user_version, each in its own
  // transaction together with the version bump.
  void migrate(const std::vector<std::string>& migrations);
  // Runs fn inside BEGIN IMMEDIATE ... COMMIT; rolls back if fn throws.
  // Nested calls join the outer transaction.
  void transaction(const std::function<void()>& fn);
  void backup_to(const std::filesystem::path& destination);
  // Replaces this database's content with a verified copy of source.
  void restore_from(const std::filesystem::path& source);
  const std::filesystem::path& path() const { return path_; }
  sqlite3* handle() { return db_; }
  [[noreturn]] void fail(std::string_view what, int rc);

 private:
  std::filesystem::path path_;
  sqlite3* db_ = nullptr;
  std::unordered_map<std::string, sqlite3_stmt*> cache_;
  int transaction_depth_ = 0;
  // Shared by every connection of this process to the same file (see
  // transaction()).
  std::shared_ptr<std::timed_mutex> writer_lock_;
};

}  // namespace kioku::sqlite
