// Users and their tokens over HTTP (issue 14): /api/me for everyone, the
// rest for admins (Route::admin_only; server.cpp answers 403 otherwise).
// A token is in a response only once: when it is created.
#include "app/users.h"
#include "core/error.h"
#include "server/mcp_http.h"
#include "server/services.h"

namespace kioku::server {

using nlohmann::json;

namespace {

ApiResponse whoami(Services&, const ApiRequest& req) {
  ApiResponse r;
  r.body = {{"user", req.user_id}, {"admin", req.admin}};
  return r;
}

ApiResponse list_users(Services& s, const ApiRequest& req) {
  auto ctx = s.context(req);
  json items = json::array();
  for (const auto& u : ctx->users().list_users()) items.push_back(user_json(u));
  ApiResponse r;
  r.body = {{"items", items}};
  return r;
}

ApiResponse add_user(Services& s, const ApiRequest& req) {
  const json body = req.json();
  if (!body.contains("name") || !body["name"].is_string()) throw invalid_input("'name' (text) is required");
  const std::string name = body["name"].get<std::string>();
  check_user_id(name);
  const bool admin = body.contains("admin") && body["admin"].is_boolean() && body["admin"].get<bool>();
  auto ctx = s.context(req);
  User u = ctx->users().add_user(name, admin);
  const std::string token = issue_token(ctx->users(), name, "created with the user");
  ApiResponse r;
  r.status = 201;
  u.tokens = 1;
  r.body = user_json(u);
  r.body["token"] = token;  // shown this once; only its hash is stored
  return r;
}

ApiResponse add_token(Services& s, const ApiRequest& req) {
  const json body = req.json();
  const std::string label = body.contains("label") && body["label"].is_string() ? body["label"].get<std::string>() : "";
  auto ctx = s.context(req);
  const std::string& name = req.path_params.at(0);
  ApiResponse r;
  r.status = 201;
  r.body = {{"user", name}, {"token", issue_token(ctx->users(), name, label)}};
  return r;
}

ApiResponse revoke_tokens(Services& s, const ApiRequest& req) {
  auto ctx = s.context(req);
  const std::string& name = req.path_params.at(0);
  if (!ctx->users().get_user(name)) throw not_found("no user '" + name + "'");
  ApiResponse r;
  r.body = {{"user", name}, {"revoked", ctx->users().revoke_tokens(name)}};
  return r;
}

ApiResponse delete_user(Services& s, const ApiRequest& req) {
  const std::string flag = req.param("delete_data");
  const bool delete_data = flag == "1" || flag == "true";
  auto ctx = s.context(req);
  ApiResponse r;
  r.body = remove_user(*ctx, req.path_params.at(0), delete_data);
  return r;
}

}  // namespace

std::vector<Route> user_routes() {
  std::vector<Route> r;
  r.push_back({"GET", "/api/me", "Who this token belongs to {user, admin}", "users", true, {}, nullptr, false, false,
               whoami});
  r.push_back({"GET", "/api/users", "Users and how many tokens each has (admin)", "users", true, {}, nullptr, false,
               false, list_users, true});
  r.push_back({"POST", "/api/users", "Add a user {name, admin}; answers its first token, shown only this once (admin)",
               "users", true, {},
               {{"type", "object"},
                {"required", {"name"}},
                {"properties", {{"name", {{"type", "string"}}}, {"admin", {{"type", "boolean"}}}}}},
               false, false, add_user, true});
  r.push_back({"POST", "/api/users/{name}/tokens", "A new token for the user, shown only this once (admin)", "users",
               true, {}, {{"type", "object"}, {"properties", {{"label", {{"type", "string"}}}}}}, false, false,
               add_token, true});
  r.push_back({"DELETE", "/api/users/{name}/tokens", "Revoke every token of the user (admin)", "users", true, {},
               nullptr, false, false, revoke_tokens, true});
  r.push_back({"DELETE", "/api/users/{name}",
               "Remove a user: 409 while it has data, unless ?delete_data=true deletes it all (admin)", "users", true,
               {{"delete_data", "boolean", "also delete every memory, journal, job, ... of the user"}}, nullptr, false,
               false, delete_user, true});
  return r;
}

}  // namespace kioku::server
