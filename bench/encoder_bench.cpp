// Encoder throughput for a MiniLM-shaped BERT (6 layers, 384 hidden, 12
// heads, 1536 intermediate, 30522 vocab) with random weights: sentences per
// second for short sentences (--tokens, default 12 incl. [CLS]/[SEP]) in
// batches of --batch, with 1 and 2 threads. Prints JSON.
#include <chrono>
#include <iostream>
#include <random>

#include <nlohmann/json.hpp>

#include "embed/bert_embedder.h"

using namespace kioku;

int main(int argc, char** argv) {
  int tokens = 12, batch = 32, rounds = 20;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string f = argv[i];
    if (f == "--tokens") tokens = std::stoi(argv[i + 1]);
    if (f == "--batch") batch = std::stoi(argv[i + 1]);
    if (f == "--rounds") rounds = std::stoi(argv[i + 1]);
  }
  BertConfig config;  // MiniLM-L6 shape by default
  std::mt19937 rng(1);
  std::uniform_int_distribution<int32_t> id(1000, config.vocab_size - 1);
  std::vector<std::vector<int32_t>> sentences(static_cast<size_t>(batch));
  for (auto& s : sentences) {
    s.push_back(101);
    for (int t = 0; t < tokens - 2; ++t) s.push_back(id(rng));
    s.push_back(102);
  }
  nlohmann::json report = {{"model", "MiniLM-L6 shape (random weights)"}, {"tokens_per_sentence", tokens}, {"batch", batch}};
  for (int threads : {1, 2}) {
    auto encoder = BertEmbedder::random(config, 7, threads);
    encoder->embed_ids(sentences);  // warm-up
    const auto t0 = std::chrono::steady_clock::now();
    for (int r = 0; r < rounds; ++r) encoder->embed_ids(sentences);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    report["threads_" + std::to_string(threads)] = {{"sentences_per_s", rounds * batch / s},
                                                    {"ms_per_batch", 1000 * s / rounds}};
  }
  std::cout << report.dump(2) << std::endl;
  return 0;
}
