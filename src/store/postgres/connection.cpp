#include "store/postgres/connection.h"

#include <charconv>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <map>

#include "core/error.h"
#include "core/hash.h"

namespace kioku::pg {

Scope Scope::user(const std::string& id) {
  if (id.empty()) throw invalid_input("a store call needs a user id");
  return Scope(false, id);
}

void Connection::set_scope(const Scope& s) {
  if (scope() == s) return;
  const bool local = depth_ > 0;
  if (!local) session_scope_.reset();  // unknown until the statement succeeds
  exec("SELECT set_config('kioku.user_id', $1, $3::boolean), set_config('kioku.all_users', $2, $3::boolean)",
       {s.all() ? std::string() : s.user_id(), std::string(s.all() ? "on" : "off"), local});
  (local ? local_scope_ : session_scope_) = s;
}

Param::Param(double v) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  value = ec == std::errc() ? std::string(buf, end) : std::to_string(v);
}

int64_t Result::integer(int row, int col) const {
  if (is_null(row, col)) return 0;
  return std::strtoll(PQgetvalue(r_.get(), row, col), nullptr, 10);
}

double Result::real(int row, int col) const {
  if (is_null(row, col)) return 0;
  return std::strtod(PQgetvalue(r_.get(), row, col), nullptr);
}

int64_t Result::affected() const {
  const char* n = PQcmdTuples(r_.get());
  return n && *n ? std::strtoll(n, nullptr, 10) : 0;
}

std::string to_bytea_hex(const void* data, size_t bytes) { return "\\x" + lower_hex(data, bytes); }

std::vector<float> floats_from_bytea(const std::string& text) {
  std::vector<float> out;
  if (text.size() < 2 || text[0] != '\\' || text[1] != 'x') return out;
  const size_t bytes = (text.size() - 2) / 2;
  std::vector<unsigned char> raw(bytes);
  auto nibble = [](char c) { return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10; };
  for (size_t i = 0; i < bytes; ++i)
    raw[i] = static_cast<unsigned char>(nibble(text[2 + 2 * i]) << 4 | nibble(text[3 + 2 * i]));
  out.resize(bytes / sizeof(float));
  if (!out.empty()) std::memcpy(out.data(), raw.data(), out.size() * sizeof(float));
  return out;
}

namespace {

// The password of postgresql://user:password@host/..., if any.
std::string url_password(const std::string& url) {
  const auto scheme = url.find("://");
  if (scheme == std::string::npos) return "";
  const auto start = scheme + 3;
  const auto at = url.find('@', start);
  const auto slash = url.find('/', start);
  if (at == std::string::npos || (slash != std::string::npos && slash < at)) return "";
  const auto colon = url.find(':', start);
  if (colon == std::string::npos || colon > at) return "";
  return url.substr(colon + 1, at - colon - 1);
}

void replace_all(std::string& s, const std::string& what, const std::string& with) {
  if (what.empty()) return;
  for (size_t pos = s.find(what); pos != std::string::npos; pos = s.find(what, pos + with.size()))
    s.replace(pos, what.size(), with);
}

}  // namespace

std::string mask_url(const std::string& url) {
  std::string out = url;
  const std::string pw = url_password(url);
  if (!pw.empty()) replace_all(out, ":" + pw + "@", ":***@");
  // password=... as a query parameter
  for (auto pos = out.find("password="); pos != std::string::npos; pos = out.find("password=", pos + 1)) {
    const auto end = out.find('&', pos);
    out.replace(pos + 9, (end == std::string::npos ? out.size() : end) - pos - 9, "***");
  }
  return out;
}

std::string mask_secrets(std::string message, const std::string& url) {
  const std::string pw = url_password(url);
  if (pw.size() >= 1) replace_all(message, pw, "***");
  if (const char* env = std::getenv("PGPASSWORD"); env && *env) replace_all(message, env, "***");
  replace_all(message, url, mask_url(url));
  return message;
}

Connection::Connection(const std::string& url) : url_(url) {
  conn_ = PQconnectdb(url.c_str());
  if (!conn_ || PQstatus(conn_) != CONNECTION_OK) {
    std::string why = conn_ ? PQerrorMessage(conn_) : "out of memory";
    if (conn_) PQfinish(conn_);
    conn_ = nullptr;
    while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
    throw unavailable(mask_secrets("cannot connect to PostgreSQL at " + mask_url(url) + ": " + why, url));
  }
  // Notices (e.g. "query contains only stop words") are not errors.
  PQsetNoticeProcessor(conn_, [](void*, const char*) {}, nullptr);
  PQclear(PQexec(conn_, "SET client_min_messages = warning"));
}

Connection::~Connection() {
  if (conn_) PQfinish(conn_);
}

void Connection::fail(const std::string& what, PGresult* r) {
  std::string why = r ? PQresultErrorMessage(r) : PQerrorMessage(conn_);
  const char* state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
  const std::string sqlstate = state ? state : "";
  if (r) PQclear(r);
  while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
  const std::string message = mask_secrets("PostgreSQL: " + what + ": " + why, url_);
  if (PQstatus(conn_) != CONNECTION_OK || sqlstate.rfind("08", 0) == 0 || sqlstate.rfind("57P", 0) == 0)
    throw unavailable(message);
  if (sqlstate == "23505") throw conflict(message);
  throw io_error(message);
}

Result Connection::exec(const std::string& sql, const Params& params) {
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& p : params) values.push_back(p.value ? p.value->c_str() : nullptr);
  PGresult* r = PQexecParams(conn_, sql.c_str(), static_cast<int>(params.size()), nullptr, values.data(), nullptr,
                             nullptr, 0);
  const auto status = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    std::string head = sql.substr(0, 60);
    fail(head, r);
  }
  return Result(r);
}

std::vector<Result> Connection::exec_pipelined(const std::vector<std::pair<std::string, Params>>& statements) {
  std::vector<Result> out;
  if (statements.empty()) return out;
  if (PQenterPipelineMode(conn_) != 1) fail("pipeline mode", nullptr);
  bool sent_all = true;
  for (const auto& [sql, params] : statements) {
    std::vector<const char*> values;
    values.reserve(params.size());
    for (const auto& p : params) values.push_back(p.value ? p.value->c_str() : nullptr);
    if (PQsendQueryParams(conn_, sql.c_str(), static_cast<int>(params.size()), nullptr, values.data(), nullptr,
                          nullptr, 0) != 1) {
      sent_all = false;
      break;
    }
  }
  PQpipelineSync(conn_);
  PGresult* first_error = nullptr;
  std::string failed_sql;
  // Each statement answers one result and then NULL; the sync answers last.
  for (size_t i = 0; i < statements.size(); ++i) {
    PGresult* r = PQgetResult(conn_);
    if (!r) break;
    const auto status = PQresultStatus(r);
    if (status == PGRES_PIPELINE_SYNC) {  // fewer were sent than asked
      PQclear(r);
      break;
    }
    if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) {
      out.emplace_back(r);
    } else if (status == PGRES_FATAL_ERROR && !first_error) {
      first_error = r;
      failed_sql = statements[i].first.substr(0, 60);
    } else {
      PQclear(r);
    }
    while (PGresult* rest = PQgetResult(conn_)) {
      if (PQresultStatus(rest) == PGRES_PIPELINE_SYNC) {
        PQclear(rest);
        i = statements.size();
        break;
      }
      PQclear(rest);
    }
  }
  // Reads up to the sync if it is still pending, then leaves pipeline mode.
  while (PQpipelineStatus(conn_) != PQ_PIPELINE_OFF && PQexitPipelineMode(conn_) != 1) {
    PGresult* r = PQgetResult(conn_);
    if (!r) {
      if (!healthy()) break;
      continue;
    }
    PQclear(r);
  }
  if (first_error) fail(failed_sql, first_error);
  if (!sent_all || out.size() != statements.size()) fail("pipeline", nullptr);
  return out;
}

void Connection::exec_script(const std::string& sql) {
  PGresult* r = PQexec(conn_, sql.c_str());
  const auto status = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) fail("script", r);
  PQclear(r);
}

void Connection::transaction(const std::function<void()>& fn) {
  if (depth_ > 0) {
    ++depth_;
    try {
      fn();
    } catch (...) {
      --depth_;
      throw;
    }
    --depth_;
    return;
  }
  exec("BEGIN");
  depth_ = 1;
  try {
    fn();
    exec("COMMIT");
    depth_ = 0;
    local_scope_.reset();
  } catch (...) {
    depth_ = 0;
    local_scope_.reset();
    if (healthy()) PQclear(PQexec(conn_, "ROLLBACK"));
    throw;
  }
}

Pool::Pool(std::string url, int size) : url_(std::move(url)), size_(size < 1 ? 1 : size) {}

Pool::Lease::~Lease() {
  if (conn_) pool_->give_back(std::move(conn_));
}

Pool::Lease Pool::acquire() {
  std::unique_lock lock(mu_);
  if (!cv_.wait_for(lock, std::chrono::seconds(30), [&] { return !idle_.empty() || open_ < size_; }))
    throw unavailable("PostgreSQL: all " + std::to_string(size_) + " pooled connections stayed busy for 30 s");
  if (!idle_.empty()) {
    auto c = std::move(idle_.back());
    idle_.pop_back();
    if (c->healthy()) return Lease(this, std::move(c));
    --open_;  // broken (server restarted): replaced below
  }
  ++open_;
  lock.unlock();
  try {
    return Lease(this, std::make_unique<Connection>(url_));
  } catch (...) {
    lock.lock();
    --open_;
    cv_.notify_one();
    throw;
  }
}

void Pool::give_back(std::unique_ptr<Connection> c) {
  std::lock_guard lock(mu_);
  if (c->healthy() && !c->in_transaction())
    idle_.push_back(std::move(c));
  else
    --open_;
  cv_.notify_one();
}

bool is_postgres_url(const std::string& url) {
  return url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0;
}

StoreUrl parse_store_url(const std::string& url) {
  StoreUrl out;
  out.libpq_url = url;
  const auto q = url.find('?');
  if (q == std::string::npos) return out;
  std::string kept;
  size_t pos = q + 1;
  while (pos <= url.size()) {
    auto end = url.find('&', pos);
    if (end == std::string::npos) end = url.size();
    const std::string part = url.substr(pos, end - pos);
    if (part.rfind("pool_size=", 0) == 0) {
      const int n = std::atoi(part.c_str() + 10);
      if (n < 1 || n > 1000) throw invalid_input("store URL: pool_size must be 1..1000, not '" + part.substr(10) + "'");
      out.pool_size = n;
    } else if (!part.empty()) {
      kept += (kept.empty() ? "" : "&") + part;
    }
    pos = end + 1;
  }
  out.libpq_url = url.substr(0, q) + (kept.empty() ? "" : "?" + kept);
  return out;
}

std::shared_ptr<Pool> shared_pool(const std::string& url) {
  static std::mutex mu;
  static std::map<std::string, std::weak_ptr<Pool>> pools;
  std::lock_guard lock(mu);
  if (auto p = pools[url].lock()) return p;
  const StoreUrl parsed = parse_store_url(url);
  auto p = std::make_shared<Pool>(parsed.libpq_url, parsed.pool_size);
  pools[url] = p;
  return p;
}

void migrate(Connection& c, const std::string& name, const std::vector<std::string>& migrations) {
  auto current = [&] {
    auto r = c.exec("SELECT version FROM kioku_schema_versions WHERE name = $1", {name});
    return r.rows() ? static_cast<size_t>(r.integer(0, 0)) : size_t{0};
  };
  // Up to date already (the common case): no lock.
  if (c.exec("SELECT to_regclass('kioku_schema_versions') IS NOT NULL").boolean(0, 0) && current() >= migrations.size())
    return;
  c.transaction([&] {
    // One migrator at a time per database (even the version table's
    // CREATE races otherwise); the others wait, then see the new version.
    c.exec("SELECT pg_advisory_xact_lock(hashtext('kioku_migrate:' || coalesce(current_schema(), '')))");
    c.exec_script("CREATE TABLE IF NOT EXISTS kioku_schema_versions (name TEXT PRIMARY KEY, version INTEGER NOT NULL)");
    for (size_t v = current(); v < migrations.size(); ++v) {
      c.exec_script(migrations[v]);
      c.exec(
          "INSERT INTO kioku_schema_versions(name, version) VALUES ($1, $2) "
          "ON CONFLICT(name) DO UPDATE SET version = excluded.version",
          {name, static_cast<int64_t>(v + 1)});
    }
  });
}

}  // namespace kioku::pg
