// The FTS5 tokenizer "kioku_cjk": CJK text becomes searchable by its words.
//
// unicode61 keeps a run of Han, kana or Hangul together as one token
// ("東京の天気は晴れ" is a single token), so searching 東京 found nothing.
// kioku_cjk wraps another tokenizer (like porter does) and cuts every CJK run
// in the tokens it produces into overlapping character bigrams, the usual
// dictionary-free segmentation for Chinese, Japanese and Korean:
//   document  each character, plus the bigram starting there at the same
//             position (FTS5_TOKEN_COLOCATED): 東 東京 | 京 京の | の ...
//   query     a run of one character is that character; a longer run is its
//             bigrams at consecutive positions, so a quoted query matches
//             exactly the documents holding the run (東京の天気 = 東京 京の
//             の天 天気 as a phrase).
// Other text passes through untouched: English keeps porter stemming.
// Registered on every connection Kioku opens (database.cpp); a plain sqlite3
// shell cannot write memories without it (reading works).
#pragma once

#include <sqlite3.h>

namespace kioku::sqlite {

// Registers kioku_cjk with the connection's FTS5. Returns an SQLite code.
int register_cjk_tokenizer(sqlite3* db);

}  // namespace kioku::sqlite
