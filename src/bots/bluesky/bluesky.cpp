#include "bots/bluesky/bluesky.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <optional>
#include <set>

#include "bots/bluesky/rich_text.h"
#include "core/error.h"
#include "core/hash.h"
#include "core/text.h"
#include "core/time.h"
#include "net/http_client.h"

namespace kioku {

namespace {

constexpr size_t kMaxGraphemes = 300;
constexpr size_t kMaxPostBytes = 3000;  // app.bsky.feed.post maxLength
constexpr int kFeedPageSize = 100;
constexpr int kStorePageSize = 500;
constexpr const char* kPostCollection = "app.bsky.feed.post";
constexpr const char* kDefaultPds = "https://bsky.social";

// Metadata keys of bsky_post memories.
constexpr const char* kSync = "sync";
constexpr const char* kUri = "bsky_uri";
constexpr const char* kCid = "bsky_cid";
constexpr const char* kImported = "imported";
// Where an import cut short by max_posts goes on next time: a feed cursor.
constexpr const char* kResumeCursor = "bsky_import_resume";

using Params = net::Headers;  // query parameters

struct XrpcReply {
  net::Response response;
  int status = 0;  // 0: no HTTP answer at all
  nlohmann::json body;
  bool ok() const { return response.ok(); }
  std::string error_name() const { return body.is_object() ? body.value("error", std::string()) : std::string(); }
  std::string message() const { return body.is_object() ? body.value("message", std::string()) : std::string(); }
};

// Record keys of posts are TIDs: 13 base32-sortable characters of
// (microseconds since 1970 << 10 | clock id). Deriving it from the memory
// makes createRecord idempotent across retries.
std::string record_key_for(const Memory& m) {
  const std::string h = sha256_hex(m.id);
  const uint64_t bits = std::stoull(h.substr(0, 16), nullptr, 16);
  const uint64_t micros = static_cast<uint64_t>(to_millis(m.created_at)) * 1000 + bits % 1000;
  const uint64_t tid = ((micros & ((uint64_t{1} << 53) - 1)) << 10) | ((bits >> 10) & 0x3FF);
  static constexpr char kAlphabet[] = "234567abcdefghijklmnopqrstuvwxyz";
  std::string out(13, '2');
  for (int i = 0; i < 13; ++i) out[i] = kAlphabet[(tid >> (60 - 5 * i)) & 31];
  return out;
}

void validate_post_text(const std::string& text) {
  if (text.find_first_not_of(" \t\r\n") == std::string::npos) throw invalid_input("a Bluesky post needs text");
  if (!is_valid_utf8(text)) throw invalid_input("the post is not valid UTF-8");
  const size_t graphemes = count_graphemes(text);
  if (graphemes > kMaxGraphemes)
    throw invalid_input("the post is " + std::to_string(graphemes) + " characters long; Bluesky allows " +
                        std::to_string(kMaxGraphemes) + " (shorten it by " + std::to_string(graphemes - kMaxGraphemes) +
                        ")");
  if (text.size() > kMaxPostBytes)
    throw invalid_input("the post is " + std::to_string(text.size()) + " bytes of UTF-8; Bluesky allows " +
                        std::to_string(kMaxPostBytes));
}

std::string sync_state(const Memory& m) { return m.metadata.value(kSync, std::string()); }

}  // namespace

struct BlueskyService::Impl {
  explicit Impl(AppContext& c) : ctx(c) {
    const Config& config = ctx.config();
    handle = config.get_string_or("bluesky.handle", "", "BLUESKY_HANDLE");
    if (!handle.empty() && handle.front() == '@') handle.erase(0, 1);
    app_password = config.get_string_or("bluesky.app_password", "", "BLUESKY_APP_PASSWORD");
    pds_url = config.get_string_or("bluesky.pds_url", kDefaultPds, "KIOKU_BLUESKY_PDS_URL");
    timeout_s = config.get_number("bluesky.timeout_s").value_or(30);
  }

  AppContext& ctx;
  std::string handle;
  std::string app_password;
  std::string pds_url;
  double timeout_s = 30;
  std::unique_ptr<net::HttpClient> http_client;

  struct Session {
    std::string access_jwt;
    std::string refresh_jwt;
    std::string did;
    std::string handle;
  };
  std::optional<Session> session;

  bool configured() const { return !handle.empty() && !app_password.empty(); }

  std::string redact(std::string s) const {
    if (!app_password.empty())
      for (size_t p; (p = s.find(app_password)) != std::string::npos;) s.replace(p, app_password.size(), "***");
    return s;
  }

  // --- XRPC ---

  // One client per service: a retry here covers a blip; a PDS that stays
  // down leaves the post pending for retry_pending().
  net::HttpClient& http() {
    if (!http_client) {
      net::ClientOptions o;
      o.base_url = pds_url;
      o.service = {"Bluesky", "app password", {app_password}};
      o.connect_timeout_s = std::min(timeout_s, 10.0);
      o.read_timeout_s = timeout_s;
      o.retry.max_attempts = 2;
      o.retry.initial_backoff_s = 0.25;
      http_client = std::make_unique<net::HttpClient>(o);
    }
    return *http_client;
  }

  XrpcReply call(const std::string& method, const std::string& nsid, const Params& query, const nlohmann::json* body,
                 const std::string& bearer) {
    net::Request r;
    r.method = method;
    r.path = "/xrpc/" + nsid + net::query_string(query);
    if (!bearer.empty()) r.headers.emplace_back("Authorization", "Bearer " + bearer);
    if (method == "POST") {
      r.body = body ? body->dump() : std::string();
      r.content_type = "application/json";
    }
    XrpcReply reply;
    reply.response = http().send(r);
    reply.status = reply.response.status;
    reply.body = nlohmann::json::parse(reply.response.body, nullptr, false);
    if (reply.body.is_discarded()) reply.body = nlohmann::json();
    return reply;
  }

  // Turns a failed reply into the Error the rest of Kioku understands (the
  // net layer's one mapping: a wrong app password is kAuthFailed).
  [[noreturn]] void fail(const XrpcReply& r, const std::string& what) { throw http().error_for(r.response, what); }

  static bool expired(const XrpcReply& r) {
    return (r.status == 400 || r.status == 401) && r.error_name() == "ExpiredToken";
  }

  void require_configured() const {
    if (!configured()) throw invalid_input(not_configured_notice());
  }

  void create_session() {
    require_configured();
    const nlohmann::json body = {{"identifier", handle}, {"password", app_password}};
    XrpcReply r = call("POST", "com.atproto.server.createSession", {}, &body, "");
    if (!r.ok()) fail(r, "login as " + handle);
    adopt_session(r.body);
  }

  void adopt_session(const nlohmann::json& j) {
    if (!j.is_object() || !j.contains("accessJwt") || !j.contains("did"))
      throw unavailable("Bluesky: the session reply has no accessJwt/did");
    session = Session{j.value("accessJwt", ""), j.value("refreshJwt", ""), j.value("did", ""), j.value("handle", handle)};
  }

  // A refresh token can itself have expired (they live ~2 months): log in again then.
  void refresh_session() {
    if (session && !session->refresh_jwt.empty()) {
      XrpcReply r = call("POST", "com.atproto.server.refreshSession", {}, nullptr, session->refresh_jwt);
      if (r.ok()) {
        adopt_session(r.body);
        return;
      }
      if (r.status == 0 || r.status >= 500) fail(r, "session refresh");
    }
    session.reset();
    create_session();
  }

  const Session& ensure_session() {
    if (!session) create_session();
    return *session;
  }

  nlohmann::json authed(const std::string& method, const std::string& nsid, const Params& query,
                        const nlohmann::json* body, const std::string& what) {
    ensure_session();
    XrpcReply r = call(method, nsid, query, body, session->access_jwt);
    if (expired(r) || r.status == 401) {
      refresh_session();
      r = call(method, nsid, query, body, session->access_jwt);
    }
    if (!r.ok()) fail(r, what);
    return r.body;
  }

  // --- posting ---

  nlohmann::json build_facets(const std::string& text) {
    nlohmann::json facets = nlohmann::json::array();
    for (const auto& span : bsky::find_rich_text_spans(text)) {
      nlohmann::json feature;
      if (span.kind == bsky::RichTextSpan::Kind::kLink) {
        feature = {{"$type", "app.bsky.richtext.facet#link"}, {"uri", span.value}};
      } else {
        std::string lower = span.value;
        for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        XrpcReply r = call("GET", "com.atproto.identity.resolveHandle", {{"handle", lower}}, nullptr, "");
        // An unknown handle stays plain text; an unreachable server must not
        // silently drop the mention, so that fails the send (retried later).
        if (r.status == 0 || r.status == 429 || r.status >= 500) fail(r, "resolving @" + span.value);
        if (!r.ok() || !r.body.is_object() || !r.body.contains("did")) continue;
        feature = {{"$type", "app.bsky.richtext.facet#mention"}, {"did", r.body["did"]}};
      }
      facets.push_back({{"index", {{"byteStart", span.byte_start}, {"byteEnd", span.byte_end}}},
                        {"features", nlohmann::json::array({feature})}});
    }
    return facets;
  }

  struct Sent {
    std::string uri;
    std::string cid;
  };

  Sent create_post_record(const Memory& m) {
    const Session& s = ensure_session();
    nlohmann::json record = {{"$type", kPostCollection}, {"text", m.content}, {"createdAt", format_iso8601(m.event_time)}};
    nlohmann::json facets = build_facets(m.content);
    if (!facets.empty()) record["facets"] = std::move(facets);
    if (auto lang = ctx.config().get_string("bluesky.lang", "KIOKU_BLUESKY_LANG"); lang && !lang->empty())
      record["langs"] = nlohmann::json::array({*lang});
    const std::string rkey = record_key_for(m);
    const nlohmann::json body = {{"repo", s.did}, {"collection", kPostCollection}, {"rkey", rkey}, {"record", record}};
    try {
      nlohmann::json r = authed("POST", "com.atproto.repo.createRecord", {}, &body, "posting");
      return {r.value("uri", ""), r.value("cid", "")};
    } catch (const Error& e) {
      if (e.code() != ErrorCode::kInvalidInput || !session) throw;
      // A refused create may mean an earlier attempt did create it and only
      // its reply was lost: the record under our key is then this post.
      XrpcReply existing = call("GET", "com.atproto.repo.getRecord",
                                {{"repo", session->did}, {"collection", kPostCollection}, {"rkey", rkey}}, nullptr,
                                session->access_jwt);
      if (existing.ok() && existing.body.is_object() && existing.body.contains("uri"))
        return {existing.body.value("uri", ""), existing.body.value("cid", "")};
      throw;
    }
  }

  // Sends one pending memory and records the outcome on it. Throws the send
  // error after recording it.
  Sent send_and_record(Memory m) {
    try {
      Sent sent = create_post_record(m);
      m.metadata[kSync] = "synced";
      m.metadata[kUri] = sent.uri;
      m.metadata[kCid] = sent.cid;
      m.metadata["author"] = session ? session->handle : handle;
      m.metadata.erase("last_error");
      m.provenance.url = sent.uri;
      ctx.memories().update(m);
      return sent;
    } catch (const Error& e) {
      m.metadata[kSync] = "pending";
      m.metadata["attempts"] = m.metadata.value("attempts", 0) + 1;
      m.metadata["last_error"] = redact(e.what());
      m.metadata["last_attempt"] = format_iso8601(system_time().now());
      ctx.memories().update(m);
      throw;
    }
  }

  std::vector<Memory> all_posts(ListOrder order) {
    MemoryFilter f;
    f.user_id = ctx.user_id();
    f.types = {std::string(memory_types::kBskyPost)};
    std::vector<Memory> out;
    for (int offset = 0;; offset += kStorePageSize) {
      auto page = ctx.memories().list(f, order, kStorePageSize, offset);
      for (auto& m : page) out.push_back(std::move(m));
      if (static_cast<int>(page.size()) < kStorePageSize) break;
    }
    return out;
  }

  std::vector<Memory> pending_posts() {
    std::vector<Memory> pending;
    for (auto& m : all_posts(ListOrder::kOldestFirst))
      if (sync_state(m) == "pending") pending.push_back(std::move(m));
    return pending;
  }

  // --- import ---

  struct KnownPosts {
    std::map<std::string, bool> imported_by_uri;  // uri -> came from an import
    std::optional<Memory> resume_holder;           // the memory carrying kResumeCursor
  };

  KnownPosts known_posts() {
    KnownPosts known;
    for (auto& m : all_posts(ListOrder::kNewestFirst)) {
      const std::string uri = m.metadata.value(kUri, std::string());
      if (!uri.empty()) known.imported_by_uri[uri] = m.metadata.value(kImported, false);
      if (m.metadata.contains(kResumeCursor)) known.resume_holder = std::move(m);
    }
    return known;
  }

  Memory memory_from_feed_post(const nlohmann::json& post, bool timeline) {
    const nlohmann::json& record = post["record"];
    Memory m;
    m.user_id = ctx.user_id();
    m.type = std::string(memory_types::kBskyPost);
    m.content = record.value("text", std::string());
    m.source = Source::kImported;
    m.memory_kind = MemoryKind::kEvent;
    m.tags = {"bluesky"};
    if (timeline) m.tags.push_back("timeline");
    const std::string uri = post.value("uri", std::string());
    m.provenance.kind = "bluesky";
    m.provenance.url = uri;
    const auto& author = post.contains("author") ? post["author"] : nlohmann::json::object();
    const std::string author_handle = author.value("handle", std::string());
    if (auto t = parse_iso8601(record.value("createdAt", std::string()))) m.event_time = *t;
    else if (auto t2 = parse_iso8601(post.value("indexedAt", std::string()))) m.event_time = *t2;
    m.metadata = {{kUri, uri},
                  {kCid, post.value("cid", std::string())},
                  {kSync, "synced"},
                  {kImported, true},
                  {"author", author_handle},
                  {"author_did", author.value("did", std::string())}};
    if (timeline) {
      m.metadata["feed"] = "timeline";
      if (!author_handle.empty()) m.entities = {author_handle};
    }
    return m;
  }

  struct Walk {
    std::vector<Memory> collected;
    std::set<std::string> collected_uris;
    int seen = 0;
    std::optional<std::string> truncated_at;  // cursor to go on from when max was reached
  };

  // Pages through a feed newest first. With stop_at_imported the walk ends at
  // the first post a previous import stored (the incremental case); without
  // it, known posts are skipped and the walk goes to the end of the feed.
  void walk_feed(const std::string& nsid, Params base_query, std::string cursor, bool stop_at_imported, bool own_posts,
                 const KnownPosts& known, size_t max_posts, Walk& walk) {
    const std::string my_did = ensure_session().did;
    while (true) {
      Params query = base_query;
      query.emplace_back("limit", std::to_string(kFeedPageSize));
      if (!cursor.empty()) query.emplace_back("cursor", cursor);
      nlohmann::json page = authed("GET", nsid, query, nullptr, "reading " + nsid);
      const auto& feed = page.contains("feed") && page["feed"].is_array() ? page["feed"] : nlohmann::json::array();
      bool page_added = false;
      for (const auto& item : feed) {
        if (!item.is_object() || !item.contains("post") || !item["post"].is_object()) continue;
        const auto& post = item["post"];
        if (!post.contains("record") || !post["record"].is_object()) continue;
        ++walk.seen;
        const std::string uri = post.value("uri", std::string());
        const std::string author_did = post.contains("author") ? post["author"].value("did", std::string()) : "";
        // Reposts show other people's posts in the author feed; the timeline
        // shows the user's own, which the author feed covers.
        if (own_posts != (author_did == my_did)) continue;
        if (uri.empty() || walk.collected_uris.count(uri)) continue;
        if (auto it = known.imported_by_uri.find(uri); it != known.imported_by_uri.end()) {
          // A repost can bring an old post to the top: only an original post
          // marks where the last import began.
          if (stop_at_imported && it->second && !item.contains("reason")) return;
          continue;
        }
        Memory m = memory_from_feed_post(post, !own_posts);
        if (m.content.empty()) continue;  // image-only posts carry no text to remember
        if (walk.collected.size() >= max_posts) {
          walk.truncated_at = cursor;
          return;
        }
        walk.collected_uris.insert(uri);
        walk.collected.push_back(std::move(m));
        page_added = true;
      }
      const std::string next = page.value("cursor", std::string());
      if (feed.empty() || next.empty() || next == cursor) return;
      // The timeline has no "already imported" marker of its own: a page
      // with nothing new means the rest was read before.
      if (!own_posts && !page_added) return;
      cursor = next;
    }
  }

  BskyImportResult import_posts(bool include_timeline, int max_posts) {
    require_configured();
    if (max_posts <= 0) throw invalid_input("the import limit must be positive");
    const std::string did = ensure_session().did;
    KnownPosts known = known_posts();
    Walk own;
    const size_t max = static_cast<size_t>(max_posts);
    walk_feed("app.bsky.feed.getAuthorFeed", {{"actor", did}}, "", true, true, known, max, own);
    std::optional<std::string> resume;
    if (own.truncated_at) {
      // Going on from here later covers everything older, including an
      // older unfinished stretch, so one cursor is enough.
      resume = own.truncated_at;
    } else if (known.resume_holder) {
      walk_feed("app.bsky.feed.getAuthorFeed", {{"actor", did}}, known.resume_holder->metadata[kResumeCursor].get<std::string>(), false,
                true, known, max, own);
      resume = own.truncated_at;
    }
    Walk timeline;
    if (include_timeline) walk_feed("app.bsky.feed.getTimeline", {}, "", false, false, known, max, timeline);

    BskyImportResult result;
    result.seen = own.seen + timeline.seen;
    result.complete = !resume.has_value();
    if (resume && !own.collected.empty()) own.collected.back().metadata[kResumeCursor] = *resume;
    std::vector<Memory> batch = std::move(own.collected);
    const size_t own_count = batch.size();
    for (auto& m : timeline.collected) batch.push_back(std::move(m));
    // Newest first from the feeds; stored oldest first so ids follow time.
    std::vector<Memory> ordered(batch.rbegin(), batch.rend());
    const auto outcomes = ctx.memories().add_batch(std::move(ordered));
    for (size_t i = 0; i < outcomes.size(); ++i) {
      if (!outcomes[i].created) continue;
      ++result.imported;
      // ordered is reversed: the first (batch.size() - own_count) are timeline posts.
      if (i < batch.size() - own_count) ++result.from_timeline;
    }
    // The cursor rides on the oldest post of this run; if that text was
    // already stored (same words posted twice), it rides on that memory.
    if (resume && !outcomes[batch.size() - own_count].created) {
      if (auto holder = ctx.memories().get(ctx.user_id(), outcomes[batch.size() - own_count].id)) {
        holder->metadata[kResumeCursor] = *resume;
        ctx.memories().update(*holder);
      }
    }
    if (known.resume_holder && (!resume || own_count > 0)) {
      Memory holder = *known.resume_holder;
      if (auto fresh = ctx.memories().get(holder.user_id, holder.id)) {
        fresh->metadata.erase(kResumeCursor);
        ctx.memories().update(*fresh);
      }
    }
    return result;
  }
};

BlueskyService::BlueskyService(AppContext& ctx) : impl_(std::make_unique<Impl>(ctx)) {}
BlueskyService::~BlueskyService() = default;

bool BlueskyService::configured() const { return impl_->configured(); }

std::string BlueskyService::not_configured_notice() {
  return "Bluesky is not configured: set bluesky.handle and bluesky.app_password in config.toml (or "
         "BLUESKY_HANDLE and BLUESKY_APP_PASSWORD); posts are kept and sent by `kioku bsky sync`";
}

BskyPostResult BlueskyService::post(const std::string& text) {
  validate_post_text(text);
  AppContext& ctx = impl_->ctx;
  Memory m;
  m.user_id = ctx.user_id();
  m.type = std::string(memory_types::kBskyPost);
  m.content = text;
  m.source = Source::kManual;
  m.memory_kind = MemoryKind::kEvent;
  m.tags = {"bluesky"};
  m.provenance.kind = "bluesky";
  m.event_time = system_time().now();
  m.metadata = {{kSync, "pending"}, {"attempts", 0}};
  const AddOutcome added = ctx.memories().add(m);
  auto stored = ctx.memories().get(m.user_id, added.id);
  if (!stored) throw Error(ErrorCode::kInternal, "the Bluesky post memory vanished after it was stored");
  if (!added.created && sync_state(*stored) != "pending")
    throw conflict("this exact text is already on Bluesky as " + stored->metadata.value(kUri, std::string("a post")) +
                   " (memory " + stored->id + ")");

  BskyPostResult result;
  result.memory_id = stored->id;
  if (!impl_->configured()) {
    result.error = not_configured_notice();
    return result;
  }
  try {
    result.uri = impl_->send_and_record(*stored).uri;
    result.sent = true;
  } catch (const Error& e) {
    result.error = impl_->redact(e.what());
  }
  return result;
}

int BlueskyService::retry_pending() {
  if (!impl_->configured()) return 0;
  int sent = 0;
  for (const Memory& m : impl_->pending_posts()) {
    // Another process (the bot, a second CLI) may have sent it meanwhile.
    auto fresh = impl_->ctx.memories().get(m.user_id, m.id);
    if (!fresh || sync_state(*fresh) != "pending") continue;
    try {
      impl_->send_and_record(*fresh);
      ++sent;
    } catch (const Error& e) {
      // The server being down (or refusing the password) fails every later
      // post too: stop, keep order.
      if (e.code() == ErrorCode::kUnavailable || e.code() == ErrorCode::kAuthFailed) break;
    }
  }
  return sent;
}

int64_t BlueskyService::pending_count() { return static_cast<int64_t>(impl_->pending_posts().size()); }

BskyImportResult BlueskyService::import_posts(bool include_timeline, int max_posts) {
  return impl_->import_posts(include_timeline, max_posts);
}

}  // namespace kioku
