// Bluesky posting, pending sync and import against a loopback PDS.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include <map>
#include <optional>
#include <sstream>

#include "app/app_context.h"
#include "bots/bluesky/bluesky.h"
#include "bots/bluesky/rich_text.h"
#include "bots/bluesky/fake_pds.h"
#include "core/error.h"
#include "testing/background_process.h"
#include "testing/run_binary.h"
#include "testing/temp_dir.h"

namespace kioku {
namespace {

std::string repeat(const std::string& s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

// "2024-05-01T10:00:00.000Z" plus i minutes: posts with increasing times.
std::string minute(int i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "2024-05-%02dT%02d:%02d:00.000Z", 1 + i / 1440, (i / 60) % 24, i % 60);
  return buf;
}

class Bluesky : public ::testing::Test {
 protected:
  Bluesky() { env = {{"KIOKU_BLUESKY_PDS_URL", pds.url()}, {"BLUESKY_HANDLE", "@alice.test"}, {"BLUESKY_APP_PASSWORD", testing::FakePds::kPassword}}; }

  AppContext& ctx() {
    if (!ctx_) {
      auto lookup = [this](const std::string& name) -> std::optional<std::string> {
        auto it = env.find(name);
        if (it == env.end()) return std::nullopt;
        return it->second;
      };
      ctx_ = std::make_unique<AppContext>(dir / "data", "", lookup);
      ctx_->ensure_initialized();
    }
    return *ctx_;
  }
  std::vector<Memory> posts() {
    MemoryFilter f;
    f.types = {"bsky_post"};
    return ctx().memories().list(f, ListOrder::kOldestFirst, 10000, 0);
  }

  testing::FakePds pds;
  std::map<std::string, std::string> env;
  testing::TempDir dir;
  std::unique_ptr<AppContext> ctx_;
};

TEST(BlueskyText, GraphemesCountWhatPeopleSee) {
  EXPECT_EQ(count_graphemes(""), 0u);
  EXPECT_EQ(count_graphemes("abc"), 3u);
  EXPECT_EQ(count_graphemes("日本語"), 3u);
  EXPECT_EQ(count_graphemes("\xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x91\xA7\xE2\x80\x8D\xF0\x9F\x91\xA6"),
            1u);                                                       // family: man ZWJ woman ZWJ girl ZWJ boy
  EXPECT_EQ(count_graphemes("e\xCC\x81"), 1u);                         // e + combining acute
  EXPECT_EQ(count_graphemes("\xF0\x9F\x87\xAF\xF0\x9F\x87\xB5"), 1u);  // flag JP
  EXPECT_EQ(count_graphemes("\xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD!"), 2u);  // thumbs up + skin tone, "!"
}

TEST(BlueskyText, LinksAndMentionsAsByteRanges) {
  const std::string text = "café → (see https://example.com/a_(b)?q=1). Ask @bob.test, not a@b.test or @nohandle!";
  auto spans = bsky::find_rich_text_spans(text);
  ASSERT_EQ(spans.size(), 2u);
  EXPECT_EQ(spans[0].kind, bsky::RichTextSpan::Kind::kLink);
  EXPECT_EQ(spans[0].value, "https://example.com/a_(b)?q=1");
  EXPECT_EQ(spans[0].byte_start, text.find("https://"));
  EXPECT_EQ(spans[0].byte_end, text.find(")."));
  EXPECT_EQ(spans[1].kind, bsky::RichTextSpan::Kind::kMention);
  EXPECT_EQ(spans[1].value, "bob.test");
  EXPECT_EQ(spans[1].byte_start, text.find("@bob"));
  EXPECT_EQ(spans[1].byte_end, text.find(", not"));
  EXPECT_TRUE(bsky::find_rich_text_spans("(https://x.org)")[0].value == "https://x.org");
  EXPECT_TRUE(bsky::find_rich_text_spans("https:// nothing").empty());
}

TEST_F(Bluesky, PostSendsFacetsWithUtf8ByteOffsets) {
  pds.add_handle("bob.test", "did:plc:bob");
  // Multi-byte text before the link: byte offsets differ from character offsets.
  const std::string text = "日本語のテスト ✨ read https://example.com/post?id=7. cc @bob.test and @ghost.test!";
  BlueskyService bsky(ctx());
  ASSERT_TRUE(bsky.configured());
  BskyPostResult r = bsky.post(text);
  ASSERT_TRUE(r.sent) << r.error;
  EXPECT_EQ(r.uri.rfind("at://did:plc:alice/app.bsky.feed.post/", 0), 0u);

  auto records = pds.records();
  ASSERT_EQ(records.size(), 1u);
  const auto& record = records[0]["value"];
  EXPECT_EQ(record["text"], text);
  EXPECT_EQ(record["$type"], "app.bsky.feed.post");
  const auto& facets = record["facets"];
  ASSERT_EQ(facets.size(), 2u) << record.dump();  // @ghost.test does not resolve: plain text
  const size_t link_start = text.find("https://");
  EXPECT_NE(count_graphemes(text.substr(0, link_start)), link_start);
  EXPECT_EQ(facets[0]["index"]["byteStart"], link_start);
  EXPECT_EQ(facets[0]["index"]["byteEnd"], link_start + std::string("https://example.com/post?id=7").size());
  EXPECT_EQ(facets[0]["features"][0]["$type"], "app.bsky.richtext.facet#link");
  EXPECT_EQ(facets[0]["features"][0]["uri"], "https://example.com/post?id=7");
  const size_t mention_start = text.find("@bob.test");
  EXPECT_EQ(facets[1]["index"]["byteStart"], mention_start);
  EXPECT_EQ(facets[1]["index"]["byteEnd"], mention_start + 9);
  EXPECT_EQ(facets[1]["features"][0]["$type"], "app.bsky.richtext.facet#mention");
  EXPECT_EQ(facets[1]["features"][0]["did"], "did:plc:bob");

  auto stored = posts();
  ASSERT_EQ(stored.size(), 1u);
  EXPECT_EQ(stored[0].id, r.memory_id);
  EXPECT_EQ(stored[0].content, text);
  EXPECT_EQ(stored[0].metadata["sync"], "synced");
  EXPECT_EQ(stored[0].metadata["bsky_uri"], r.uri);
  EXPECT_EQ(stored[0].metadata["bsky_cid"], records[0]["cid"]);
  EXPECT_EQ(record["createdAt"], format_iso8601(stored[0].event_time));
  EXPECT_EQ(pds.create_sessions, 1);
  // The app password goes only into the login request.
  std::istringstream transcript(pds.transcript());
  for (std::string line; std::getline(transcript, line);)
    if (line.find("createSession") == std::string::npos) {
      EXPECT_EQ(line.find(testing::FakePds::kPassword), std::string::npos) << line;
    }
}

TEST_F(Bluesky, OverLongPostIsRejectedBeforeAnythingIsStored) {
  BlueskyService bsky(ctx());
  const std::string family = "\xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x91\xA7";
  try {
    bsky.post(repeat("a", 301));
    FAIL() << "301 graphemes accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidInput);
    EXPECT_NE(std::string(e.what()).find("300"), std::string::npos) << e.what();
  }
  EXPECT_THROW(bsky.post(repeat("e\xCC\x81", 301)), Error);
  EXPECT_THROW(bsky.post("   "), Error);
  EXPECT_TRUE(posts().empty());
  EXPECT_EQ(pds.create_sessions, 0);
  // 300 graphemes of several code points each still fit.
  EXPECT_TRUE(bsky.post(repeat("e\xCC\x81", 300)).sent);
  EXPECT_TRUE(bsky.post(repeat(family, 100) + repeat("b", 200)).sent);
  EXPECT_EQ(posts().size(), 2u);
}

TEST_F(Bluesky, FailedPostStaysPendingAndIsSentOnRetry) {
  pds.down = true;
  BlueskyService bsky(ctx());
  BskyPostResult r = bsky.post("Morning walk by the canal");
  EXPECT_FALSE(r.sent);
  EXPECT_NE(r.error.find("503"), std::string::npos) << r.error;
  auto stored = posts();
  ASSERT_EQ(stored.size(), 1u);
  EXPECT_EQ(stored[0].metadata["sync"], "pending");
  EXPECT_EQ(stored[0].metadata["attempts"], 1);
  EXPECT_NE(stored[0].metadata.value("last_error", "").find("503"), std::string::npos);
  EXPECT_EQ(bsky.retry_pending(), 0);  // still down
  EXPECT_EQ(posts()[0].metadata["attempts"], 2);
  EXPECT_EQ(bsky.pending_count(), 1);

  pds.down = false;
  BlueskyService later(ctx());  // a new process, a new session
  EXPECT_EQ(later.retry_pending(), 1);
  EXPECT_EQ(later.retry_pending(), 0);
  stored = posts();
  ASSERT_EQ(stored.size(), 1u);
  EXPECT_EQ(stored[0].id, r.memory_id);
  EXPECT_EQ(stored[0].metadata["sync"], "synced");
  EXPECT_EQ(stored[0].metadata["bsky_uri"].get<std::string>().rfind("at://did:plc:alice/", 0), 0u);
  EXPECT_FALSE(stored[0].metadata.contains("last_error"));
  EXPECT_EQ(pds.records().size(), 1u);
  EXPECT_EQ(later.pending_count(), 0);
}

TEST_F(Bluesky, PendingPostsAreSentOldestFirst) {
  pds.down = true;
  BlueskyService bsky(ctx());
  bsky.post("first");
  bsky.post("second");
  bsky.post("third");
  pds.down = false;
  EXPECT_EQ(bsky.retry_pending(), 3);
  auto records = pds.records();
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[0]["value"]["text"], "first");
  EXPECT_EQ(records[2]["value"]["text"], "third");
}

TEST_F(Bluesky, LostReplyIsNotPostedTwice) {
  pds.lose_create_replies = 1;
  BlueskyService bsky(ctx());
  // The HTTP client retries the 500; that create is refused (the record is
  // there), and the record under the post's own key is recognised as it.
  BskyPostResult r = bsky.post("The server committed this but the reply was lost");
  EXPECT_TRUE(r.sent) << r.error;
  EXPECT_EQ(bsky.retry_pending(), 0);
  EXPECT_EQ(pds.records().size(), 1u);
  auto stored = posts();
  ASSERT_EQ(stored.size(), 1u);
  EXPECT_EQ(stored[0].metadata["bsky_uri"], pds.records()[0]["uri"]);
}

TEST_F(Bluesky, ExpiredAccessTokenIsRefreshed) {
  BlueskyService bsky(ctx());
  ASSERT_TRUE(bsky.post("one").sent);
  pds.expire_access_token();
  BskyPostResult r = bsky.post("two");
  ASSERT_TRUE(r.sent) << r.error;
  EXPECT_EQ(pds.create_sessions, 1);  // the session was reused, then refreshed
  EXPECT_EQ(pds.refreshes, 1);
  EXPECT_EQ(pds.records().size(), 2u);
}

TEST_F(Bluesky, UnconfiguredPostIsKeptPending) {
  env.erase("BLUESKY_APP_PASSWORD");
  BlueskyService bsky(ctx());
  EXPECT_FALSE(bsky.configured());
  BskyPostResult r = bsky.post("Written before setting up Bluesky");
  EXPECT_FALSE(r.sent);
  EXPECT_NE(r.error.find("not configured"), std::string::npos);
  EXPECT_EQ(posts().size(), 1u);
  EXPECT_EQ(posts()[0].metadata["sync"], "pending");
  EXPECT_EQ(bsky.retry_pending(), 0);
  EXPECT_THROW(bsky.import_posts(), Error);
  EXPECT_EQ(pds.create_sessions, 0);
}

TEST_F(Bluesky, WrongPasswordKeepsThePostAndNeverEchoesIt) {
  env["BLUESKY_APP_PASSWORD"] = "wrong-pass-word-1234";
  BlueskyService bsky(ctx());
  BskyPostResult r = bsky.post("hello");
  EXPECT_FALSE(r.sent);
  EXPECT_NE(r.error.find("401"), std::string::npos) << r.error;
  EXPECT_EQ(r.error.find("wrong-pass-word-1234"), std::string::npos);
  EXPECT_EQ(posts()[0].metadata.dump().find("wrong-pass-word-1234"), std::string::npos);
}

TEST_F(Bluesky, SameTextOnTwoOccasionsIsTwoPosts) {
  // Posts are events, like chat turns: "gm" every morning is a post a day.
  BlueskyService bsky(ctx());
  ASSERT_TRUE(bsky.post("gm").sent);
  std::this_thread::sleep_for(std::chrono::milliseconds(3));
  ASSERT_TRUE(bsky.post("gm").sent);
  EXPECT_EQ(posts().size(), 2u);
  EXPECT_EQ(pds.records().size(), 2u);
}

TEST_F(Bluesky, ImportPagesThroughTheFeedThenOnlyNewPosts) {
  for (int i = 0; i < 250; ++i) pds.add_own_post("old post number " + std::to_string(i), minute(i));
  pds.add_repost("someone else's post", minute(251));
  BlueskyService bsky(ctx());
  BskyImportResult r = bsky.import_posts();
  EXPECT_EQ(r.imported, 250);
  EXPECT_TRUE(r.complete);
  EXPECT_EQ(pds.author_feed_requests, 3);  // 100 + 100 + 51
  auto stored = posts();
  ASSERT_EQ(stored.size(), 250u);
  EXPECT_EQ(stored[0].content, "old post number 0");
  EXPECT_EQ(format_iso8601(stored[0].event_time), minute(0));
  EXPECT_EQ(stored[0].metadata["sync"], "synced");
  EXPECT_EQ(stored[0].metadata["author"], "alice.test");
  EXPECT_EQ(stored[0].provenance.kind, "bluesky");
  EXPECT_EQ(stored[0].source, Source::kImported);
  EXPECT_EQ(stored[0].metadata["bsky_uri"].get<std::string>().rfind("at://did:plc:alice/", 0), 0u);

  // A post made through Kioku is already a memory: import skips it, and it
  // does not stop the import either.
  ASSERT_TRUE(bsky.post("posted from kioku").sent);
  pds.add_own_post("new elsewhere 1", minute(300));
  pds.add_own_post("new elsewhere 2", minute(301));
  pds.author_feed_requests = 0;
  r = bsky.import_posts();
  EXPECT_EQ(r.imported, 2);
  EXPECT_EQ(pds.author_feed_requests, 1);  // stopped at the newest post imported before
  EXPECT_LT(r.seen, 10);
  EXPECT_EQ(posts().size(), 253u);
  EXPECT_EQ(bsky.import_posts().imported, 0);
}

TEST_F(Bluesky, ImportCutShortByTheLimitGoesOnNextTime) {
  for (int i = 0; i < 250; ++i) pds.add_own_post("post " + std::to_string(i), minute(i));
  BlueskyService bsky(ctx());
  BskyImportResult r = bsky.import_posts(false, 120);
  EXPECT_EQ(r.imported, 120);
  EXPECT_FALSE(r.complete);
  pds.add_own_post("brand new", minute(400));
  r = bsky.import_posts(false, 1000);
  EXPECT_EQ(r.imported, 131);  // the new one and the 130 older ones
  EXPECT_TRUE(r.complete);
  EXPECT_EQ(posts().size(), 251u);
  EXPECT_EQ(bsky.import_posts().imported, 0);
  for (const auto& m : posts()) EXPECT_FALSE(m.metadata.contains("bsky_import_resume")) << m.content;
}

TEST_F(Bluesky, TimelineImportTagsOthersPosts) {
  pds.add_own_post("mine", minute(1));
  pds.add_timeline_post("dave.test", "Dave's cat photo caption", minute(2));
  pds.add_timeline_post("erin.test", "Erin went hiking", minute(3));
  BlueskyService bsky(ctx());
  BskyImportResult r = bsky.import_posts(true);
  EXPECT_EQ(r.imported, 3);
  EXPECT_EQ(r.from_timeline, 2);
  MemoryFilter f;
  f.tags = {"timeline"};
  auto timeline = ctx().memories().list(f, ListOrder::kNewestFirst, 10, 0);
  ASSERT_EQ(timeline.size(), 2u);
  EXPECT_EQ(timeline[0].type, "bsky_post");
  EXPECT_EQ(timeline[0].metadata["author"], "erin.test");
  pds.add_timeline_post("dave.test", "Dave again", minute(4));
  r = bsky.import_posts(true);
  EXPECT_EQ(r.imported, 1);
  EXPECT_EQ(r.from_timeline, 1);
}

class BlueskyCli : public Bluesky {
 protected:
  testing::RunResult kioku(std::vector<std::string> args) {
    std::map<std::string, std::string> run_env = env;
    run_env["KIOKU_HOME"] = (dir / "data").string();
    return testing::run_binary(KIOKU_BINARY, args, dir / "cwd", run_env);
  }
};

TEST_F(BlueskyCli, PostSyncAndImportThroughTheBinary) {
  auto r = kioku({"bsky", "post", "Hello from the kioku CLI https://example.org", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_TRUE(j["sent"].get<bool>());
  EXPECT_EQ(j["uri"].get<std::string>().rfind("at://did:plc:alice/app.bsky.feed.post/", 0), 0u);
  ASSERT_EQ(pds.records().size(), 1u);
  EXPECT_EQ(pds.records()[0]["value"]["facets"][0]["features"][0]["uri"], "https://example.org");
  EXPECT_EQ(r.out.find(testing::FakePds::kPassword), std::string::npos);
  EXPECT_EQ(r.err.find(testing::FakePds::kPassword), std::string::npos);

  pds.down = true;
  r = kioku({"bsky", "post", "Written while the PDS is down"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("pending"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("503"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find(testing::FakePds::kPassword), std::string::npos);
  r = kioku({"bsky", "sync", "--json"});
  EXPECT_EQ(r.exit_code, 5) << r.err;  // still pending: the service is unavailable
  EXPECT_EQ(nlohmann::json::parse(r.out)["pending"], 1);

  pds.down = false;
  r = kioku({"bsky", "sync", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["sent"], 1);
  EXPECT_EQ(j["pending"], 0);
  EXPECT_EQ(pds.records().size(), 2u);

  r = kioku({"bsky", "post", repeat("x", 301)});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("300"), std::string::npos) << r.err;

  pds.add_own_post("posted from the app", minute(5));
  r = kioku({"bsky", "import", "--json", "--limit", "50"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["imported"], 1);
  r = kioku({"list", "--type", "bsky_post", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out).size(), 3u);

  env.erase("BLUESKY_HANDLE");
  r = kioku({"bsky", "import"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("BLUESKY_HANDLE"), std::string::npos);
}

TEST_F(BlueskyCli, ServeSendsPendingPostsInTheBackground) {
  pds.down = true;
  auto r = kioku({"bsky", "post", "Queued while offline"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_TRUE(pds.records().empty());
  pds.down = false;
  std::map<std::string, std::string> run_env = env;
  run_env["KIOKU_HOME"] = (dir / "data").string();
  run_env["KIOKU_EMBED_PROVIDER"] = "none";
  testing::BackgroundProcess serve(KIOKU_BINARY, {"serve", "--port", "0", "--json"}, dir / "serve", run_env);
  // The background loop's first tick (5 s) sends it.
  EXPECT_TRUE(testing::BackgroundProcess::wait_for([&] { return pds.records().size() == 1; }, std::chrono::seconds(20)))
      << serve.err();
  EXPECT_EQ(serve.stop(), 0) << serve.err();
  EXPECT_NE(serve.err().find("sent 1 pending Bluesky post"), std::string::npos) << serve.err();
  EXPECT_EQ(serve.err().find(testing::FakePds::kPassword), std::string::npos);
  r = kioku({"bsky", "sync", "--json"});
  EXPECT_EQ(nlohmann::json::parse(r.out)["pending"], 0);
}

}  // namespace
}  // namespace kioku
