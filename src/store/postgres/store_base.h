// Private to src/store/postgres: what every PostgreSQL store holds (the
// shared pool of its URL) and how it runs a statement or a transaction on
// a pooled connection, under the row-level security scope of the call
// (connection.h, Scope): every call names the user it acts for, or
// Scope::all_users() where it spans users by design.
#pragma once

#include <memory>
#include <string>

#include "core/time.h"
#include "store/postgres/connection.h"

namespace kioku::pg {

class StoreBase {
 public:
  // Takes the process's pool for url and migrates the database once per pool.
  explicit StoreBase(const std::string& url);

 protected:
  // fn(Connection&) on a connection of the pool set to scope; inside
  // transaction() the transaction's own connection, so calls made within it
  // join it (a nested call for another scope has it for its own statements
  // only, then the outer scope is back).
  template <typename Fn>
  auto with(const Scope& scope, Fn&& fn) {
    if (pinned_) {
      Rescope guard(*pinned_, scope);
      return fn(*pinned_);
    }
    auto lease = pool_->acquire();
    lease->set_scope(scope);
    return fn(*lease);
  }
  template <typename Fn>
  void transaction(const Scope& scope, Fn&& fn) {
    if (pinned_) {
      Rescope guard(*pinned_, scope);
      fn(*pinned_);
      return;
    }
    auto lease = pool_->acquire();
    lease->set_scope(scope);  // before BEGIN: it outlives the transaction
    pinned_ = &*lease;
    try {
      lease->transaction([&] { fn(*lease); });
    } catch (...) {
      pinned_ = nullptr;
      throw;
    }
    pinned_ = nullptr;
  }
  std::shared_ptr<Pool> pool_;
  Connection* pinned_ = nullptr;

 private:
  // Sets scope on a pinned connection for one nested call, and back after it.
  class Rescope {
   public:
    Rescope(Connection& c, const Scope& s) : c_(c), before_(c.scope()) { c_.set_scope(s); }
    ~Rescope() {
      if (before_ && c_.healthy() && c_.in_transaction()) {
        try {
          c_.set_scope(*before_);
        } catch (...) {
          // The transaction failed meanwhile; its rollback ends the local setting.
        }
      }
    }
    Rescope(const Rescope&) = delete;
    Rescope& operator=(const Rescope&) = delete;

   private:
    Connection& c_;
    std::optional<Scope> before_;
  };
};

}  // namespace kioku::pg
