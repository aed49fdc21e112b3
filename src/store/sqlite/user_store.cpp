// SqliteUserStore: the users and user_tokens tables of memory.db (schema in
// memory_store.cpp's migrations). Its own connection; the process-wide
// writer lock of database.cpp orders its transactions with the other stores'.
//
// Removing a user's data finds the tables to clear in the schema itself:
// every table with a user_id column (memories, journals, jobs, graph, core
// memory, and whatever a later migration adds), so a new table cannot be
// forgotten. Rows without a user_id of their own (vectors, relations,
// lifecycle) hang off memories with ON DELETE CASCADE; foreign keys are
// checked at COMMIT (defer_foreign_keys), so the order of the deletes does
// not matter.
#include <set>

#include "core/error.h"
#include "store/sqlite/database.h"
#include "store/sqlite/schema.h"
#include "store/sqlite/sqlite_store.h"
#include "store/user_store.h"

namespace kioku {
namespace {

// Not user data: the account itself.
const std::set<std::string> kAccountTables = {"users", "user_tokens"};

bool same_hash(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

class SqliteUserStore final : public UserStore {
 public:
  SqliteUserStore(const std::filesystem::path& path, const TimeSource& clock) : db_(path), clock_(clock) {
    migrate_memory_database(db_);
  }

  User add_user(const std::string& id, bool admin) override {
    User u;
    db_.transaction([&] {
      if (get_user(id)) throw conflict("user '" + id + "' exists already");
      u = insert(id, admin);
    });
    return u;
  }

  bool ensure_user(const std::string& id, bool admin) override {
    bool added = false;
    db_.transaction([&] {
      if (get_user(id)) return;
      insert(id, admin);
      added = true;
    });
    return added;
  }

  std::optional<User> get_user(const std::string& id) override {
    auto st = db_.prepare(
        "SELECT id, admin, created_at, (SELECT count(*) FROM user_tokens t WHERE t.user_id = users.id) "
        "FROM users WHERE id = ?");
    st.bind(1, id);
    std::optional<User> out;
    if (st.step()) out = read(st);
    st.reset();
    return out;
  }

  std::vector<User> list_users() override {
    auto st = db_.prepare(
        "SELECT id, admin, created_at, (SELECT count(*) FROM user_tokens t WHERE t.user_id = users.id) "
        "FROM users ORDER BY id");
    std::vector<User> out;
    while (st.step()) out.push_back(read(st));
    st.reset();
    return out;
  }

  void add_token(const std::string& user_id, const std::string& token_sha256, const std::string& label) override {
    db_.transaction([&] {
      if (!get_user(user_id)) throw not_found("no user '" + user_id + "' (kioku users add " + user_id + ")");
      db_.prepare("INSERT INTO user_tokens(token_sha256, user_id, label, created_at) VALUES (?, ?, ?, ?)")
          .bind(1, token_sha256)
          .bind(2, user_id)
          .bind(3, label)
          .bind(4, to_millis(clock_.now()))
          .run();
    });
  }

  std::optional<TokenOwner> find_token(const std::string& token_sha256) override {
    auto st = db_.prepare(
        "SELECT t.token_sha256, t.user_id, u.admin FROM user_tokens t JOIN users u ON u.id = t.user_id "
        "WHERE t.token_sha256 = ?");
    st.bind(1, token_sha256);
    std::optional<TokenOwner> out;
    // The index found the row; the hash is still compared without an early
    // exit, so no timing of a string compare is ever on the path.
    if (st.step() && same_hash(st.text(0), token_sha256)) out = TokenOwner{st.text(1), st.integer(2) != 0};
    st.reset();
    return out;
  }

  int64_t revoke_tokens(const std::string& user_id) override {
    int64_t n = 0;
    db_.transaction([&] {
      db_.prepare("DELETE FROM user_tokens WHERE user_id = ?").bind(1, user_id).run();
      n = db_.changes();
    });
    return n;
  }

  int64_t count_data(const std::string& user_id) override {
    int64_t n = 0;
    for (const auto& table : data_tables()) {
      auto st = db_.prepare("SELECT count(*) FROM \"" + table + "\" WHERE user_id = ?");
      st.bind(1, user_id);
      if (st.step()) n += st.integer(0);
      st.reset();
    }
    return n;
  }

  UserRemoval remove_user(const std::string& id, bool delete_data) override {
    UserRemoval out;
    db_.transaction([&] {
      const auto user = get_user(id);
      if (!user) throw not_found("no user '" + id + "'");
      const int64_t rows = count_data(id);
      if (rows > 0 && !delete_data)
        throw conflict("user '" + id + "' has " + std::to_string(rows) +
                       " rows of data (memories, journals, jobs, ...): remove it with --delete-data to delete them too");
      db_.exec("PRAGMA defer_foreign_keys = ON");
      for (const auto& table : data_tables())
        db_.prepare("DELETE FROM \"" + table + "\" WHERE user_id = ?").bind(1, id).run();
      // Every row counted went (changes() would miss those a cascade took first).
      out.data_rows = rows;
      out.tokens = user->tokens;
      db_.prepare("DELETE FROM user_tokens WHERE user_id = ?").bind(1, id).run();
      db_.prepare("DELETE FROM users WHERE id = ?").bind(1, id).run();
    });
    return out;
  }

 private:
  User insert(const std::string& id, bool admin) {
    User u;
    u.id = id;
    u.admin = admin;
    u.created_at = clock_.now();
    db_.prepare("INSERT INTO users(id, admin, created_at) VALUES (?, ?, ?)")
        .bind(1, id)
        .bind(2, admin ? 1 : 0)
        .bind(3, to_millis(u.created_at))
        .run();
    return u;
  }

  static User read(const sqlite::Statement& st) {
    User u;
    u.id = st.text(0);
    u.admin = st.integer(1) != 0;
    u.created_at = from_millis(st.integer(2));
    u.tokens = st.integer(3);
    return u;
  }

  // Ordinary tables of memory.db with a user_id column, but the accounts.
  std::vector<std::string> data_tables() {
    std::vector<std::string> out;
    auto st = db_.prepare(
        "SELECT m.name FROM sqlite_master m WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' "
        "AND m.sql NOT LIKE 'CREATE VIRTUAL TABLE%' "
        "AND EXISTS (SELECT 1 FROM pragma_table_info(m.name) c WHERE c.name = 'user_id') ORDER BY m.name");
    while (st.step()) {
      std::string name = st.text(0);
      if (!kAccountTables.count(name)) out.push_back(std::move(name));
    }
    st.reset();
    return out;
  }

  sqlite::Database db_;
  const TimeSource& clock_;
};

}  // namespace

std::unique_ptr<UserStore> open_sqlite_user_store(const std::filesystem::path& path, const TimeSource& clock) {
  return std::make_unique<SqliteUserStore>(path, clock);
}

}  // namespace kioku
