// Re-ranking signals the Searcher computes on its loaded candidates, without
// any model: who speaks a chat turn, which conversation session it belongs
// to, and how much of the query it covers. Measured one by one on LoCoMo
// (docs/RETRIEVAL.md); each is off when its SearchOptions weight is 0.
// Pure functions: thread-safe, never throw.
#pragma once

#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/memory.h"

namespace kioku {

// The speaker of a chat turn, lower-cased: metadata "speaker" when set, else
// the "Name: " prefix chat imports write (one to three capitalised words
// before a colon). "" for other memories and turns without one.
std::string chat_speaker(const Memory& m);

// The speakers among `candidates` whose name the query says (as a word, or
// possessive: "Caroline's" -> caroline).
std::set<std::string> speakers_named(std::string_view query, const std::vector<Memory>& candidates);

// terms without the words of `names` (and their possessives).
std::vector<std::string> without_names(const std::vector<std::string>& terms, const std::set<std::string>& names);

// A crude English stem for overlap counting (plural, -ing, -ed, -ly).
std::string light_stem(std::string_view lower_word);
// The same, in place (no allocation beyond what `lower_word` holds).
void light_stem_in_place(std::string& lower_word);

// The query's content words, stemmed, without `names` (each once).
std::vector<std::string> coverage_terms(std::string_view query, const std::set<std::string>& names);

// Share of `terms` that occur (stemmed) in the memory's content, 0..1.
double term_coverage(const std::vector<std::string>& terms, const Memory& m);

// The conversation session of a chat turn ("" for other memories): its user
// and metadata "conversation" when an import set one, else its user and the
// UTC day of its event time (turns of one day are read as one session).
std::string session_key(const Memory& m);

}  // namespace kioku
