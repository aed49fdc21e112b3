#include <gtest/gtest.h>

#include "core/url.h"
#include "core/config.h"
#include "core/error.h"
#include "core/id.h"
#include "core/memory.h"
#include "core/text.h"
#include "core/time.h"
#include "testing/temp_dir.h"

#include <fstream>

namespace kioku {
namespace {

TEST(Time, RoundTripsIso8601) {
  auto t = parse_iso8601("2024-05-08T13:56:07.250Z");
  ASSERT_TRUE(t);
  EXPECT_EQ(format_iso8601(*t), "2024-05-08T13:56:07.250Z");
}

TEST(Time, AcceptsDatesOffsetsAndSpaces) {
  EXPECT_EQ(format_iso8601(*parse_iso8601("2024-05-08")), "2024-05-08T00:00:00.000Z");
  EXPECT_EQ(format_iso8601(*parse_iso8601("2024-05-08 13:56")), "2024-05-08T13:56:00.000Z");
  EXPECT_EQ(format_iso8601(*parse_iso8601("2024-05-08T15:56:00+02:00")), "2024-05-08T13:56:00.000Z");
  EXPECT_EQ(format_iso8601(*parse_iso8601("1969-12-31T23:59:59Z")), "1969-12-31T23:59:59.000Z");
}

TEST(Time, RejectsGarbage) {
  for (const char* bad : {"", "yesterday", "2024-13-01", "2024-05-08T25:00", "2024-05-08Tx", "2024-05-08Z1"}) {
    EXPECT_FALSE(parse_iso8601(bad)) << bad;
  }
  EXPECT_THROW(parse_iso8601_or_throw("soon", "--at"), Error);
}

TEST(Id, UuidV7IsSortableAndWellFormed) {
  auto a = new_uuid_v7(from_millis(1000));
  auto b = new_uuid_v7(from_millis(2000));
  EXPECT_TRUE(looks_like_uuid(a));
  EXPECT_EQ(a[14], '7');
  EXPECT_LT(a, b);
  EXPECT_NE(new_uuid_v7(from_millis(5)), new_uuid_v7(from_millis(5)));
}

TEST(Memory, JsonRoundTripKeepsEveryField) {
  Memory m;
  m.id = "x";
  m.content = "I prefer tabs";
  m.tier = Tier::kLongTerm;
  m.truth_category = TruthCategory::kOpinion;
  m.memory_kind = MemoryKind::kPreference;
  m.tags = {"code", "style"};
  m.importance = 0.8;
  m.provenance.file = "notes.md";
  m.provenance.line = 12;
  m.event_time = *parse_iso8601("2024-01-02T03:04:05Z");
  m.metadata = {{"k", 1}};
  Memory back = memory_from_json(to_json(m));
  EXPECT_EQ(back.content, m.content);
  EXPECT_EQ(back.tier, Tier::kLongTerm);
  EXPECT_EQ(back.truth_category, TruthCategory::kOpinion);
  EXPECT_EQ(back.memory_kind, MemoryKind::kPreference);
  EXPECT_EQ(back.tags, m.tags);
  EXPECT_EQ(back.provenance.line, 12);
  EXPECT_EQ(back.event_time, m.event_time);
  EXPECT_EQ(back.metadata["k"], 1);
}

TEST(Memory, RejectsUnknownEnumWordsWithTheAcceptedList) {
  try {
    memory_from_json({{"content", "x"}, {"tier", "forever"}});
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidInput);
    EXPECT_NE(std::string(e.what()).find("short_term"), std::string::npos);
  }
  EXPECT_THROW(memory_from_json({{"content", "x"}, {"importance", 3}}), Error);
  EXPECT_THROW(memory_from_json({{"content", 5}}), Error);
}

TEST(Memory, HashIgnoresWhitespaceButChatTurnsAreEvents) {
  Memory a, b;
  a.content = "hello   world\n";
  b.content = "  hello world";
  EXPECT_EQ(compute_content_hash(a), compute_content_hash(b));
  a.type = b.type = "chat";
  a.event_time = from_millis(1);
  b.event_time = from_millis(2);
  EXPECT_NE(compute_content_hash(a), compute_content_hash(b));
}

TEST(Text, TokensLowercaseAndKeepUnicodeWords) {
  auto t = word_tokens("Don't PANIC: café, 東京!");
  ASSERT_EQ(t.size(), 4u);
  EXPECT_EQ(t[0], "dont");
  EXPECT_EQ(t[1], "panic");
  EXPECT_EQ(t[2], "café");
  EXPECT_EQ(t[3], "東京");
}

TEST(Text, Utf8ValidationAndTruncation) {
  EXPECT_TRUE(is_valid_utf8("héllo 東京 🎉"));
  EXPECT_FALSE(is_valid_utf8("\xC3"));
  EXPECT_FALSE(is_valid_utf8("\xFF\xFE"));
  EXPECT_FALSE(is_valid_utf8("\xED\xA0\x80"));  // surrogate
  std::string cut = truncate_utf8("東京東京", 4);
  EXPECT_TRUE(is_valid_utf8(cut));
  EXPECT_EQ(cut, "東…");
}

TEST(Text, SplitTagsTrimsAndDeduplicates) {
  EXPECT_EQ(split_tags(" a, b,,a , c "), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_TRUE(split_tags("").empty());
}

TEST(Config, EnvironmentOverridesFileAndSecretsAreRedacted) {
  testing::TempDir dir;
  std::ofstream(dir / "config.toml") << "[llm]\nprovider = \"ollama\"\napi_key = \"sk-secret\"\n[search]\nlimit = 7\n";
  auto env = [](const std::string& name) -> std::optional<std::string> {
    if (name == "KIOKU_LLM_PROVIDER") return "openai";
    return std::nullopt;
  };
  Config c = Config::load(dir / "config.toml", env);
  EXPECT_EQ(c.get_string("llm.provider", "KIOKU_LLM_PROVIDER"), "openai");
  EXPECT_EQ(c.get_string("llm.provider"), "ollama");
  EXPECT_EQ(c.get_number("search.limit"), 7);
  EXPECT_FALSE(c.get_string("nope.key"));
  EXPECT_EQ(c.redacted()["llm"]["api_key"], "***");
  EXPECT_EQ(c.redacted().dump().find("sk-secret"), std::string::npos);
}

TEST(Config, SyntaxErrorNamesTheLine) {
  testing::TempDir dir;
  std::ofstream(dir / "config.toml") << "[search]\nlimit = = 3\n";
  try {
    Config::load(dir / "config.toml", process_env());
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(":2:"), std::string::npos) << e.what();
  }
}

TEST(Config, DataDirResolutionOrder) {
  auto env = [](const std::string& name) -> std::optional<std::string> {
    if (name == "HOME") return "/home/u";
    return std::nullopt;
  };
  EXPECT_EQ(resolve_data_dir("/x", env), "/x");
  EXPECT_EQ(resolve_data_dir("", env), "/home/u/.local/share/kioku");
  auto env2 = [](const std::string& name) -> std::optional<std::string> {
    if (name == "KIOKU_HOME") return "/k";
    return std::nullopt;
  };
  EXPECT_EQ(resolve_data_dir("", env2), "/k");
}

}  // namespace
}  // namespace kioku

// Retry-After parsing moved to the net layer: tests/net/retry_test.cpp.
