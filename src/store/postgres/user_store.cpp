// PgUserStore: the users and user_tokens tables (schema.cpp, v3), shared by
// every kioku process on the database, the same contract as SqliteUserStore.
//
// User administration spans users by design, so every call runs under
// Scope::all_users(). Removing a user's data finds the tables to clear in the
// catalogue: every table of the schema with a user_id column but the
// accounts, so a table a later migration adds cannot be forgotten. Rows
// without a user_id of their own (vectors, relations, lifecycle, mentions,
// journal entries) hang off those with ON DELETE CASCADE. PostgreSQL checks
// foreign keys per statement, so the deletes go referencing tables first
// (graph_facts before graph_entities), an order read from pg_constraint.
#include <map>
#include <set>

#include "core/error.h"
#include "store/postgres/postgres_store.h"
#include "store/postgres/store_base.h"

namespace kioku {
namespace {

using pg::Connection;
using pg::Result;
using pg::Scope;

// Not user data: the account itself, and memory_fts (full text derived from
// memories, kept and removed with them by its trigger and foreign key).
const std::set<std::string> kNotData = {"users", "user_tokens", "memory_fts"};

bool same_hash(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

std::string quoted(const std::string& table) { return "\"" + table + "\""; }

class PgUserStore final : public UserStore, pg::StoreBase {
 public:
  PgUserStore(const std::string& url, const TimeSource& clock) : StoreBase(url), clock_(clock) {}

  User add_user(const std::string& id, bool admin) override {
    check_id(id);
    User u;
    transaction(all(), [&](Connection& c) {
      if (find(c, id)) throw conflict("user '" + id + "' exists already");
      u = insert(c, id, admin);
    });
    return u;
  }

  bool ensure_user(const std::string& id, bool admin) override {
    check_id(id);
    bool added = false;
    transaction(all(), [&](Connection& c) {
      // Processes starting together each ensure the default user: one adds it.
      added = c.exec("INSERT INTO users(id, admin, created_at) VALUES ($1, $2, $3) ON CONFLICT(id) DO NOTHING",
                     {id, admin, to_millis(clock_.now())})
                  .affected() > 0;
    });
    return added;
  }

  std::optional<User> get_user(const std::string& id) override {
    return with(all(), [&](Connection& c) { return find(c, id); });
  }

  std::vector<User> list_users() override {
    return with(all(), [&](Connection& c) {
      auto r = c.exec(std::string(kSelect) + " ORDER BY u.id");
      std::vector<User> out;
      for (int i = 0; i < r.rows(); ++i) out.push_back(read(r, i));
      return out;
    });
  }

  void add_token(const std::string& user_id, const std::string& token_sha256, const std::string& label) override {
    transaction(all(), [&](Connection& c) {
      if (!find(c, user_id)) throw not_found("no user '" + user_id + "' (kioku users add " + user_id + ")");
      c.exec("INSERT INTO user_tokens(token_sha256, user_id, label, created_at) VALUES ($1, $2, $3, $4)",
             {token_sha256, user_id, label, to_millis(clock_.now())});
    });
  }

  std::optional<TokenOwner> find_token(const std::string& token_sha256) override {
    return with(all(), [&](Connection& c) -> std::optional<TokenOwner> {
      auto r = c.exec(
          "SELECT t.token_sha256, t.user_id, u.admin FROM user_tokens t JOIN users u ON u.id = t.user_id "
          "WHERE t.token_sha256 = $1",
          {token_sha256});
      // The index found the row; the hash is still compared without an early exit.
      if (!r.rows() || !same_hash(r.text(0, 0), token_sha256)) return std::nullopt;
      return TokenOwner{r.text(0, 1), r.boolean(0, 2)};
    });
  }

  int64_t revoke_tokens(const std::string& user_id) override {
    int64_t n = 0;
    transaction(all(),
                [&](Connection& c) { n = c.exec("DELETE FROM user_tokens WHERE user_id = $1", {user_id}).affected(); });
    return n;
  }

  int64_t count_data(const std::string& user_id) override {
    return with(all(), [&](Connection& c) { return count(c, user_id); });
  }

  UserRemoval remove_user(const std::string& id, bool delete_data) override {
    UserRemoval out;
    transaction(all(), [&](Connection& c) {
      // Taken first so that a concurrent add of this user's data waits or is seen.
      auto locked = c.exec("SELECT id FROM users WHERE id = $1 FOR UPDATE", {id});
      const auto user = find(c, id);
      if (!locked.rows() || !user) throw not_found("no user '" + id + "'");
      const int64_t rows = count(c, id);
      if (rows > 0 && !delete_data)
        throw conflict(
            "user '" + id + "' has " + std::to_string(rows) +
            " rows of data (memories, journals, jobs, ...): remove it with --delete-data to delete them too");
      for (const auto& table : delete_order(c))
        out.data_rows += c.exec("DELETE FROM " + quoted(table) + " WHERE user_id = $1", {id}).affected();
      out.tokens = user->tokens;
      c.exec("DELETE FROM user_tokens WHERE user_id = $1", {id});
      c.exec("DELETE FROM users WHERE id = $1", {id});
    });
    return out;
  }

 private:
  static constexpr const char* kSelect =
      "SELECT u.id, u.admin, u.created_at, (SELECT count(*) FROM user_tokens t WHERE t.user_id = u.id) FROM users u";

  static Scope all() { return Scope::all_users(); }

  static void check_id(const std::string& id) {
    if (id.empty()) throw invalid_input("a user needs an id");
  }

  static User read(const Result& r, int i) {
    User u;
    u.id = r.text(i, 0);
    u.admin = r.boolean(i, 1);
    u.created_at = from_millis(r.integer(i, 2));
    u.tokens = r.integer(i, 3);
    return u;
  }

  static std::optional<User> find(Connection& c, const std::string& id) {
    auto r = c.exec(std::string(kSelect) + " WHERE u.id = $1", {id});
    if (!r.rows()) return std::nullopt;
    return read(r, 0);
  }

  User insert(Connection& c, const std::string& id, bool admin) {
    User u;
    u.id = id;
    u.admin = admin;
    u.created_at = clock_.now();
    c.exec("INSERT INTO users(id, admin, created_at) VALUES ($1, $2, $3)", {id, admin, to_millis(u.created_at)});
    return u;
  }

  // Tables of the current schema with a user_id column, but those of kNotData.
  static std::vector<std::string> data_tables(Connection& c) {
    auto r = c.exec(
        "SELECT c.table_name FROM information_schema.columns c JOIN information_schema.tables t "
        "ON t.table_schema = c.table_schema AND t.table_name = c.table_name "
        "WHERE c.table_schema = current_schema() AND c.column_name = 'user_id' AND t.table_type = 'BASE TABLE' "
        "ORDER BY 1");
    std::vector<std::string> out;
    for (int i = 0; i < r.rows(); ++i)
      if (!kNotData.count(r.text(i, 0))) out.push_back(r.text(i, 0));
    return out;
  }

  static int64_t count(Connection& c, const std::string& user_id) {
    int64_t n = 0;
    for (const auto& table : data_tables(c))
      n += c.exec("SELECT count(*) FROM " + quoted(table) + " WHERE user_id = $1", {user_id}).integer(0, 0);
    return n;
  }

  // data_tables() with each table before the tables it references.
  static std::vector<std::string> delete_order(Connection& c) {
    const auto tables = data_tables(c);
    const std::set<std::string> names(tables.begin(), tables.end());
    std::map<std::string, std::set<std::string>> refs;  // table -> data tables it references
    auto r = c.exec(
        "SELECT src.relname, dst.relname FROM pg_constraint k JOIN pg_class src ON src.oid = k.conrelid "
        "JOIN pg_class dst ON dst.oid = k.confrelid WHERE k.contype = 'f' "
        "AND src.relnamespace = current_schema()::regnamespace AND src.oid <> dst.oid");
    for (int i = 0; i < r.rows(); ++i)
      if (names.count(r.text(i, 0)) && names.count(r.text(i, 1))) refs[r.text(i, 0)].insert(r.text(i, 1));
    // Referenced-by counts: a table goes once nothing left references it.
    std::vector<std::string> out;
    std::set<std::string> left = names;
    while (!left.empty()) {
      bool progressed = false;
      for (auto it = left.begin(); it != left.end();) {
        bool referenced = false;
        for (const auto& other : left)
          if (other != *it && refs[other].count(*it)) referenced = true;
        if (referenced) {
          ++it;
          continue;
        }
        out.push_back(*it);
        it = left.erase(it);
        progressed = true;
      }
      if (!progressed) {  // a cycle: the rest in name order (their deletes may then fail, loudly)
        out.insert(out.end(), left.begin(), left.end());
        break;
      }
    }
    return out;
  }

  const TimeSource& clock_;
};

}  // namespace

std::unique_ptr<UserStore> open_postgres_user_store(const std::string& url, const TimeSource& clock) {
  return std::make_unique<PgUserStore>(url, clock);
}

}  // namespace kioku
