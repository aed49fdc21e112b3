// Private to src/store/postgres: the schema of a Kioku PostgreSQL database
// (one database holds what memory.db and journal.db hold for SQLite), the
// full-text helpers and the memory row reader shared by its stores.
//
// Full text: memories.fts is a tsvector written by Kioku in the same
// statement as the row (content weight A, summary B, tags C, entities D),
// over the text search configuration `kioku`: the english Snowball stemmer
// without a stop-word list (FTS5's porter keeps every word too). Runs of
// Chinese, Japanese and Korean characters are cut by cjk_index_text() into
// single characters followed by the run's overlapping bigrams, so a word of
// two or more characters is the phrase of its bigrams (cjk_query_text()),
// as kioku_cjk does for SQLite. Ranking is ts_rank_cd (cover density) with
// normalisation 1 (divided by 1 + log(document length)): term frequency and
// length normalisation like BM25, without BM25's inverse document frequency.
#pragma once

#include <string>
#include <vector>

#include "core/memory.h"
#include "store/postgres/connection.h"

namespace kioku::pg {

const std::vector<std::string>& memory_migrations();

// The columns read_memory() reads, in order (table alias m).
const char* memory_columns();
Memory read_memory(const Result& r, int row);

std::string cjk_index_text(const std::string& text);
std::string cjk_query_text(const std::string& term);

}  // namespace kioku::pg
