// The users of one Kioku data directory and their API tokens (issue 14).
//
// A user's id is the user_id every other store keys its rows by ("local" for
// the single-user setup). Tokens are stored only as their SHA-256 (callers
// hash; a token is 256 random bits, so no salt or slow hash is needed): the
// store never sees a token itself, and a stolen database holds no usable
// secret. find_token() compares the stored hash with the one asked for in
// constant time.
// Contracts: every write is one transaction; failures throw kioku::Error
// (kIo database errors, kNotFound unknown user, kConflict a user that
// exists already or still has data). Thread safety: one thread at a time,
// like every store; open one per thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/time.h"

namespace kioku {

struct User {
  std::string id;
  bool admin = false;  // may manage users and server-wide settings
  TimePoint created_at{};
  int64_t tokens = 0;  // how many tokens it has
};

struct TokenOwner {
  std::string user_id;
  bool admin = false;
};

struct UserRemoval {
  int64_t tokens = 0;     // tokens revoked
  int64_t data_rows = 0;  // rows of the user's data deleted (every table with a user_id)
};

class UserStore {
 public:
  virtual ~UserStore() = default;

  // Adds a user; kConflict when the id is taken.
  virtual User add_user(const std::string& id, bool admin) = 0;
  // Adds the user when missing (the default user of a data directory); true
  // when it was added. An existing user is left as it is.
  virtual bool ensure_user(const std::string& id, bool admin) = 0;
  virtual std::optional<User> get_user(const std::string& id) = 0;
  virtual std::vector<User> list_users() = 0;

  // Stores the hash of a new token of user_id (kNotFound for an unknown user).
  virtual void add_token(const std::string& user_id, const std::string& token_sha256, const std::string& label) = 0;
  // Whose token has this hash (nullopt: nobody's).
  virtual std::optional<TokenOwner> find_token(const std::string& token_sha256) = 0;
  // Revokes every token of user_id; returns how many there were.
  virtual int64_t revoke_tokens(const std::string& user_id) = 0;

  // Rows of user_id's data (memories, journals, jobs, graph, core memory...).
  virtual int64_t count_data(const std::string& user_id) = 0;
  // Removes the user and its tokens in one transaction. With delete_data,
  // every row of the user's data goes in the same transaction; without it,
  // a user with data is refused (kConflict) and nothing changes.
  virtual UserRemoval remove_user(const std::string& id, bool delete_data) = 0;
};

}  // namespace kioku
