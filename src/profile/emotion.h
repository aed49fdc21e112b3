// Emotion detection for one message: by the LLM when one is configured (a
// small structured call), by Kioku's own lexicon classifier otherwise or
// whenever the model fails or answers nonsense. Detection never throws for
// what a model did: the message is already stored, and a reading always
// comes back.
//
// The lexicon (emotion_lexicon.inc, our own) scores words with negation
// ("not happy") and intensifiers ("very sad"), emoticons, exclamation marks
// and shouting; it also recognises explicit feedback on the last reply
// ("that helped", "not funny") and requests for a kind of support ("just
// listen", "what should I do").
// Thread safety: classify_text() and the lexicon are safe from any thread;
// an EmotionDetector (with its ephemeral cache) is one thread's.
#pragma once

#include <cstddef>
#include <list>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "llm/llm_client.h"

namespace kioku {

// The emotions Kioku reads, and their valence (-1 bad .. 1 good).
const std::vector<std::string>& known_emotions();
double emotion_valence(std::string_view emotion);
bool is_negative_emotion(std::string_view emotion);

struct TextReading {
  std::string emotion = "neutral";
  double intensity = 0;  // 0..1
  double valence = 0;
  int feedback = 0;             // +1 the last reply helped, -1 it did not, 0 unsaid
  std::string asked_strategy;   // a strategy the user asked for ("" none)
  std::vector<std::string> cues;  // the words that decided it (for explanations)
};

// The lexicon classifier.
TextReading classify_text(std::string_view text);

class EmotionDetector {
 public:
  // llm may be null: the lexicon decides.
  explicit EmotionDetector(LlmClient* llm) : llm_(llm) {}
  struct Result {
    TextReading reading;
    std::string detector;  // "llm" or "lexicon"
    std::string notice;    // why the LLM's answer was not used ("" when it was, or none was asked)
  };
  Result detect(const std::string& text);
  size_t cache_hits() const { return hits_; }

 private:
  LlmClient* llm_;
  // Ephemeral (seed 004): the same text is not sent to the model twice in a
  // process, e.g. a queued turn answered later. Small LRU.
  static constexpr size_t kCacheSize = 256;
  std::list<std::pair<std::string, Result>> lru_;
  std::unordered_map<std::string, std::list<std::pair<std::string, Result>>::iterator> index_;
  size_t hits_ = 0;
};

}  // namespace kioku
