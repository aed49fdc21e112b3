// Bluesky over the AT Protocol (XRPC over HTTPS):
//   com.atproto.server.createSession     login with handle + app password
//   com.atproto.identity.resolveHandle   mention facets
//   com.atproto.server.refreshSession    when the access token expired
//   com.atproto.repo.createRecord        app.bsky.feed.post
//   com.atproto.repo.getRecord           a retry whose earlier attempt did land
//   app.bsky.feed.getAuthorFeed          import of the user's own posts
//   app.bsky.feed.getTimeline            optional timeline import
//
// Posting stores the post as a `bsky_post` memory FIRST (metadata.sync =
// "pending"), then sends it; on success the memory gets its at:// URI and
// sync = "synced". A failed send stays pending and retry_pending() sends it
// later: nothing is lost.
//
// Settings ([bluesky] in config.toml, environment wins):
//   bluesky.handle        BLUESKY_HANDLE
//   bluesky.app_password  BLUESKY_APP_PASSWORD   (secret: never logged)
//   bluesky.pds_url       KIOKU_BLUESKY_PDS_URL  (default https://bsky.social)
//   bluesky.lang          KIOKU_BLUESKY_LANG     (optional: the posts' langs)
//   bluesky.timeout_s     (default 30)
// See docs/BLUESKY.md.
//
// Each post is created with a record key derived from its memory, so a
// retry after a lost reply finds the record already there instead of posting
// it twice. The session (access + refresh JWT) lives only in memory, for the
// lifetime of the service; an expired access token is refreshed once.
//
// Errors: kioku::Error — kInvalidInput (empty, > 300 graphemes or > 3000
// bytes, not configured for import, login or record rejected: the server's
// message), kUnavailable (PDS unreachable / 429 / 5xx), kConflict (the same
// text was already posted: the store keeps one memory per text).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "app/app_context.h"

namespace kioku {

struct BskyPostResult {
  std::string memory_id;   // the bsky_post memory (always stored)
  bool sent = false;       // false: pending sync, retried later
  std::string uri;         // at://... when sent
  std::string error;       // why it was not sent
};

struct BskyImportResult {
  int imported = 0;        // new memories (own posts and timeline)
  int from_timeline = 0;   // of which from the timeline
  int seen = 0;            // posts read
  bool complete = true;    // false: max_posts was reached; the next import goes on from there
};

class BlueskyService {
 public:
  explicit BlueskyService(AppContext& ctx);
  ~BlueskyService();
  bool configured() const;
  // One line telling the user what to set, for when !configured().
  static std::string not_configured_notice();
  // Stores, then sends. Throws kInvalidInput before storing for empty text or
  // > 300 graphemes.
  BskyPostResult post(const std::string& text);
  // Sends every pending post; returns how many were sent.
  int retry_pending();
  int64_t pending_count();
  // The user's own posts (and the timeline when include_timeline), newest
  // first, stopping at the last imported one (incremental).
  BskyImportResult import_posts(bool include_timeline = false, int max_posts = 1000);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Grapheme clusters in text (ICU), as Bluesky counts the 300 limit.
size_t count_graphemes(const std::string& text);

}  // namespace kioku
