// The WordPiece tokenizer (BERT's) on arbitrary text, with a small vocabulary.
#include "embed/wordpiece.h"
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const kioku::WordPieceTokenizer tokenizer = [] {
    std::vector<std::string> vocab(100, "[unused]");
    vocab[0] = "[PAD]";
    for (int i = 1; i < 100; ++i) vocab[static_cast<size_t>(i)] = "[unused" + std::to_string(i) + "]";
    vocab.push_back("[UNK]");
    vocab.push_back("[CLS]");
    vocab.push_back("[SEP]");
    vocab.push_back("[MASK]");
    for (const char* w : {"the", "heron", "##s", "walk", "##ing", "東", "京", "##京", "a", "##b", "b", "."}) vocab.push_back(w);
    for (char c = 'a'; c <= 'z'; ++c) {
      vocab.push_back(std::string(1, c));
      vocab.push_back("##" + std::string(1, c));
    }
    return kioku::WordPieceTokenizer(std::move(vocab), kioku::TokenizerOptions{});
  }();
  kioku::fuzz::expect_clean([&] {
    const auto text = kioku::fuzz::as_text(data, size);
    (void)tokenizer.tokenize(text);
    const auto ids = tokenizer.encode(text, 64);
    if (!ids.empty() && (ids.front() != tokenizer.cls_id() || ids.back() != tokenizer.sep_id() || ids.size() > 64)) {
      std::fprintf(stderr, "finding: encode broke its framing\n");
      std::abort();
    }
  });
  return 0;
}
