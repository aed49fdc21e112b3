// Many users on one data directory (issue 14): user ids, API tokens, and
// who a presented token is.
//
// A token is 32 random bytes in hex, shown once when it is made; only its
// SHA-256 is stored (UserStore). The data directory's own token file
// (<data>/token, `kioku token`) stays what it was: the token of the default
// user, who is an admin, so a single-user setup keeps working unchanged.
// Removing a user refuses while the user has data, unless delete_data: then
// the user's rows in memory.db go in one transaction and its open journal
// drafts (journal.db) right after. Media files are content-addressed and
// may be shared by users, so they stay.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "store/user_store.h"

namespace kioku {

class AppContext;

// 64 lower-case hex characters from /dev/urandom (kIo when it cannot be read).
std::string new_api_token();
// The stored form of a token: its SHA-256 in hex.
std::string api_token_hash(std::string_view token);
// Letters, digits, '.', '-', '_'; 1-64 characters, starting with a letter or
// digit. Throws kInvalidInput naming the rule otherwise.
void check_user_id(const std::string& id);

// Creates a token for user_id (kNotFound for an unknown user) and returns it:
// the one time it is ever shown.
std::string issue_token(UserStore& users, const std::string& user_id, const std::string& label);
// The owner of the data directory: [user] id of config.toml, KIOKU_USER, or
// "local" (whatever --user says: that only picks whom a command acts for).
std::string owner_user_id(AppContext& ctx);
// The owner, added (as an admin) when missing.
void ensure_default_user(AppContext& ctx);
// Removes user_id (see the notes above); the owner cannot be removed.
// Returns {user, tokens, data_rows, drafts}.
nlohmann::json remove_user(AppContext& ctx, const std::string& user_id, bool delete_data);
nlohmann::json user_json(const User& u);

struct Principal {
  std::string user_id;
  bool admin = false;
};

// Tells who a presented token belongs to. Thread-safe (one store connection
// under a mutex; a lookup is one indexed read). A token revoked or a user
// removed by another process stops working with the next request.
class TokenAuthenticator {
 public:
  // legacy_token: the data directory's token file (the default user's).
  TokenAuthenticator(std::unique_ptr<UserStore> users, std::string legacy_token, std::string default_user);
  std::optional<Principal> authenticate(std::string_view presented);

 private:
  std::mutex mutex_;
  std::unique_ptr<UserStore> users_;
  std::string legacy_token_;
  std::string default_user_;
};

}  // namespace kioku
