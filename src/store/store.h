// The storage interfaces the rest of Kioku talks to. No SQL outside
// src/store/<backend>/: callers see only these types.
//
// Contracts shared by every backend (tests/store/ runs one suite against each):
//  - every write is one transaction: it happens whole or not at all;
//  - a user only ever sees their own memories (every call takes user_id);
//  - add() deduplicates on (user_id, content_hash): adding the same content
//    again returns the existing id with created=false and counts one more
//    corroboration;
//  - failures throw kioku::Error (kIo for database errors, kNotFound, ...).
// Thread safety: a store object may be used from one thread at a time; open
// one per thread (SQLite WAL allows concurrent readers and one writer).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/memory.h"
#include "store/core_memory.h"

namespace kioku {

struct MemoryFilter {
  std::string user_id = "local";
  std::vector<std::string> types;  // any of; empty = all
  std::vector<std::string> tags;   // any of; empty = all
  std::optional<Tier> tier;
  std::vector<MemoryKind> kinds;   // memory_type any of; empty = all
  std::optional<TimePoint> since;  // event_time >= since
  std::optional<TimePoint> until;  // event_time < until
  // Pending AI suggestions are hidden unless asked for.
  std::optional<bool> approved = true;
};

enum class ListOrder { kNewestFirst, kOldestFirst, kMostImportant, kRecentlyUpdated };

struct AddOutcome {
  std::string id;
  bool created = false;  // false: the content was already stored (a corroboration)
};

struct LexicalHit {
  std::string id;
  double score = 0;  // higher is better (negated BM25)
  // The memory's row, read with the hit (FullTextIndex::search_text_rows).
  std::optional<Memory> row = {};
};

// Which of a hit's fields search_text_rows reads with it: those
// get_ranking_fields fills, or those get_signal_fields fills.
enum class HitRow { kRanking, kSignals };

struct StoredVector {
  std::string memory_id;
  std::vector<float> vector;
  // SHA-256 (hex) of the text the vector embeds, when known: a backend may
  // keep it to answer cached_embeddings from the stored vectors.
  std::string text_hash = {};
};

struct StoreStats {
  int64_t memories = 0;
  int64_t journals = 0;
  int64_t embeddings = 0;
  std::map<std::string, int64_t> by_type;
  std::map<std::string, int64_t> by_tier;
  int64_t database_bytes = 0;
};

// The memory database is one backend object that implements five narrow
// interfaces, one per concern, so that a caller asks for only what it uses
// and a second backend can implement and test them one by one. Each is
// scoped per user where it takes a user_id, follows the shared contracts
// above, and is used from one thread at a time.

// Memory records: the universal record, its dedup on content, listing.
class MemoryRecords {
 public:
  virtual ~MemoryRecords() = default;
  // Stores m, assigning id, content_hash and timestamps when empty; a zero
  // event_time becomes the record time.
  virtual AddOutcome add(Memory m) = 0;
  // All in one transaction (the fast path for imports).
  virtual std::vector<AddOutcome> add_batch(std::vector<Memory> memories) = 0;
  virtual std::optional<Memory> get(const std::string& user_id, const std::string& id) = 0;
  // In the order of ids; unknown ids are skipped.
  virtual std::vector<Memory> get_many(const std::string& user_id, const std::vector<std::string>& ids) = 0;
  // Like get_many, but only the fields search ranks and filters candidates by
  // are filled (id, user_id, type, tier, memory_kind, confidence, importance,
  // approved, tags, event_time); content and the rest stay empty. Search
  // loads full records only for what it returns. The default loads full
  // records (a backend may do better).
  virtual std::vector<Memory> get_ranking_fields(const std::string& user_id, const std::vector<std::string>& ids) {
    return get_many(user_id, ids);
  }
  // The ranking fields, plus what search's rank signals read
  // (search/rank_signals.h): content, and of the metadata only its
  // "speaker" and "conversation" strings. The default loads full records.
  virtual std::vector<Memory> get_signal_fields(const std::string& user_id, const std::vector<std::string>& ids) {
    return get_many(user_id, ids);
  }
  // Replaces the stored record with m (same id and user); recomputes the hash
  // and bumps updated_at. Throws kNotFound, or kConflict when the new content
  // duplicates another memory.
  virtual void update(Memory m) = 0;
  // Returns false when there was nothing to delete.
  virtual bool remove(const std::string& user_id, const std::string& id) = 0;
  virtual std::vector<Memory> list(const MemoryFilter& filter, ListOrder order, int limit, int offset) = 0;
  virtual int64_t count(const MemoryFilter& filter) = 0;
  // Marks memories as read: last_accessed = at, access_count + 1.
  virtual void record_access(const std::string& user_id, const std::vector<std::string>& ids, TimePoint at) = 0;
  // The neighbours of each given memory in its stream: the memory of the same
  // user and type just before and just after it in (event_time, id) order,
  // e.g. the previous and next chat turn. Pending suggestions are skipped.
  // id -> {previous id, next id}, "" where there is none; unknown ids are absent.
  virtual std::map<std::string, std::pair<std::string, std::string>> adjacent(
      const std::string& user_id, const std::vector<std::string>& ids) = 0;
  // Whether a memory of user_id (pending suggestions and journal mirrors
  // included) names the media file file_name, as its media_path or in its
  // text: GET /api/media serves a user only their own files. The default
  // reads every memory of the user; backends answer it with one query.
  virtual bool references_media(const std::string& user_id, const std::string& file_name) {
    MemoryFilter f;
    f.user_id = user_id;
    f.approved = std::nullopt;
    for (int offset = 0;; offset += 500) {
      const auto page = list(f, ListOrder::kOldestFirst, 500, offset);
      for (const auto& m : page) {
        const std::string& p = m.media_path;
        if (p == file_name || (p.size() > file_name.size() && p.compare(p.size() - file_name.size(), file_name.size(), file_name) == 0 &&
                               p[p.size() - file_name.size() - 1] == '/'))
          return true;
        if (m.content.find(file_name) != std::string::npos) return true;
      }
      if (page.size() < 500) return false;
    }
  }
  virtual StoreStats stats(const std::string& user_id) = 0;
};

// Full text over the records, kept in step with them by the backend.
class FullTextIndex {
 public:
  virtual ~FullTextIndex() = default;
  // The terms are ORed, ranked by BM25 with stemming (or the backend's
  // equivalent). Terms are plain words; the backend quotes them, so no query
  // syntax leaks in.
  virtual std::vector<LexicalHit> search_text(const std::vector<std::string>& terms, const MemoryFilter& filter,
                                              int limit) = 0;
  // The same hits, each with its row (LexicalHit::row) read in the same
  // statement as the ranking: search would otherwise look every candidate
  // up again by id. The default reads no rows; the caller loads them.
  virtual std::vector<LexicalHit> search_text_rows(const std::vector<std::string>& terms, const MemoryFilter& filter,
                                                   int limit, HitRow) {
    return search_text(terms, filter, limit);
  }
};

// Typed links between memories of one user.
class RelationStore {
 public:
  virtual ~RelationStore() = default;
  virtual void add_relation(const std::string& user_id, const std::string& from_id, const Relation& relation) = 0;
};

// Vectors, one per (memory, model), and the embedding queue.
class VectorStore {
 public:
  virtual ~VectorStore() = default;
  virtual void put_embeddings(const std::string& model, const std::vector<StoredVector>& vectors) = 0;
  // The vectors of user_id's memories for model, one at a time, never all
  // in memory at once (an index load holds only its own copy): `visit` gets
  // each memory id and its vector in a buffer it may keep by moving it.
  // In no particular order; throws like any read.
  using EmbeddingVisitor = std::function<void(const std::string& memory_id, std::vector<float>& vector)>;
  virtual void for_each_embedding(const std::string& model, const std::string& user_id,
                                  const EmbeddingVisitor& visit) = 0;
  // All of them in one list (small sets, tests and maintenance).
  std::vector<StoredVector> load_embeddings(const std::string& model, const std::string& user_id) {
    std::vector<StoredVector> out;
    for_each_embedding(model, user_id, [&](const std::string& id, std::vector<float>& v) {
      out.push_back({id, std::move(v)});
    });
    return out;
  }
  // Memories (any user) with no vector for model yet, oldest first. This is
  // the embedding queue: it is persistent by construction, and a new model
  // starts with everything queued.
  virtual std::vector<Memory> missing_embeddings(const std::string& model, int limit) = 0;
  virtual int64_t count_missing_embeddings(const std::string& model) = 0;
  // Ids of the memories of user_id that have a vector for model.
  virtual std::vector<std::string> embedding_ids(const std::string& model, const std::string& user_id) = 0;
  // How many there are (an index sizes itself before streaming them).
  virtual int64_t count_embeddings(const std::string& model, const std::string& user_id) = 0;
  // Vectors of the given memories (those that have one), in no particular order.
  virtual std::vector<StoredVector> get_embeddings(const std::string& model, const std::vector<std::string>& ids) = 0;
  // Cache of vectors by the SHA-256 of the embedded text, so the same text is
  // never embedded twice by a model (duplicates across users, re-added text).
  // SQLite answers from the stored vectors (StoredVector::text_hash) and keeps
  // no second copy: its cache_embeddings does nothing.
  virtual std::map<std::string, std::vector<float>> cached_embeddings(const std::string& model,
                                                                     const std::vector<std::string>& text_hashes) = 0;
  virtual void cache_embeddings(const std::string& model,
                                const std::vector<std::pair<std::string, std::vector<float>>>& by_text_hash) = 0;
};

// Compiled journals, each mirrored by a memory record.
class JournalStore {
 public:
  virtual ~JournalStore() = default;
  // Stores a compiled journal and its memory mirror in one transaction.
  // Idempotent on journal.id: storing the same journal twice changes nothing
  // and returns false the second time.
  virtual bool add_journal(const Journal& journal, Memory as_memory) = 0;
  virtual std::optional<Journal> get_journal(const std::string& user_id, const std::string& id) = 0;
  virtual std::vector<Journal> list_journals(const std::string& user_id, int limit) = 0;
  // Replaces title/body/tags/markdown_path/needs_recompile of a journal and
  // the content of its memory mirror (used when an LLM re-compiles it).
  virtual void update_journal(const Journal& journal) = 0;
};

// The memory database as one object: every interface above, the core memory
// blocks kept in the same database, and backups.
class MemoryStore : public MemoryRecords,
                    public FullTextIndex,
                    public RelationStore,
                    public VectorStore,
                    public JournalStore {
 public:
  ~MemoryStore() override = default;
  // Core memory blocks and their versions, in the same database.
  virtual CoreMemoryStore& core_memory() = 0;
  // A consistent copy of the whole database while it is in use.
  virtual void backup_to(const std::filesystem::path& destination) = 0;
};

// --- Journal drafts (journal.db): the open journal session of each user. ---

struct JournalEntry {
  std::string id;
  std::string session_id;
  TimePoint timestamp{};
  std::string type = "text";  // "text" or "image"
  std::string content;
  std::string media_path;
  std::string image_description;
};

struct JournalSession {
  std::string id;
  std::string user_id;
  TimePoint started_at{};
  TimePoint last_activity{};
  int entry_count = 0;
};

class JournalDraftStore {
 public:
  virtual ~JournalDraftStore() = default;
  virtual std::optional<JournalSession> open_session(const std::string& user_id) = 0;
  // Throws kConflict when the user already has an open session.
  virtual JournalSession start_session(const std::string& user_id, TimePoint at) = 0;
  // Persists the entry (durably) before returning; assigns its id.
  virtual JournalEntry add_entry(const std::string& session_id, JournalEntry entry) = 0;
  virtual std::vector<JournalEntry> entries(const std::string& session_id) = 0;
  virtual void set_image_description(const std::string& entry_id, const std::string& description) = 0;
  // Deletes the session and its entries in one transaction.
  virtual void discard_session(const std::string& session_id) = 0;
  // For a session whose journal is already stored (a `done` that stopped
  // before clearing): in one transaction, a new session for the same user,
  // started at `at`, takes over the entries not in compiled_entry_ids, and
  // the old session goes with the rest. Returns the new session; its
  // entry_count says how many entries moved.
  virtual JournalSession continue_session(const std::string& session_id,
                                          const std::vector<std::string>& compiled_entry_ids, TimePoint at) = 0;
  virtual void backup_to(const std::filesystem::path& destination) = 0;
};

}  // namespace kioku
