// A loopback PDS for tests: speaks the XRPC endpoints Kioku uses
// (createSession, refreshSession, resolveHandle, createRecord, getRecord,
// getAuthorFeed, getTimeline), checks bearer tokens and request bodies as the
// real server does, and can be told to fail.
#pragma once

#include <atomic>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "testing/loopback_server.h"

namespace kioku::testing {

class FakePds {
 public:
  static constexpr const char* kHandle = "alice.test";
  static constexpr const char* kPassword = "abcd-efgh-ijkl-mnop";
  static constexpr const char* kDid = "did:plc:alice";

  FakePds() : server_([this](httplib::Server& s) { routes(s); }) {}

  std::string url() const { return server_.url(); }

  std::atomic<bool> down{false};             // every endpoint answers 503
  std::atomic<int> lose_create_replies{0};   // create the record, then answer 500
  std::atomic<int> create_sessions{0};
  std::atomic<int> refreshes{0};
  std::atomic<int> author_feed_requests{0};

  // Makes the current access token expired (the next call gets ExpiredToken).
  void expire_access_token() {
    std::lock_guard<std::mutex> lock(mutex_);
    expired_access_.push_back(access_);
    access_ = "access-expired-" + std::to_string(++token_counter_);  // nobody holds this one
  }
  void add_handle(const std::string& handle, const std::string& did) {
    std::lock_guard<std::mutex> lock(mutex_);
    handles_[handle] = did;
  }
  // Adds a post to the top of the user's author feed (as if posted elsewhere).
  std::string add_own_post(const std::string& text, const std::string& created_at) {
    std::lock_guard<std::mutex> lock(mutex_);
    const std::string uri = std::string("at://") + kDid + "/app.bsky.feed.post/ext" + std::to_string(++post_counter_);
    author_feed_.insert(author_feed_.begin(), feed_item(uri, kDid, kHandle, text, created_at));
    return uri;
  }
  // Someone else's post reposted by the user: shows in the author feed.
  void add_repost(const std::string& text, const std::string& created_at) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto item = feed_item("at://did:plc:carol/app.bsky.feed.post/r" + std::to_string(++post_counter_), "did:plc:carol",
                          "carol.test", text, created_at);
    item["reason"] = {{"$type", "app.bsky.feed.defs#reasonRepost"}};
    author_feed_.insert(author_feed_.begin(), item);
  }
  void add_timeline_post(const std::string& author_handle, const std::string& text, const std::string& created_at) {
    std::lock_guard<std::mutex> lock(mutex_);
    timeline_.insert(timeline_.begin(),
                     feed_item("at://did:plc:" + author_handle + "/app.bsky.feed.post/t" + std::to_string(++post_counter_),
                               "did:plc:" + author_handle, author_handle, text, created_at));
  }
  std::vector<nlohmann::json> records() {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<nlohmann::json> out;
    for (const auto& rkey : record_order_) out.push_back(records_.at(rkey));
    return out;
  }
  // Every Authorization header and body the server saw (to look for secrets).
  std::string transcript() {
    std::lock_guard<std::mutex> lock(mutex_);
    return transcript_;
  }

 private:
  static nlohmann::json feed_item(const std::string& uri, const std::string& did, const std::string& handle,
                                  const std::string& text, const std::string& created_at) {
    return {{"post",
             {{"uri", uri},
              {"cid", "bafy" + std::to_string(std::hash<std::string>{}(uri))},
              {"author", {{"did", did}, {"handle", handle}}},
              {"record", {{"$type", "app.bsky.feed.post"}, {"text", text}, {"createdAt", created_at}}},
              {"indexedAt", created_at}}}};
  }

  static void error(httplib::Response& res, int status, const std::string& name, const std::string& message) {
    res.status = status;
    res.set_content(nlohmann::json{{"error", name}, {"message", message}}.dump(), "application/json");
  }

  // Checks the bearer token like the PDS: expired ones get 400 ExpiredToken.
  bool authorized(const httplib::Request& req, httplib::Response& res, const std::string& expected) {
    const std::string auth = req.get_header_value("Authorization");
    if (auth == "Bearer " + expected) return true;
    for (const auto& old : expired_access_)
      if (auth == "Bearer " + old) {
        error(res, 400, "ExpiredToken", "Token has expired");
        return false;
      }
    error(res, 401, "AuthenticationRequired", "Invalid identifier or password");
    return false;
  }

  void issue_tokens(httplib::Response& res) {
    ++token_counter_;
    access_ = "access-" + std::to_string(token_counter_);
    refresh_ = "refresh-" + std::to_string(token_counter_);
    res.set_content(nlohmann::json{{"accessJwt", access_}, {"refreshJwt", refresh_}, {"did", kDid}, {"handle", kHandle}}.dump(),
                    "application/json");
  }

  static bool valid_tid(const std::string& s) {
    if (s.size() != 13 || std::string("234567abcdefghij").find(s[0]) == std::string::npos) return false;
    for (char c : s)
      if (std::string("234567abcdefghijklmnopqrstuvwxyz").find(c) == std::string::npos) return false;
    return true;
  }

  void page(const std::vector<nlohmann::json>& feed, const httplib::Request& req, httplib::Response& res) {
    const size_t limit = std::min<size_t>(100, std::stoul(req.has_param("limit") ? req.get_param_value("limit") : "50"));
    const size_t start = req.has_param("cursor") ? std::stoul(req.get_param_value("cursor")) : 0;
    nlohmann::json out = {{"feed", nlohmann::json::array()}};
    for (size_t i = start; i < feed.size() && i < start + limit; ++i) out["feed"].push_back(feed[i]);
    if (start + limit < feed.size()) out["cursor"] = std::to_string(start + limit);
    res.set_content(out.dump(), "application/json");
  }

  void routes(httplib::Server& s) {
    s.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
      {
        std::lock_guard<std::mutex> lock(mutex_);
        transcript_ += req.method + " " + req.path + " " + req.get_header_value("Authorization") + " " + req.body + "\n";
      }
      if (!down) return httplib::Server::HandlerResponse::Unhandled;
      error(res, 503, "InternalServerError", "down for maintenance");
      return httplib::Server::HandlerResponse::Handled;
    });
    s.Post("/xrpc/com.atproto.server.createSession", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard<std::mutex> lock(mutex_);
      ++create_sessions;
      auto body = nlohmann::json::parse(req.body, nullptr, false);
      if (!body.is_object() || body.value("identifier", "") != kHandle || body.value("password", "") != kPassword)
        return error(res, 401, "AuthenticationRequired", "Invalid identifier or password");
      issue_tokens(res);
    });
    s.Post("/xrpc/com.atproto.server.refreshSession", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard<std::mutex> lock(mutex_);
      ++refreshes;
      if (req.get_header_value("Authorization") != "Bearer " + refresh_)
        return error(res, 400, "ExpiredToken", "Token has expired");
      issue_tokens(res);
    });
    s.Get("/xrpc/com.atproto.identity.resolveHandle", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = handles_.find(req.get_param_value("handle"));
      if (it == handles_.end()) return error(res, 400, "InvalidRequest", "Unable to resolve handle");
      res.set_content(nlohmann::json{{"did", it->second}}.dump(), "application/json");
    });
    s.Post("/xrpc/com.atproto.repo.createRecord", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!authorized(req, res, access_)) return;
      if (req.get_header_value("Content-Type") != "application/json")
        return error(res, 400, "InvalidRequest", "expected application/json");
      auto body = nlohmann::json::parse(req.body, nullptr, false);
      if (!body.is_object() || body.value("repo", "") != kDid || body.value("collection", "") != "app.bsky.feed.post" ||
          !body.contains("record"))
        return error(res, 400, "InvalidRequest", "bad createRecord input");
      const auto& record = body["record"];
      const std::string created_at = record.value("createdAt", "");
      if (record.value("$type", "") != "app.bsky.feed.post" || !record.contains("text") || created_at.size() != 24 ||
          created_at.back() != 'Z' || created_at[19] != '.')
        return error(res, 400, "InvalidRequest", "Invalid app.bsky.feed.post record");
      const std::string rkey = body.value("rkey", "");
      if (!valid_tid(rkey)) return error(res, 400, "InvalidRequest", "Invalid record key");
      if (records_.count(rkey)) return error(res, 400, "InvalidRequest", "Record already exists");
      const std::string uri = std::string("at://") + kDid + "/app.bsky.feed.post/" + rkey;
      const std::string cid = "bafyrei" + rkey;
      records_[rkey] = {{"uri", uri}, {"cid", cid}, {"value", record}};
      record_order_.push_back(rkey);
      nlohmann::json item = feed_item(uri, kDid, kHandle, record["text"], created_at);
      item["post"]["cid"] = cid;
      author_feed_.insert(author_feed_.begin(), item);
      if (lose_create_replies > 0) {
        --lose_create_replies;
        return error(res, 500, "InternalServerError", "connection reset after commit");
      }
      res.set_content(nlohmann::json{{"uri", uri}, {"cid", cid}}.dump(), "application/json");
    });
    s.Get("/xrpc/com.atproto.repo.getRecord", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = records_.find(req.get_param_value("rkey"));
      if (req.get_param_value("repo") != kDid || it == records_.end())
        return error(res, 400, "RecordNotFound", "Could not locate record");
      res.set_content(it->second.dump(), "application/json");
    });
    s.Get("/xrpc/app.bsky.feed.getAuthorFeed", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!authorized(req, res, access_)) return;
      ++author_feed_requests;
      if (req.get_param_value("actor") != kDid) return error(res, 400, "InvalidRequest", "Profile not found");
      page(author_feed_, req, res);
    });
    s.Get("/xrpc/app.bsky.feed.getTimeline", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!authorized(req, res, access_)) return;
      page(timeline_, req, res);
    });
  }

  std::mutex mutex_;
  std::string access_ = "never-issued";
  std::string refresh_ = "never-issued";
  std::vector<std::string> expired_access_;
  int token_counter_ = 0;
  int post_counter_ = 0;
  std::map<std::string, std::string> handles_;
  std::map<std::string, nlohmann::json> records_;  // by rkey
  std::vector<std::string> record_order_;
  std::vector<nlohmann::json> author_feed_;  // newest first
  std::vector<nlohmann::json> timeline_;     // newest first
  std::string transcript_;
  LoopbackServer server_;  // last: routes run only once the state above exists
};

}  // namespace kioku::testing
