// Private to src/store/postgres: what every PostgreSQL store holds (the
// shared pool of its URL) and how it runs a statement or a transaction on
// a pooled connection.
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
  // fn(Connection&) on a connection of the pool; inside transaction() the
  // transaction's own connection, so calls made within it join it.
  template <typename Fn>
  auto with(Fn&& fn) {
    if (pinned_) return fn(*pinned_);
    auto lease = pool_->acquire();
    return fn(*lease);
  }
  template <typename Fn>
  void transaction(Fn&& fn) {
    if (pinned_) {
      fn(*pinned_);
      return;
    }
    auto lease = pool_->acquire();
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
};

}  // namespace kioku::pg
