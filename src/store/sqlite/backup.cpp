#include "core/error.h"
#include "store/sqlite/database.h"
#include "store/sqlite/sqlite_store.h"

namespace kioku {

void backup_sqlite_data(MemoryStore& memories, JournalDraftStore& drafts, const std::filesystem::path& folder) {
  std::error_code ec;
  std::filesystem::create_directories(folder, ec);
  if (ec) throw io_error("cannot create backup folder " + folder.string() + ": " + ec.message());
  for (const char* name : {"memory.db", "journal.db"}) {
    if (std::filesystem::exists(folder / name)) throw conflict("backup folder already holds " + (folder / name).string());
  }
  memories.backup_to(folder / "memory.db");
  drafts.backup_to(folder / "journal.db");
}

void restore_sqlite_data(const std::filesystem::path& folder, const std::filesystem::path& data_dir) {
  const auto memory_src = folder / "memory.db";
  if (!std::filesystem::exists(memory_src)) throw not_found("no memory.db in " + folder.string());
  std::filesystem::create_directories(data_dir);
  {
    sqlite::Database target(data_dir / "memory.db");
    target.restore_from(memory_src);
  }
  if (std::filesystem::exists(folder / "journal.db")) {
    sqlite::Database target(data_dir / "journal.db");
    target.restore_from(folder / "journal.db");
  }
}

}  // namespace kioku
