// Thin RAII wrapper over libpq, private to src/store/postgres, and the
// connection pool the PostgreSQL stores share.
//
// Parameters travel as text (libpq's text protocol): every value is bound as
// a parameter ($1, $2, ...), never spliced into SQL. Errors become
// kioku::Error: kUnavailable when the server cannot be reached or the
// connection broke (a caller may retry later), kConflict for a unique
// violation, kIo for any other database error. Messages never carry the
// password: mask_secrets() removes the URL's and PGPASSWORD's.
// Thread safety: a Connection is used by one thread at a time; the Pool is
// thread-safe and hands each connection to one lease at a time.
#pragma once

#include <libpq-fe.h>

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace kioku::pg {

// Whose rows the statements of a call may touch under the row-level security
// policies (schema v4): one user's, or every user's. all_users() is for the
// calls that span users by design (the embedding queue, job claiming and
// leases, maintenance over every user, migrate, user administration) and
// only those code paths name it.
class Scope {
 public:
  static Scope user(const std::string& id);  // kInvalidInput for an empty id
  static Scope all_users() { return Scope(true, ""); }
  // Sees no row: a transaction that only pins a connection for the calls
  // made inside it, each of which sets its own scope.
  static Scope none() { return Scope(false, ""); }
  bool all() const { return all_; }
  const std::string& user_id() const { return user_; }
  bool operator==(const Scope& o) const { return all_ == o.all_ && user_ == o.user_; }

 private:
  Scope(bool all, std::string user) : all_(all), user_(std::move(user)) {}
  bool all_;
  std::string user_;
};

// A bind value: text or NULL.
struct Param {
  std::optional<std::string> value;
  Param(std::string v) : value(std::move(v)) {}  // NOLINT(google-explicit-constructor)
  Param(const char* v) : value(std::string(v)) {}  // NOLINT(google-explicit-constructor)
  Param(int64_t v) : value(std::to_string(v)) {}  // NOLINT(google-explicit-constructor)
  Param(int v) : value(std::to_string(v)) {}  // NOLINT(google-explicit-constructor)
  Param(double v);  // NOLINT(google-explicit-constructor)
  Param(bool v) : value(v ? "t" : "f") {}  // NOLINT(google-explicit-constructor)
  Param(std::nullopt_t) {}  // NOLINT(google-explicit-constructor)
  Param(const std::optional<int64_t>& v) {  // NOLINT(google-explicit-constructor)
    if (v) value = std::to_string(*v);
  }
};
using Params = std::vector<Param>;

class Result {
 public:
  explicit Result(PGresult* r) : r_(r, PQclear) {}
  int rows() const { return PQntuples(r_.get()); }
  bool is_null(int row, int col) const { return PQgetisnull(r_.get(), row, col) != 0; }
  std::string text(int row, int col) const { return {PQgetvalue(r_.get(), row, col), static_cast<size_t>(PQgetlength(r_.get(), row, col))}; }
  int64_t integer(int row, int col) const;
  double real(int row, int col) const;
  bool boolean(int row, int col) const { return text(row, col) == "t"; }
  // Rows changed by an INSERT/UPDATE/DELETE.
  int64_t affected() const;

 private:
  std::shared_ptr<PGresult> r_;
};

// bytea as libpq's text form ("\x" + hex) and back.
std::string to_bytea_hex(const void* data, size_t bytes);
std::vector<float> floats_from_bytea(const std::string& text);

// The URL with its password replaced by ***, for messages.
std::string mask_url(const std::string& url);
// message with every password it could contain (the URL's, PGPASSWORD) masked.
std::string mask_secrets(std::string message, const std::string& url);

class Connection {
 public:
  // Connects (credentials from the URL, PGPASSWORD / PGPASSFILE, ~/.pgpass;
  // TLS as the URL's sslmode says). Throws kUnavailable.
  explicit Connection(const std::string& url);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  Result exec(const std::string& sql, const Params& params = {});
  // Sends every statement before reading any answer (libpq's pipeline
  // mode: one round trip instead of one per statement) and returns their
  // results in order. The first failure throws, as exec() would; the
  // statements after it are not run. Meant for inside transaction().
  std::vector<Result> exec_pipelined(const std::vector<std::pair<std::string, Params>>& statements);
  // Several statements without parameters (migrations).
  void exec_script(const std::string& sql);
  // BEGIN ... COMMIT around fn; ROLLBACK when it throws. Nested calls join.
  void transaction(const std::function<void()>& fn);
  bool healthy() const { return PQstatus(conn_) == CONNECTION_OK; }
  bool in_transaction() const { return depth_ > 0; }
  // Sets the session settings the policies read (kioku.user_id,
  // kioku.all_users) when they differ from the scope in force: for the
  // session outside a transaction, for the rest of it inside one (a
  // rollback then cannot leave a setting this object does not know of).
  void set_scope(const Scope& scope);
  // The scope in force ("none" before the first set_scope()).
  std::optional<Scope> scope() const { return depth_ > 0 && local_scope_ ? local_scope_ : session_scope_; }

 private:
  [[noreturn]] void fail(const std::string& what, PGresult* r);
  std::string url_;
  PGconn* conn_ = nullptr;
  int depth_ = 0;
  std::optional<Scope> session_scope_, local_scope_;
};

// A fixed number of connections to one database, opened on first use.
class Pool {
 public:
  Pool(std::string url, int size);
  const std::string& url() const { return url_; }
  int size() const { return size_; }
  // Set once the first store of this pool migrated the database.
  std::mutex migrate_mu;
  bool migrated = false;

  class Lease {
   public:
    Lease(Pool* pool, std::unique_ptr<Connection> c) : pool_(pool), conn_(std::move(c)) {}
    Lease(Lease&& o) noexcept = default;
    Lease& operator=(Lease&&) = delete;
    ~Lease();
    Connection& operator*() { return *conn_; }
    Connection* operator->() { return conn_.get(); }

   private:
    Pool* pool_;
    std::unique_ptr<Connection> conn_;
  };
  // Waits (up to 30 s, then kUnavailable) for a free connection.
  Lease acquire();

 private:
  void give_back(std::unique_ptr<Connection> c);
  std::string url_;
  int size_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<Connection>> idle_;
  int open_ = 0;  // connections handed out or idle
};

// What the store URL says beyond libpq's own parameters: Kioku's
// `pool_size=N` is taken out of the query before libpq sees it.
struct StoreUrl {
  std::string libpq_url;
  int pool_size = 4;
};
StoreUrl parse_store_url(const std::string& url);
bool is_postgres_url(const std::string& url);

// One pool per URL for the whole process (the stores of every session share it).
std::shared_ptr<Pool> shared_pool(const std::string& url);

// Applies migrations[i] for every i at or above the version recorded for
// `name` in kioku_schema_versions, each in its own transaction with the
// version bump, under an advisory lock (several processes may start at once).
void migrate(Connection& c, const std::string& name, const std::vector<std::string>& migrations);

}  // namespace kioku::pg
