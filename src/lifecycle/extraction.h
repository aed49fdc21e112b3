// Turning a memory into entities and facts.
//
// Two extractors produce one shape (Extraction):
//  - LlmExtractor: a structured-output prompt; the reply must be one JSON
//    object matching kExtractionSchema (parse_extraction_json checks every
//    field, size and count). A reply that fails is rejected whole and the
//    model is asked again with the error (at most max_attempts); nothing of
//    a rejected reply is ever stored. Facts carry confidence 0.8.
//  - lexical_extract: no model. Capitalised spans, the user's known entity
//    names, dates ("2024-05-01", "May 2024", "in 2023") and a handful of
//    sentence patterns (moved to, lives in, works at, my sister X, likes).
//    Lower confidence (0.4) so the LLM's word outranks it.
// Both are pure functions of their input apart from the model call.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/memory.h"
#include "llm/llm_client.h"

namespace kioku {

struct ExtractedEntity {
  std::string name;
  std::string kind;  // person, place, organisation, thing, event, topic (others allowed)
  std::vector<std::string> aliases;
  std::string summary;
};

struct ExtractedFact {
  std::string subject;  // an entity name, or "me" for the user
  std::string predicate;
  std::string object;  // an entity name, or "" when value is a literal
  std::string value;
  std::optional<TimePoint> valid_from;
  std::optional<TimePoint> valid_to;
  std::optional<bool> exclusive;  // the predicate holds one value at a time
};

struct Extraction {
  std::vector<ExtractedEntity> entities;
  std::vector<ExtractedFact> facts;
  std::vector<std::string> suggestions;  // memories the model proposes (LLM only)
  std::string extractor;                 // "llm" or "lexical"
  double confidence = 0.4;
};

// Predicates that hold one value at a time unless a fact says otherwise.
bool is_exclusive_predicate(std::string_view predicate);

// The JSON Schema the model is asked to follow (also sent as the format).
const nlohmann::json& extraction_schema();

// Parses and validates a model reply (a ```json fence is allowed). Throws
// invalid_input naming the first problem; never returns a partial result.
Extraction parse_extraction_json(std::string_view reply);

// The user's entity names and aliases, prepared once for many extractions
// (matched even when not capitalised).
class KnownNames {
 public:
  explicit KnownNames(const std::vector<std::string>& names);
  KnownNames(const KnownNames&) = delete;  // by_first_ points into sequences_
  KnownNames& operator=(const KnownNames&) = delete;
  const std::unordered_map<std::string, std::vector<const std::vector<std::string>*>>& by_first() const {
    return by_first_;
  }

 private:
  std::vector<std::vector<std::string>> sequences_;  // lower-cased words, longest first
  std::unordered_map<std::string, std::vector<const std::vector<std::string>*>> by_first_;
};

Extraction lexical_extract(const Memory& memory, const KnownNames& known_names);
Extraction lexical_extract(const Memory& memory, const std::vector<std::string>& known_names);

struct LlmExtractionStats {
  int attempts = 0;
  int rejected = 0;  // replies that failed validation
};

class LlmExtractor {
 public:
  explicit LlmExtractor(LlmClient& llm, int max_attempts = 3) : llm_(llm), max_attempts_(max_attempts) {}
  // Throws kInvalidInput when every attempt was rejected, kUnavailable when
  // the provider cannot be reached.
  Extraction extract(const Memory& memory, const std::vector<std::string>& known_names,
                     LlmExtractionStats* stats = nullptr);

 private:
  LlmClient& llm_;
  int max_attempts_;
};

}  // namespace kioku
