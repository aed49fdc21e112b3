#include "embed/wordpiece.h"

#include <unicode/locid.h>
#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>
#include <unicode/utf8.h>

#include <fstream>

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace kioku {

namespace {

bool is_control(UChar32 c) {
  if (c == '\t' || c == '\n' || c == '\r') return false;
  const int8_t t = u_charType(c);
  return t == U_CONTROL_CHAR || t == U_FORMAT_CHAR || t == U_PRIVATE_USE_CHAR || t == U_SURROGATE ||
         t == U_UNASSIGNED;
}

bool is_whitespace(UChar32 c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || u_isUWhiteSpace(c);
}

bool is_punctuation(UChar32 c) {
  if ((c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126)) return true;
  const int8_t t = u_charType(c);
  return t == U_CONNECTOR_PUNCTUATION || t == U_DASH_PUNCTUATION || t == U_START_PUNCTUATION ||
         t == U_END_PUNCTUATION || t == U_INITIAL_PUNCTUATION || t == U_FINAL_PUNCTUATION ||
         t == U_OTHER_PUNCTUATION;
}

bool is_chinese(UChar32 c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
         (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B820 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

void append_utf8(std::string& out, UChar32 c) {
  char buf[4];
  int32_t len = 0;
  UBool error = false;
  U8_APPEND(reinterpret_cast<uint8_t*>(buf), len, 4, c, error);
  if (!error) out.append(buf, static_cast<size_t>(len));
}

}  // namespace

WordPieceTokenizer::WordPieceTokenizer(std::vector<std::string> vocab, TokenizerOptions options)
    : vocab_(std::move(vocab)), options_(options) {
  for (size_t i = 0; i < vocab_.size(); ++i) id_of_.emplace(vocab_[i], static_cast<int32_t>(i));
  auto find = [&](const char* token, int32_t fallback) {
    auto it = id_of_.find(token);
    return it == id_of_.end() ? fallback : it->second;
  };
  cls_ = find("[CLS]", cls_);
  sep_ = find("[SEP]", sep_);
  pad_ = find("[PAD]", pad_);
  unk_ = find("[UNK]", unk_);
  for (const char* special : {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"})
    if (auto it = id_of_.find(special); it != id_of_.end()) specials_.emplace_back(special, it->second);
}

std::vector<int32_t> WordPieceTokenizer::pieces_of(std::string_view text) const {
  // Special tokens written in the text are matched first, exactly and before
  // normalisation, as Hugging Face's added tokens are.
  std::vector<int32_t> ids;
  size_t start = 0;
  while (start <= text.size()) {
    size_t best = std::string_view::npos;
    const std::pair<std::string, int32_t>* which = nullptr;
    for (const auto& sp : specials_) {
      const size_t at = text.find(sp.first, start);
      if (at < best) best = at, which = &sp;
    }
    for (const auto& w : words(text.substr(start, best == std::string_view::npos ? std::string_view::npos : best - start)))
      word_pieces(w, ids);
    if (!which) break;
    ids.push_back(which->second);
    start = best + which->first.size();
  }
  return ids;
}

WordPieceTokenizer WordPieceTokenizer::from_directory(const std::filesystem::path& dir) {
  std::ifstream in(dir / "vocab.txt");
  if (!in) throw not_found("no vocab.txt in " + dir.string());
  std::vector<std::string> vocab;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    vocab.push_back(line);
  }
  if (vocab.size() < 5) throw invalid_input(dir.string() + "/vocab.txt is too small to be a vocabulary");
  TokenizerOptions options;
  bool strip_set = false;
  if (std::ifstream tj(dir / "tokenizer.json"); tj) {
    auto j = nlohmann::json::parse(tj, nullptr, false);
    if (j.is_discarded()) throw invalid_input(dir.string() + "/tokenizer.json is not valid JSON");
    if (j.contains("normalizer") && j["normalizer"].is_object()) {
      const auto& n = j["normalizer"];
      options.lowercase = n.value("lowercase", true);
      options.handle_chinese_chars = n.value("handle_chinese_chars", true);
      if (n.contains("strip_accents") && n["strip_accents"].is_boolean()) {
        options.strip_accents = n["strip_accents"].get<bool>();
        strip_set = true;
      }
    }
    if (j.contains("model") && j["model"].is_object())
      options.max_input_chars_per_word = j["model"].value("max_input_chars_per_word", 100);
  } else if (std::ifstream tc(dir / "tokenizer_config.json"); tc) {
    auto j = nlohmann::json::parse(tc, nullptr, false);
    if (j.is_object()) {
      options.lowercase = j.value("do_lower_case", true);
      options.handle_chinese_chars = j.value("tokenize_chinese_chars", true);
      if (j.contains("strip_accents") && j["strip_accents"].is_boolean()) {
        options.strip_accents = j["strip_accents"].get<bool>();
        strip_set = true;
      }
    }
  }
  if (!strip_set) options.strip_accents = options.lowercase;  // BERT's rule: null follows lowercase
  return WordPieceTokenizer(std::move(vocab), options);
}

std::vector<std::string> WordPieceTokenizer::words(std::string_view text) const {
  // 1. Clean and space out CJK characters, decoding UTF-8 leniently (bad
  //    bytes become U+FFFD and are then dropped like the reference does).
  std::string cleaned;
  cleaned.reserve(text.size() + 16);
  for (int32_t i = 0; i < static_cast<int32_t>(text.size());) {
    UChar32 c;
    U8_NEXT(reinterpret_cast<const uint8_t*>(text.data()), i, static_cast<int32_t>(text.size()), c);
    if (c < 0 || c == 0 || c == 0xFFFD || is_control(c)) continue;
    if (is_whitespace(c)) {
      cleaned.push_back(' ');
    } else if (options_.handle_chinese_chars && is_chinese(c)) {
      cleaned.push_back(' ');
      append_utf8(cleaned, c);
      cleaned.push_back(' ');
    } else {
      append_utf8(cleaned, c);
    }
  }
  // 2. Lower-case, then strip accents (NFD, drop nonspacing marks).
  icu::UnicodeString u = icu::UnicodeString::fromUTF8(cleaned);
  if (options_.lowercase) u.toLower(icu::Locale::getRoot());
  if (options_.strip_accents) {
    UErrorCode status = U_ZERO_ERROR;
    const icu::Normalizer2* nfd = icu::Normalizer2::getNFDInstance(status);
    if (U_FAILURE(status)) throw Error(ErrorCode::kInternal, "ICU NFD normaliser unavailable");
    icu::UnicodeString decomposed = nfd->normalize(u, status);
    icu::UnicodeString kept;
    for (int32_t i = 0; i < decomposed.length();) {
      const UChar32 c = decomposed.char32At(i);
      if (u_charType(c) != U_NON_SPACING_MARK) kept.append(c);
      i += U16_LENGTH(c);
    }
    u = kept;
  }
  // 3. Split on whitespace and isolate punctuation.
  std::vector<std::string> out;
  std::string cur;
  for (int32_t i = 0; i < u.length();) {
    const UChar32 c = u.char32At(i);
    i += U16_LENGTH(c);
    if (is_whitespace(c)) {
      if (!cur.empty()) out.push_back(std::move(cur));
      cur.clear();
    } else if (is_punctuation(c)) {
      if (!cur.empty()) out.push_back(std::move(cur));
      cur.clear();
      std::string p;
      append_utf8(p, c);
      out.push_back(std::move(p));
    } else {
      append_utf8(cur, c);
    }
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

void WordPieceTokenizer::word_pieces(const std::string& word, std::vector<int32_t>& ids) const {
  // Character boundaries (byte offsets), so pieces never split a character.
  std::vector<size_t> bounds;
  for (int32_t i = 0; i < static_cast<int32_t>(word.size());) {
    bounds.push_back(static_cast<size_t>(i));
    U8_FWD_1(reinterpret_cast<const uint8_t*>(word.data()), i, static_cast<int32_t>(word.size()));
  }
  bounds.push_back(word.size());
  const size_t chars = bounds.size() - 1;
  if (static_cast<int>(chars) > options_.max_input_chars_per_word) {
    ids.push_back(unk_);
    return;
  }
  std::vector<int32_t> pieces;
  size_t start = 0;
  while (start < chars) {
    size_t end = chars;
    int32_t found = -1;
    while (end > start) {
      std::string piece = word.substr(bounds[start], bounds[end] - bounds[start]);
      if (start > 0) piece = "##" + piece;
      auto it = id_of_.find(piece);
      if (it != id_of_.end()) {
        found = it->second;
        break;
      }
      --end;
    }
    if (found < 0) {
      ids.push_back(unk_);
      return;
    }
    pieces.push_back(found);
    start = end;
  }
  ids.insert(ids.end(), pieces.begin(), pieces.end());
}

std::vector<int32_t> WordPieceTokenizer::encode(std::string_view text, int max_length) const {
  std::vector<int32_t> ids = {cls_};
  const auto pieces = pieces_of(text);
  ids.insert(ids.end(), pieces.begin(), pieces.end());
  if (max_length > 0 && static_cast<int>(ids.size()) > max_length - 1) ids.resize(static_cast<size_t>(std::max(1, max_length - 1)));
  ids.push_back(sep_);
  return ids;
}

std::vector<std::string> WordPieceTokenizer::tokenize(std::string_view text) const {
  const std::vector<int32_t> ids = pieces_of(text);
  std::vector<std::string> out;
  for (int32_t id : ids) out.push_back(vocab_[static_cast<size_t>(id)]);
  return out;
}

}  // namespace kioku
