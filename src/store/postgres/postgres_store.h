// PostgreSQL backends of the store interfaces (server mode: several kioku
// processes, many users, one database). Selected by a store URL
// postgresql://user[:password]@host[:port]/database[?sslmode=...&pool_size=N]
// (src/app: [store] url, KIOKU_STORE_URL, --store). One database holds what
// SQLite keeps in memory.db and journal.db; the first open migrates it.
// Credentials come from the URL, the environment (PGPASSWORD, PGPASSFILE,
// PGSSLMODE...) or ~/.pgpass, as libpq reads them; TLS as sslmode says.
// The stores of one process share one connection pool per URL (pool_size,
// default 4), so a store object is cheap; like the SQLite stores, each is
// used by one thread at a time. Errors: kUnavailable when the server cannot
// be reached, kIo for other database failures; messages never show a password.
#pragma once

#include <memory>
#include <string>

#include "core/time.h"
#include "store/core_memory.h"
#include "store/job_store.h"
#include "store/knowledge.h"
#include "store/profile.h"
#include "store/store.h"
#include "store/user_store.h"

namespace kioku {

bool is_postgres_store_url(const std::string& url);
// The URL with its password masked, for logs and messages.
std::string mask_store_url(const std::string& url);

std::unique_ptr<MemoryStore> open_postgres_memory_store(const std::string& url,
                                                        const TimeSource& clock = system_time());
std::unique_ptr<JobStore> open_postgres_job_store(const std::string& url, const TimeSource& clock = system_time());
std::unique_ptr<JournalDraftStore> open_postgres_journal_store(const std::string& url,
                                                               const TimeSource& clock = system_time());
std::unique_ptr<KnowledgeStore> open_postgres_knowledge_store(const std::string& url,
                                                              const TimeSource& clock = system_time());
// Users and token hashes (issue 14), shared by every process on the database.
std::unique_ptr<UserStore> open_postgres_user_store(const std::string& url, const TimeSource& clock = system_time());
// What the companion learns about each person (store/profile.h).
std::unique_ptr<ProfileStore> open_postgres_profile_store(const std::string& url,
                                                          const TimeSource& clock = system_time());

}  // namespace kioku
