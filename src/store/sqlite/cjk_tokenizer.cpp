#include "store/sqlite/cjk_tokenizer.h"

#include <cstdint>
#include <cstring>
#include <new>
#include <string>
#include <vector>

namespace kioku::sqlite {

namespace {

bool is_cjk(uint32_t cp) {
  return (cp >= 0x1100 && cp <= 0x11FF) ||    // Hangul Jamo
         (cp >= 0x3005 && cp <= 0x3007) ||    // 々 〆 〇
         (cp >= 0x3040 && cp <= 0x30FF) ||    // Hiragana, Katakana
         (cp >= 0x3130 && cp <= 0x318F) ||    // Hangul compatibility Jamo
         (cp >= 0x31F0 && cp <= 0x31FF) ||    // Katakana extensions
         (cp >= 0x3400 && cp <= 0x4DBF) ||    // Han extension A
         (cp >= 0x4E00 && cp <= 0x9FFF) ||    // Han
         (cp >= 0xAC00 && cp <= 0xD7AF) ||    // Hangul syllables
         (cp >= 0xF900 && cp <= 0xFAFF) ||    // Han compatibility
         (cp >= 0xFF66 && cp <= 0xFF9F) ||    // halfwidth Katakana
         (cp >= 0x20000 && cp <= 0x3134F);    // Han extensions B-G
}

// One code point of a token: where it starts and how many bytes it takes.
struct Char {
  int at;
  int bytes;
  bool cjk;
};

// The tokens unicode61 hands over are valid UTF-8; anything odd is one byte
// of "other" text.
std::vector<Char> decode(const char* s, int n) {
  std::vector<Char> out;
  int i = 0;
  while (i < n) {
    const auto c = static_cast<unsigned char>(s[i]);
    int len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 1;
    if (i + len > n) len = 1;
    uint32_t cp = len == 1 ? c : c & (0x7F >> len);
    for (int k = 1; k < len; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
    out.push_back({i, len, is_cjk(cp)});
    i += len;
  }
  return out;
}

struct Tokenizer {
  fts5_tokenizer parent{};
  Fts5Tokenizer* parent_instance = nullptr;
};

struct Relay {
  void* ctx;
  int (*emit)(void*, int, const char*, int, int, int);
  bool query;
};

// Every CJK code point is three or four bytes in UTF-8, led by 0xE1-0xEF or
// 0xF0: a token without such a byte (most tokens) passes on untouched,
// without decoding (issue 15: decoding every token cost 8 % of a bulk add).
bool may_hold_cjk(const char* s, int n) {
  for (int i = 0; i < n; ++i)
    if (static_cast<unsigned char>(s[i]) >= 0xE1) return true;
  return false;
}

int relay_token(void* p, int tflags, const char* token, int n, int start, int end) {
  auto& relay = *static_cast<Relay*>(p);
  if (!may_hold_cjk(token, n)) return relay.emit(relay.ctx, tflags, token, n, start, end);
  const std::vector<Char> chars = decode(token, n);
  bool any_cjk = false;
  for (const auto& c : chars) any_cjk = any_cjk || c.cjk;
  if (!any_cjk) return relay.emit(relay.ctx, tflags, token, n, start, end);
  // Offsets into the document are exact when folding kept the length
  // (always for CJK); otherwise every piece points at the whole token.
  const bool exact = end - start == n;
  auto emit = [&](int flags, int from, int bytes) {
    const int s = exact ? start + from : start;
    const int e = exact ? start + from + bytes : end;
    return relay.emit(relay.ctx, flags, token + from, bytes, s, e);
  };
  int flags = tflags;  // a colocated parent token stays colocated once
  int rc = SQLITE_OK;
  size_t i = 0;
  while (i < chars.size() && rc == SQLITE_OK) {
    size_t j = i;
    while (j < chars.size() && chars[j].cjk == chars[i].cjk) ++j;
    if (!chars[i].cjk) {
      rc = emit(flags, chars[i].at, chars[j - 1].at + chars[j - 1].bytes - chars[i].at);
      flags = 0;
    } else if (relay.query && j - i >= 2) {
      for (size_t k = i; k + 1 < j && rc == SQLITE_OK; ++k) {
        rc = emit(flags, chars[k].at, chars[k].bytes + chars[k + 1].bytes);
        flags = 0;
      }
    } else {
      for (size_t k = i; k < j && rc == SQLITE_OK; ++k) {
        rc = emit(flags, chars[k].at, chars[k].bytes);
        flags = 0;
        if (rc == SQLITE_OK && k + 1 < j) rc = emit(FTS5_TOKEN_COLOCATED, chars[k].at, chars[k].bytes + chars[k + 1].bytes);
      }
    }
    i = j;
  }
  return rc;
}

int create(void* api_ptr, const char** argv, int argc, Fts5Tokenizer** out) {
  auto* api = static_cast<fts5_api*>(api_ptr);
  const char* parent_name = argc > 0 ? argv[0] : "unicode61";
  void* parent_ctx = nullptr;
  auto* t = new (std::nothrow) Tokenizer;
  if (!t) return SQLITE_NOMEM;
  int rc = api->xFindTokenizer(api, parent_name, &parent_ctx, &t->parent);
  if (rc == SQLITE_OK) rc = t->parent.xCreate(parent_ctx, argc > 0 ? argv + 1 : argv, argc > 0 ? argc - 1 : 0, &t->parent_instance);
  if (rc != SQLITE_OK) {
    delete t;
    return rc;
  }
  *out = reinterpret_cast<Fts5Tokenizer*>(t);
  return SQLITE_OK;
}

void destroy(Fts5Tokenizer* p) {
  auto* t = reinterpret_cast<Tokenizer*>(p);
  if (t->parent_instance) t->parent.xDelete(t->parent_instance);
  delete t;
}

int tokenize(Fts5Tokenizer* p, void* ctx, int flags, const char* text, int n,
             int (*emit)(void*, int, const char*, int, int, int)) {
  auto* t = reinterpret_cast<Tokenizer*>(p);
  Relay relay{ctx, emit, (flags & FTS5_TOKENIZE_QUERY) != 0};
  return t->parent.xTokenize(t->parent_instance, &relay, flags, text, n, relay_token);
}

fts5_api* fts5_of(sqlite3* db) {
  fts5_api* api = nullptr;
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db, "SELECT fts5(?1)", -1, &st, nullptr) != SQLITE_OK) return nullptr;
  sqlite3_bind_pointer(st, 1, static_cast<void*>(&api), "fts5_api_ptr", nullptr);
  sqlite3_step(st);
  sqlite3_finalize(st);
  return api;
}

}  // namespace

int register_cjk_tokenizer(sqlite3* db) {
  fts5_api* api = fts5_of(db);
  if (!api) return SQLITE_ERROR;
  fts5_tokenizer tokenizer{create, destroy, tokenize};
  return api->xCreateTokenizer(api, "kioku_cjk", api, &tokenizer, nullptr);
}

}  // namespace kioku::sqlite
