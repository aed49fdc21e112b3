#include "store/sqlite/database.h"

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <map>

#include "core/error.h"
#include "store/sqlite/cjk_tokenizer.h"

namespace kioku::sqlite {

Statement& Statement::bind(int index, std::string_view value) {
  int rc = sqlite3_bind_text(stmt_, index, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT);
  if (rc != SQLITE_OK) db_->fail("bind", rc);
  return *this;
}
Statement& Statement::bind(int index, int64_t value) {
  int rc = sqlite3_bind_int64(stmt_, index, value);
  if (rc != SQLITE_OK) db_->fail("bind", rc);
  return *this;
}
Statement& Statement::bind(int index, double value) {
  int rc = sqlite3_bind_double(stmt_, index, value);
  if (rc != SQLITE_OK) db_->fail("bind", rc);
  return *this;
}
Statement& Statement::bind_blob(int index, const void* data, size_t bytes) {
  int rc = sqlite3_bind_blob(stmt_, index, data, static_cast<int>(bytes), SQLITE_TRANSIENT);
  if (rc != SQLITE_OK) db_->fail("bind", rc);
  return *this;
}
Statement& Statement::bind_null(int index) {
  int rc = sqlite3_bind_null(stmt_, index);
  if (rc != SQLITE_OK) db_->fail("bind", rc);
  return *this;
}
Statement& Statement::bind_optional(int index, const std::optional<int64_t>& value) {
  return value ? bind(index, *value) : bind_null(index);
}

bool Statement::step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  sqlite3_reset(stmt_);
  db_->fail("step", rc);
}

void Statement::run() {
  while (step()) {
  }
}

std::string Statement::text(int column) const {
  const unsigned char* p = sqlite3_column_text(stmt_, column);
  if (!p) return {};
  return std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(sqlite3_column_bytes(stmt_, column)));
}
int64_t Statement::integer(int column) const { return sqlite3_column_int64(stmt_, column); }
double Statement::real(int column) const { return sqlite3_column_double(stmt_, column); }
bool Statement::is_null(int column) const { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }
bool Statement::is_blob(int column) const { return sqlite3_column_type(stmt_, column) == SQLITE_BLOB; }
const void* Statement::blob(int column) const { return sqlite3_column_blob(stmt_, column); }
int Statement::blob_bytes(int column) const { return sqlite3_column_bytes(stmt_, column); }
void Statement::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

namespace {

// One writer lock per database file for the whole process.
std::shared_ptr<std::timed_mutex> writer_lock_for(const std::filesystem::path& path) {
  static std::mutex registry_mutex;
  static std::map<std::string, std::weak_ptr<std::timed_mutex>> registry;
  std::error_code ec;
  auto key = std::filesystem::weakly_canonical(path, ec).string();
  if (ec) key = path.string();
  std::lock_guard<std::mutex> lock(registry_mutex);
  auto& slot = registry[key];
  auto lock_ptr = slot.lock();
  if (!lock_ptr) slot = lock_ptr = std::make_shared<std::timed_mutex>();
  return lock_ptr;
}

}  // namespace

Database::Database(const std::filesystem::path& path) : path_(path), writer_lock_(writer_lock_for(path)) {
  // Created owner-only: SQLite gives -wal and -shm the database's mode.
  if (const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600); fd >= 0) ::close(fd);
  int rc = sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                           nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    sqlite3_close(db_);
    db_ = nullptr;
    throw io_error("cannot open database " + path.string() + ": " + msg);
  }
  sqlite3_busy_timeout(db_, 5000);
  sqlite3_extended_result_codes(db_, 1);
  // memories_fts tokenizes with it; every connection must know it before
  // the first write to memories (see cjk_tokenizer.h).
  if (const int tokenizer_rc = register_cjk_tokenizer(db_); tokenizer_rc != SQLITE_OK) {
    sqlite3_close_v2(db_);
    db_ = nullptr;
    throw io_error("cannot open database " + path.string() + ": FTS5 tokenizer: " + sqlite3_errstr(tokenizer_rc));
  }
  try {
    // Before anything is written (it only applies to a new file): 8 KiB
    // pages hold five 384-d float32 vectors where 4 KiB pages hold two
    // (issue 15: 1,638 instead of 2,048 bytes per vector).
    exec("PRAGMA page_size = 8192");
    exec("PRAGMA journal_mode = WAL");
    exec("PRAGMA synchronous = NORMAL");
    exec("PRAGMA cache_size = -64000");
    exec("PRAGMA temp_store = MEMORY");
    exec("PRAGMA mmap_size = 268435456");
    exec("PRAGMA foreign_keys = ON");
  } catch (...) {
    // A file that is not a database fails here; the destructor will not run.
    sqlite3_close_v2(db_);
    db_ = nullptr;
    throw;
  }
}

Database::~Database() {
  for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
  if (db_) sqlite3_close_v2(db_);
}

namespace {

// Another process holds the write lock for longer than the busy timeout
// (e.g. a long `kioku import`): a temporary condition, so kUnavailable
// (HTTP 503 with Retry-After, exit 5), not an I/O failure.
bool is_busy(int rc) { return (rc & 0xFF) == SQLITE_BUSY || (rc & 0xFF) == SQLITE_LOCKED; }

Error busy_error(const std::filesystem::path& path) {
  return unavailable("database " + path.filename().string() +
                     " is busy: another kioku process is writing to it; try again in a few seconds");
}

}  // namespace

void Database::fail(std::string_view what, int rc) {
  if (is_busy(rc)) throw busy_error(path_);
  std::string msg = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
  throw io_error("database " + path_.filename().string() + ": " + std::string(what) + " failed: " + msg);
}

void Database::exec(std::string_view sql) {
  char* err = nullptr;
  std::string s(sql);
  int rc = sqlite3_exec(db_, s.c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string msg = err ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    if (is_busy(rc)) throw busy_error(path_);
    throw io_error("database " + path_.filename().string() + ": " + msg);
  }
}

Statement Database::prepare(const std::string& sql) {
  auto it = cache_.find(sql);
  if (it != cache_.end()) {
    sqlite3_reset(it->second);
    sqlite3_clear_bindings(it->second);
    return Statement(*this, it->second);
  }
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql.c_str(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &stmt,
                              nullptr);
  if (rc != SQLITE_OK) fail("prepare", rc);
  cache_.emplace(sql, stmt);
  return Statement(*this, stmt);
}

int64_t Database::changes() const { return sqlite3_changes64(db_); }

int Database::user_version() {
  auto st = prepare("PRAGMA user_version");
  st.step();
  int v = static_cast<int>(st.integer(0));
  st.reset();
  return v;
}

void Database::set_user_version(int v) { exec("PRAGMA user_version = " + std::to_string(v)); }

void Database::migrate(const std::vector<std::string>& migrations) {
  int version = user_version();
  if (version > static_cast<int>(migrations.size())) {
    throw io_error("database " + path_.string() + " has schema version " + std::to_string(version) +
                   ", newer than this kioku understands (" + std::to_string(migrations.size()) +
                   "): upgrade kioku");
  }
  if (version == static_cast<int>(migrations.size())) return;
  // A migration that copies a table (memory.db v14 copies every vector)
  // keeps SQLite's temporary data in files, not in memory: with
  // temp_store=MEMORY that migration held 1.5x the copied data in the heap
  // (300 MB for 100k vectors; 74 MB with FILE).
  exec("PRAGMA temp_store = FILE");
  try {
    for (int i = version; i < static_cast<int>(migrations.size()); ++i) {
      transaction([&] {
        // Another process may have applied it since the version was read.
        if (user_version() > i) return;
        exec(migrations[static_cast<size_t>(i)]);
        set_user_version(i + 1);
      });
    }
  } catch (...) {
    exec("PRAGMA temp_store = MEMORY");
    throw;
  }
  exec("PRAGMA temp_store = MEMORY");
}

void Database::transaction(const std::function<void()>& fn) {
  if (transaction_depth_ > 0) {
    ++transaction_depth_;
    try {
      fn();
    } catch (...) {
      --transaction_depth_;
      throw;
    }
    --transaction_depth_;
    return;
  }
  // Connections of this process (the server's pooled contexts) queue for
  // the write lock here instead of in SQLite's busy handler, which polls
  // with sleeps of up to 100 ms and made the slowest writes wait ~1 s under
  // load. Other processes still meet the busy timeout. A writer that cannot
  // get the lock in time goes on and lets SQLite arbitrate, so a stuck
  // holder never deadlocks anyone.
  std::unique_lock<std::timed_mutex> writer(*writer_lock_, std::defer_lock);
  (void)writer.try_lock_for(std::chrono::seconds(5));
  exec("BEGIN IMMEDIATE");
  transaction_depth_ = 1;
  try {
    fn();
    exec("COMMIT");
    transaction_depth_ = 0;
  } catch (...) {
    transaction_depth_ = 0;
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
}

void Database::backup_to(const std::filesystem::path& destination) {
  sqlite3* dest = nullptr;
  int rc = sqlite3_open(destination.c_str(), &dest);
  if (rc != SQLITE_OK) {
    sqlite3_close(dest);
    throw io_error("cannot create backup file " + destination.string());
  }
  sqlite3_backup* backup = sqlite3_backup_init(dest, "main", db_, "main");
  if (!backup) {
    std::string msg = sqlite3_errmsg(dest);
    sqlite3_close(dest);
    throw io_error("backup of " + path_.string() + " failed: " + msg);
  }
  // Copy in steps so writers are not blocked for the whole copy; the backup
  // restarts itself if another connection writes meanwhile, so the result is
  // a consistent snapshot.
  do {
    rc = sqlite3_backup_step(backup, 256);
    if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) sqlite3_sleep(10);
  } while (rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED);
  sqlite3_backup_finish(backup);
  if (rc != SQLITE_DONE) {
    std::string msg = sqlite3_errmsg(dest);
    sqlite3_close(dest);
    throw io_error("backup of " + path_.string() + " failed: " + msg);
  }
  sqlite3_close(dest);
}

void Database::restore_from(const std::filesystem::path& source) {
  sqlite3* src = nullptr;
  int rc = sqlite3_open_v2(source.c_str(), &src, SQLITE_OPEN_READONLY, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_close(src);
    throw io_error("cannot open backup " + source.string());
  }
  // Refuse a damaged or foreign file before touching the live database.
  sqlite3_stmt* check = nullptr;
  std::string verdict;
  if (sqlite3_prepare_v2(src, "PRAGMA quick_check", -1, &check, nullptr) == SQLITE_OK &&
      sqlite3_step(check) == SQLITE_ROW) {
    verdict = reinterpret_cast<const char*>(sqlite3_column_text(check, 0));
  }
  sqlite3_finalize(check);
  if (verdict != "ok") {
    sqlite3_close(src);
    throw invalid_input(source.string() + " is not a valid SQLite database");
  }
  sqlite3_backup* backup = sqlite3_backup_init(db_, "main", src, "main");
  if (!backup) {
    sqlite3_close(src);
    fail("restore", SQLITE_ERROR);
  }
  rc = sqlite3_backup_step(backup, -1);
  sqlite3_backup_finish(backup);
  sqlite3_close(src);
  if (rc != SQLITE_DONE) fail("restore", rc);
  for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
  cache_.clear();
}

}  // namespace kioku::sqlite
