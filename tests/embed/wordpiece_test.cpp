// The WordPiece tokenizer against an independent reference (the tokenizer of
// @huggingface/transformers, run with node) on the real all-MiniLM-L6-v2
// vocabulary, over strings chosen to be tricky.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "embed/wordpiece.h"
#include "testing/run_binary.h"
#include "testing/shared_dir.h"
#include "testing/temp_dir.h"

namespace kioku {
namespace {

const std::filesystem::path kModelParent = testing::shared_dir() / "models";
const std::string kModelName = "all-MiniLM-L6-v2-tokenizer";

std::vector<std::string> tricky_corpus() {
  std::vector<std::string> c = {
      "",
      "   \t\n  ",
      "Hello, world!",
      "Héllo wörld, ça va? Ñandú, São Paulo, Zürich, crème brûlée",
      "東京で寿司を食べました。我爱北京天安门！",
      "한국어 텍스트와 ひらがな カタカナ",
      "Emoji: 🎉🎉 👍🏽 👩‍👩‍👧 🇯🇵 ❤️",
      "don't won't it's O'Reilly's \"quoted\" 'single'",
      "$100 + 50% = <tag> ^caret `tick` |pipe| ~tilde @at #hash &amp;",
      "e-mail: someone@example.com, url: https://example.org/a?b=c&d=e#frag",
      "supercalifragilisticexpialidocious antidisestablishmentarianism",
      std::string(150, 'a'),
      std::string(100, 'b') + " " + std::string(101, 'c'),
      "İstanbul straße ΣΊΣΥΦΟΣ ὀδυσσεύς",
      "Control\x01chars\x7f and\x0bvertical tab",
      "zero\u200bwidth\u200dJoiner and\u00a0nbsp and\u3000ideographic space",
      "Combining: e\u0301 a\u0308 o\u0302 n\u0303",
      "Arabic: مرحبا بالعالم, Hebrew: שלום, Hindi: नमस्ते, Thai: สวัสดี",
      "Numbers 3.14159 1,000,000 2024-05-08 12:30pm 1st 2nd",
      "code: int main() { return a->b[0] != nullptr && x <= 3; }",
      "Full-width: ＡＢＣ１２３！？",
      "...!!!??" "?---___***",
      "MiXeD CaSe WoRdS ALLCAPS",
      "tab\tseparated\tvalues\nand\r\nnew lines",
      "Math: ∑ ∫ √2 ≈ 1.414 ∞ π",
      "unknownwordzzqxqx blorptastic",
      "\xF0\x9F\x98\x80 smile \xE2\x80\x94 em dash \xE2\x80\x9Cquotes\xE2\x80\x9D",
      "𠀀 rare ideograph 𪜀 and Ꞵ",
      "Ǆemal ǅ ǆ ﬁ ligature ﬀ",
  };
  return c;
}

TEST(WordPiece, MatchesTheReferenceTokenizer) {
  const auto vocab = kModelParent / kModelName / "vocab.txt";
  if (!std::filesystem::exists(vocab)) GTEST_SKIP() << "tokenizer files not found at " << kModelParent;
  const std::filesystem::path node_modules = std::filesystem::path(KIOKU_SOURCE_DIR) / "tests/node/node_modules";
  if (!std::filesystem::exists(node_modules / "@huggingface/transformers"))
    GTEST_SKIP() << "npm package @huggingface/transformers not installed in tests/node (run ./scripts/setup)";
  testing::TempDir dir;
  const auto corpus = tricky_corpus();
  std::ofstream(dir / "corpus.json") << nlohmann::json(corpus).dump();
  auto r = testing::run_binary("node",
                               {std::string(KIOKU_SOURCE_DIR) + "/tests/node/reference_tokenizer.mjs",
                                kModelParent.string(), kModelName, (dir / "corpus.json").string()},
                               dir / "run");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto expected = nlohmann::json::parse(r.out);
  ASSERT_EQ(expected.size(), corpus.size());
  auto tokenizer = WordPieceTokenizer::from_directory(kModelParent / kModelName);
  int agree = 0;
  for (size_t i = 0; i < corpus.size(); ++i) {
    auto ids = tokenizer.encode(corpus[i]);
    std::vector<int32_t> want = expected[i].get<std::vector<int32_t>>();
    EXPECT_EQ(ids, want) << "string " << i << ": " << corpus[i];
    agree += ids == want;
  }
  std::cout << "tokenizer agreement: " << agree << "/" << corpus.size() << "\n";
}

TEST(WordPiece, TruncatesKeepingSeparator) {
  const auto dir = kModelParent / kModelName;
  if (!std::filesystem::exists(dir / "vocab.txt")) GTEST_SKIP() << "tokenizer files not found";
  auto tokenizer = WordPieceTokenizer::from_directory(dir);
  std::string longtext;
  for (int i = 0; i < 2000; ++i) longtext += "word ";
  auto ids = tokenizer.encode(longtext, 256);
  ASSERT_EQ(ids.size(), 256u);
  EXPECT_EQ(ids.front(), tokenizer.cls_id());
  EXPECT_EQ(ids.back(), tokenizer.sep_id());
  EXPECT_EQ(tokenizer.encode("", 256), (std::vector<int32_t>{tokenizer.cls_id(), tokenizer.sep_id()}));
}

TEST(WordPiece, SmallVocabularyRules) {
  WordPieceTokenizer t({"[PAD]", "[UNK]", "[CLS]", "[SEP]", "un", "##aff", "##able", "aff", "!", "."}, {});
  EXPECT_EQ(t.tokenize("Unaffable!"), (std::vector<std::string>{"un", "##aff", "##able", "!"}));
  EXPECT_EQ(t.tokenize("unknown"), (std::vector<std::string>{"[UNK]"}));
  EXPECT_EQ(t.encode("aff."), (std::vector<int32_t>{2, 7, 9, 3}));
  testing::TempDir dir;
  EXPECT_THROW(WordPieceTokenizer::from_directory(dir.path()), Error);
}

}  // namespace
}  // namespace kioku
