// The BERT WordPiece tokenizer (uncased or cased), as Hugging Face's
// tokenizer.json "BertNormalizer + BertPreTokenizer + WordPiece" defines it:
//   normalise: drop NUL, U+FFFD and control characters, map whitespace to
//     spaces, put spaces around CJK ideographs, lower-case and strip accents
//     (NFD, then drop combining marks) when lower-casing;
//   pre-tokenise: split on whitespace, and isolate every punctuation
//     character (Unicode P* categories and all ASCII punctuation);
//   WordPiece: greedy longest match from the left, "##" for continuations,
//     [UNK] for a word that cannot be matched or is longer than 100 chars;
//   special tokens ([CLS], [SEP], [UNK], [PAD], [MASK]) written in the text
//     are those tokens, matched before normalisation (Hugging Face's added
//     tokens).
// Unicode data (categories, NFD, lower-casing) comes from ICU.
// Thread safety: encode() is const and safe from several threads.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>
#include <utility>

namespace kioku {

struct TokenizerOptions {
  bool lowercase = true;
  bool strip_accents = true;  // defaults to lowercase, as in BERT
  bool handle_chinese_chars = true;
  int max_input_chars_per_word = 100;
};

class WordPieceTokenizer {
 public:
  // Reads vocab.txt (one token per line, id = line number); options from
  // tokenizer.json / tokenizer_config.json when present. Throws kNotFound or
  // kInvalidInput for missing or broken files.
  static WordPieceTokenizer from_directory(const std::filesystem::path& model_dir);
  WordPieceTokenizer(std::vector<std::string> vocab, TokenizerOptions options);

  // Ids with [CLS] ... [SEP], cut to max_length (keeping [SEP]); max_length
  // <= 0 means no limit.
  std::vector<int32_t> encode(std::string_view text, int max_length = 0) const;
  // The word pieces without special tokens (for tests and debugging).
  std::vector<std::string> tokenize(std::string_view text) const;

  int cls_id() const { return cls_; }
  int sep_id() const { return sep_; }
  int pad_id() const { return pad_; }
  int unk_id() const { return unk_; }
  size_t vocab_size() const { return vocab_.size(); }

 private:
  std::vector<std::string> words(std::string_view text) const;
  std::vector<int32_t> pieces_of(std::string_view text) const;
  void word_pieces(const std::string& word, std::vector<int32_t>& ids) const;

  std::vector<std::string> vocab_;
  std::unordered_map<std::string, int32_t> id_of_;
  TokenizerOptions options_;
  std::vector<std::pair<std::string, int32_t>> specials_;
  int32_t cls_ = 101, sep_ = 102, pad_ = 0, unk_ = 100;
};

}  // namespace kioku
