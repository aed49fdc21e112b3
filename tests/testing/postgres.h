// The PostgreSQL server of the tests: ctest's fixture `postgres` starts one
// (scripts/pg-test-server) and passes its URL in KIOKU_TEST_PG_URL. Each test
// takes a schema of its own (PgSchema), so tests never see each other's rows
// and need no cleanup beyond the server's own removal.
// The schema belongs to a role of the same name, neither superuser nor
// BYPASSRLS, and url() connects as that role: the row-level security
// policies (docs/POSTGRES.md) then hold in every test, as they do for a
// production role (a superuser would bypass them).
// Unreachable server: with CI=true the test fails (KIOKU_REQUIRE_PG); outside
// CI it skips, saying why. Needs libpq (link PkgConfig::LIBPQ).
#pragma once

#include <libpq-fe.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <string>

namespace kioku::testing {

inline bool running_in_ci() {
  const char* ci = std::getenv("CI");
  return ci && std::string(ci) == "true";
}

// A fresh schema on the test server; url() selects it (search_path) for libpq.
class PgSchema {
 public:
  // base: the server's URL (default: KIOKU_TEST_PG_URL).
  explicit PgSchema(const std::string& hint = "t", const char* base = std::getenv("KIOKU_TEST_PG_URL")) {
    if (!base || !*base) {
      error_ = "KIOKU_TEST_PG_URL is not set (run the test through ctest, which starts PostgreSQL)";
      return;
    }
    static std::atomic<int> counter{0};
    name_ = "kt_";
    for (char c : hint) name_ += std::isalnum(static_cast<unsigned char>(c)) ? static_cast<char>(std::tolower(c)) : '_';
    name_ = name_.substr(0, 40) + "_" + std::to_string(::getpid()) + "_" + std::to_string(counter++);
    PGconn* c = PQconnectdb(base);
    if (PQstatus(c) != CONNECTION_OK) {
      error_ = std::string("cannot reach the test PostgreSQL at ") + base + ": " + PQerrorMessage(c);
      PQfinish(c);
      return;
    }
    PQsetNoticeProcessor(c, [](void*, const char*) {}, nullptr);
    // The role may be left from an earlier run of the same pid (a reused server).
    const std::string sql = "DROP SCHEMA IF EXISTS " + name_ + " CASCADE; DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM "
                            "pg_roles WHERE rolname = '" + name_ + "') THEN CREATE ROLE " + name_ +
                            " LOGIN NOSUPERUSER NOBYPASSRLS; END IF; END $$; CREATE SCHEMA " + name_ +
                            " AUTHORIZATION " + name_;
    PGresult* r = PQexec(c, sql.c_str());
    if (PQresultStatus(r) != PGRES_COMMAND_OK) error_ = std::string("cannot create a schema: ") + PQerrorMessage(c);
    PQclear(r);
    PQfinish(c);
    if (!error_.empty()) return;
    url_ = base;
    url_ += (url_.find('?') == std::string::npos ? "?" : "&");
    url_ += "options=-csearch_path%3D" + name_ + "&user=" + name_;  // the last user= wins
  }
  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  const std::string& url() const { return url_; }
  const std::string& name() const { return name_; }  // the schema's and its role's
  // The server's own URL (a superuser, who bypasses row-level security).
  static std::string admin_url() {
    const char* base = std::getenv("KIOKU_TEST_PG_URL");
    return base ? base : "";
  }

 private:
  std::string name_, url_, error_;
};

}  // namespace kioku::testing

// In a test body or SetUp: fails under CI, skips elsewhere, when schema is not usable.
#define KIOKU_REQUIRE_PG(schema)                                                                 \
  do {                                                                                           \
    if (!(schema).ok()) {                                                                        \
      if (::kioku::testing::running_in_ci()) FAIL() << "PostgreSQL required in CI: " << (schema).error(); \
      GTEST_SKIP() << "no PostgreSQL: " << (schema).error();                                     \
    }                                                                                            \
  } while (0)
