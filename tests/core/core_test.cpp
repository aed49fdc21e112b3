#include <gtest/gtest.h>

#include "core/url.h"
#include "core/config.h"
#include "core/error.h"
#include "core/id.h"
#include "core/json.h"
#include "core/toml_text.h"
#include "core/memory.h"
#include "core/text.h"
#include "core/time.h"
#include "testing/temp_dir.h"

#include <algorithm>
#include <chrono>
#include <cmath>
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
  // The first 48 bits are the milliseconds, big-endian, in lower-case hex;
  // dashes at 8, 13, 18 and 23; the variant's top bits are 10.
  const auto c = new_uuid_v7(from_millis(0x0123456789ab));
  EXPECT_EQ(c.substr(0, 14), "01234567-89ab-");
  EXPECT_EQ(c[14], '7');
  EXPECT_TRUE(c[19] == '8' || c[19] == '9' || c[19] == 'a' || c[19] == 'b') << c;
  EXPECT_EQ(c.find_first_of("ABCDEF"), std::string::npos);
  EXPECT_EQ(std::count(c.begin(), c.end(), '-'), 4);
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

namespace kioku {
namespace {

// Retry-After parsing moved to the net layer: tests/net/retry_test.cpp.

// Issue 16, defect 1: the depth bound holds while parsing, before a tree exists.
TEST(Json, Defect1_NestingDepthIsBoundedAtParseTime) {
  std::string deep(200000, '[');
  deep += std::string(200000, ']');
  try {
    parse_json(deep, "body");
    FAIL() << "parsed 200k levels";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidInput);
    EXPECT_EQ(std::string(e.what()), "body: JSON nested deeper than 100 levels");
  }
  EXPECT_TRUE(parse_json_or_discarded(deep).is_discarded());
  std::string ok = std::string(100, '[') + std::string(100, ']');
  EXPECT_TRUE(parse_json(ok, "body").is_array());
  EXPECT_TRUE(parse_json_or_discarded("[" + ok + "]").is_discarded());
  auto j = parse_json(R"({"a": [1, {"b": null}], "c": "d"})", "x");
  EXPECT_EQ(j["a"][1].contains("b"), true);
  EXPECT_EQ(j["c"], "d");
  try {
    parse_json("{\"a\": ", "upload.json");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("upload.json: malformed JSON at byte"), std::string::npos) << e.what();
  }
  EXPECT_THROW(parse_json("[1] 2", "x"), Error);  // trailing data
}

// Issue 15: string lists are read and written without a tree when they are
// plain; whatever the quick path takes reads as the full parser reads it.
TEST(Json, StringListsRoundTripOnBothPaths) {
  const std::vector<std::vector<std::string>> lists = {
      {},
      {""},
      {"identity"},
      {"a", "b c", "", "0193f-uuid"},
      {"quote\"d", "back\\slash", "tab\there", "new\nline"},
      {"caf\xc3\xa9", "\xe8\xa8\x98\xe6\x86\xb6", "del\x7f"},
      {"plain", "mixed \"one\""},
  };
  for (const auto& list : lists) {
    const std::string text = json_string_list_text(list);
    EXPECT_EQ(text, nlohmann::json(list).dump());
    EXPECT_EQ(json_string_list(text), list) << text;
  }
  // Text Kioku did not write this way still reads as the parser reads it.
  EXPECT_EQ(json_string_list(R"([ "a" , "b" ])"), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(json_string_list(R"(["a",1,null,"b"])"), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(json_string_list(R"(["\u0041"])"), (std::vector<std::string>{"A"}));
  for (const char* bad : {"[", "]", "[\"a\"", "[\"a\",]", "[\"a\" \"b\"]", "[\"a\"]]", "{\"a\":1}", "[\"a\nb\"]",
                          "\"a\"", "[,]", "x"})
    EXPECT_TRUE(json_string_list(bad).empty()) << bad;
}

// Issue 16, defect 4: de-duplicating 100k tags took 18.7 s (a linear search per tag).
TEST(Tags, Defect4_SplittingManyTagsIsLinear) {
  std::string csv;
  for (int i = 0; i < 200000; ++i) csv += "t" + std::to_string(i) + ",";
  csv += "t7, t7 ,,t8";
  const auto began = std::chrono::steady_clock::now();
  auto tags = split_tags(csv);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
  ASSERT_EQ(tags.size(), 200000u);
  EXPECT_EQ(tags[7], "t7");
  EXPECT_LT(seconds, 5.0) << "split_tags is quadratic again";
}

// Issue 16, defect 8: 2024-02-30 became 2024-03-01 and +99:99 was an offset.
TEST(Time, Defect8_ImpossibleDatesAndOffsetsAreRefused) {
  EXPECT_FALSE(parse_iso8601("2024-02-30"));
  EXPECT_FALSE(parse_iso8601("2023-02-29"));
  EXPECT_TRUE(parse_iso8601("2024-02-29"));
  EXPECT_FALSE(parse_iso8601("2024-04-31T10:00"));
  EXPECT_FALSE(parse_iso8601("2024-05-08T10:00+99:99"));
  EXPECT_FALSE(parse_iso8601("2024-05-08T10:00+05:60"));
  EXPECT_TRUE(parse_iso8601("2024-05-08T10:00+14:00"));
  EXPECT_TRUE(parse_iso8601("2024-05-08T10:00-09:30"));
  nlohmann::json nan_importance = {{"content", "x"}, {"importance", std::nan("")}};
  EXPECT_THROW(memory_from_json(nan_importance), Error);
}


// Found by tests/fuzz toml_config: toml++ 3.3 reaches undefined behaviour on
// some non-ASCII characters outside quotes; Kioku refuses them first.
// A second fuzz finding (CI, 2026-12-03): toml++ reached an unreachable
// branch on a letter after control characters and a quote. Control
// characters are refused before toml++ parses, with a clear message.
TEST(Config, FuzzFinding_ControlCharactersAreRefused) {
  testing::TempDir dir;
  static const char kFinding[] = "ti = 2\x01%\x00'\x00" "EEEE\xc5\xba" "EEEE\x05" "EEE\x00\x00@\x00" "allowed_user\x00)\x02prov\x00~";
  const std::string finding(kFinding, sizeof(kFinding) - 1);
  std::ofstream(dir / "bad.toml", std::ios::binary) << finding;
  try {
    Config::load(dir / "bad.toml", [](const std::string&) { return std::optional<std::string>(); });
    FAIL() << "accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidInput);
    EXPECT_NE(std::string(e.what()).find(":1: a control character (byte 1)"), std::string::npos) << e.what();
  }
  for (const std::string& bad : {std::string("a = \"x\x00y\"\n", 11), std::string("# \x7f\n"), std::string("a = 'x\x1by'\n")}) {
    std::ofstream(dir / "bad2.toml", std::ios::binary) << bad;
    EXPECT_THROW(Config::load(dir / "bad2.toml", [](const std::string&) { return std::optional<std::string>(); }), Error)
        << bad;
  }
  std::ofstream(dir / "tabs.toml", std::ios::binary) << "[user]\r\nid =\t\"a\tb\" # tab\t\r\n";
  auto ok = Config::load(dir / "tabs.toml", [](const std::string&) { return std::optional<std::string>(); });
  EXPECT_EQ(ok.get_string("user.id"), "a\tb");
}

TEST(Config, FuzzFinding_NonAsciiOutsideQuotesIsRefused) {
  testing::TempDir dir;
  std::ofstream(dir / "bad.toml", std::ios::binary) << std::string("ti = 2\x01\x00\xd1\xa7%\x00@`\x00\x00gs\n[", 16);
  try {
    Config::load(dir / "bad.toml", [](const std::string&) { return std::optional<std::string>(); });
    FAIL() << "accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidInput);
  }
  std::ofstream(dir / "typo.toml") << "[llm]\nmodel = 2\xc3\xa9\n";
  EXPECT_THROW(Config::load(dir / "typo.toml", [](const std::string&) { return std::optional<std::string>(); }), Error);
  std::ofstream(dir / "ok.toml") << "# caf\xc3\xa9 \xd1\xa7\n[user]\nid = \"\xd1\xa7 h\xc3\xa9\" # \xc3\xa9\nnote = '\xc3\xa9'\nlong = \"\"\"\n\xc3\xa9 \\\" \"\"\"\n";
  auto ok = Config::load(dir / "ok.toml", [](const std::string&) { return std::optional<std::string>(); });
  EXPECT_EQ(ok.get_string("user.id"), "\xd1\xa7 h\xc3\xa9");
  EXPECT_EQ(ok.get_string("user.note"), "\xc3\xa9");
}

}  // namespace
}  // namespace kioku
