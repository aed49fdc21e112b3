#include "app/users.h"

#include <fstream>

#include "app/app_context.h"
#include "core/error.h"
#include "core/hash.h"

namespace kioku {

namespace {

// Compares without an early exit, so timing does not tell how much of a
// guess was right.
bool same_secret(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

}  // namespace

std::string new_api_token() {
  unsigned char bytes[32];
  std::ifstream random("/dev/urandom", std::ios::binary);
  if (!random.read(reinterpret_cast<char*>(bytes), sizeof bytes)) throw io_error("cannot read /dev/urandom");
  return lower_hex(bytes, sizeof bytes);
}

std::string api_token_hash(std::string_view token) { return sha256_hex(token); }

void check_user_id(const std::string& id) {
  auto ok_char = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
           c == '_';
  };
  bool ok = !id.empty() && id.size() <= 64 && ok_char(id.front()) && id.front() != '.' && id.front() != '-' &&
            id.front() != '_';
  for (char c : id) ok = ok && ok_char(c);
  if (!ok)
    throw invalid_input("'" + id + "' is not a user name: use 1-64 letters, digits, '.', '-' or '_', starting with a "
                        "letter or digit");
}

std::string issue_token(UserStore& users, const std::string& user_id, const std::string& label) {
  std::string token = new_api_token();
  users.add_token(user_id, api_token_hash(token), label);
  return token;
}

std::string owner_user_id(AppContext& ctx) { return ctx.config().get_string_or("user.id", "local", "KIOKU_USER"); }

void ensure_default_user(AppContext& ctx) { ctx.users().ensure_user(owner_user_id(ctx), /*admin=*/true); }

nlohmann::json remove_user(AppContext& ctx, const std::string& user_id, bool delete_data) {
  if (user_id == owner_user_id(ctx))
    throw conflict("'" + user_id + "' owns this data directory (its token is <data>/token): it stays");
  if (!ctx.users().get_user(user_id)) throw not_found("no user '" + user_id + "'");
  const auto drafts = ctx.drafts().open_session(user_id);
  if (drafts && !delete_data)
    throw conflict("user '" + user_id + "' has an open journal session: remove it with --delete-data to delete it too");
  const UserRemoval removed = ctx.users().remove_user(user_id, delete_data);
  int draft_entries = 0;
  if (drafts) {
    draft_entries = drafts->entry_count;
    ctx.drafts().discard_session(drafts->id);
  }
  return {{"user", user_id}, {"tokens", removed.tokens}, {"data_rows", removed.data_rows}, {"draft_entries", draft_entries}};
}

nlohmann::json user_json(const User& u) {
  return {{"user", u.id}, {"admin", u.admin}, {"tokens", u.tokens}, {"created_at", format_iso8601(u.created_at)}};
}

TokenAuthenticator::TokenAuthenticator(std::unique_ptr<UserStore> users, std::string legacy_token,
                                       std::string default_user)
    : users_(std::move(users)), legacy_token_(std::move(legacy_token)), default_user_(std::move(default_user)) {}

std::optional<Principal> TokenAuthenticator::authenticate(std::string_view presented) {
  if (presented.empty()) return std::nullopt;
  if (!legacy_token_.empty() && same_secret(presented, legacy_token_)) return Principal{default_user_, true};
  const std::string hash = api_token_hash(presented);
  std::lock_guard<std::mutex> lock(mutex_);
  if (auto owner = users_->find_token(hash)) return Principal{owner->user_id, owner->admin};
  return std::nullopt;
}

}  // namespace kioku
