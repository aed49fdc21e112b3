// The store contract (store/store.h), run against every backend.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>

#include "core/error.h"
#include "store/store_backends.h"
#include "testing/postgres.h"

namespace kioku {
namespace {

using testing::StoreBackend;

class StoreContract : public ::testing::TestWithParam<StoreBackend> {
 protected:
  void SetUp() override {
    if (const std::string why = GetParam().unavailable(); !why.empty()) {
      if (testing::running_in_ci()) FAIL() << GetParam().name << " is required under CI=true: " << why;
      GTEST_SKIP() << GetParam().name << " is not available here: " << why;
    }
    store = GetParam().open_memory(dir, clock);
  }
  Memory note(const std::string& content, const std::string& user = "local") {
    Memory m;
    m.user_id = user;
    m.content = content;
    return m;
  }
  testing::TempDir dir;
  FakeTimeSource clock{*parse_iso8601("2025-01-01T00:00:00Z")};
  std::unique_ptr<MemoryStore> store;
};

TEST_P(StoreContract, AddAssignsIdTimesAndRoundTrips) {
  Memory m = note("The cat is called Miso");
  m.tags = {"pets", "home"};
  m.entities = {"Miso"};
  m.provenance.file = "notes.md";
  m.provenance.line = 3;
  m.metadata = {{"k", "v"}};
  auto out = store->add(m);
  ASSERT_TRUE(out.created);
  auto got = store->get("local", out.id);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->content, "The cat is called Miso");
  EXPECT_EQ(got->tags, m.tags);
  EXPECT_EQ(got->entities, m.entities);
  EXPECT_EQ(got->provenance.line, 3);
  EXPECT_EQ(got->metadata["k"], "v");
  EXPECT_EQ(got->created_at, clock.now());
  EXPECT_EQ(got->event_time, clock.now());
  EXPECT_FALSE(got->content_hash.empty());
}

TEST_P(StoreContract, SameContentTwiceIsOneMemoryAndACorroboration) {
  auto a = store->add(note("I like green tea"));
  auto b = store->add(note("I like   green tea "));
  EXPECT_TRUE(a.created);
  EXPECT_FALSE(b.created);
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(store->get("local", a.id)->confidence.corroboration_count, 1);
  MemoryFilter f;
  EXPECT_EQ(store->count(f), 1);
}

TEST_P(StoreContract, UsersAreIsolated) {
  auto a = store->add(note("shared words", "alice"));
  auto b = store->add(note("shared words", "bob"));
  EXPECT_TRUE(b.created);
  EXPECT_NE(a.id, b.id);
  EXPECT_FALSE(store->get("bob", a.id));
  MemoryFilter f;
  f.user_id = "alice";
  EXPECT_EQ(store->search_text({"shared"}, f, 10).size(), 1u);
  EXPECT_FALSE(store->remove("bob", a.id));
}

TEST_P(StoreContract, UpdateRehashesAndRejectsDuplicates) {
  auto a = store->add(note("first"));
  auto b = store->add(note("second"));
  Memory m = *store->get("local", a.id);
  m.content = "first, revised";
  m.importance = 0.9;
  clock.advance(std::chrono::hours(1));
  store->update(m);
  auto got = *store->get("local", a.id);
  EXPECT_EQ(got.content, "first, revised");
  EXPECT_DOUBLE_EQ(got.importance, 0.9);
  EXPECT_EQ(got.updated_at, clock.now());
  EXPECT_EQ(store->search_text({"revised"}, MemoryFilter{}, 5).size(), 1u);
  m.content = "second";
  try {
    store->update(m);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kConflict);
  }
  Memory ghost = m;
  ghost.id = "nope";
  try {
    store->update(ghost);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotFound);
  }
  (void)b;
}

TEST_P(StoreContract, RemoveDeletesFromFullTextToo) {
  auto a = store->add(note("ephemeral butterfly"));
  EXPECT_EQ(store->search_text({"butterfly"}, MemoryFilter{}, 5).size(), 1u);
  EXPECT_TRUE(store->remove("local", a.id));
  EXPECT_FALSE(store->get("local", a.id));
  EXPECT_TRUE(store->search_text({"butterfly"}, MemoryFilter{}, 5).empty());
  EXPECT_FALSE(store->remove("local", a.id));
}

TEST_P(StoreContract, FullTextStemsAndRanksAndIsSafeAgainstQuerySyntax) {
  store->add(note("We went running along the river"));
  store->add(note("A quiet evening with a book"));
  store->add(note("Runners run; the runner runs"));
  auto hits = store->search_text({"run"}, MemoryFilter{}, 10);
  EXPECT_EQ(hits.size(), 2u);  // "running", "runs"/"run" share the stem
  for (const char* nasty : {"\"foo AND (", "NEAR(", "*", "a\"b", "OR", "col:val", "-x", "^start"}) {
    EXPECT_NO_THROW(store->search_text({nasty}, MemoryFilter{}, 10)) << nasty;
  }
  EXPECT_TRUE(store->search_text({}, MemoryFilter{}, 10).empty());
}

// Rows read with the full-text hits (issue 15: search looked each candidate
// up again by id) are the rows the loaders give, in the hits' order; a
// backend that reads none leaves them to the loaders.
TEST_P(StoreContract, TextHitsCarryTheRowsTheLoadersGive) {
  Memory a = note("the lighthouse keeper wrote letters");
  a.importance = 0.9;
  a.tags = {"sea", "letters"};
  a.metadata = {{"speaker", "Mina"}, {"conversation", "c-7"}, {"other", 3}};
  const auto a_id = store->add(a).id;
  Memory b = note("a lighthouse on the map");
  b.metadata = {{"speaker", 42}};
  const auto b_id = store->add(b).id;
  store->add(note("the lighthouse of someone else", "other-user"));
  const auto plain = store->search_text({"lighthouse"}, MemoryFilter{}, 10);
  for (HitRow kind : {HitRow::kRanking, HitRow::kSignals}) {
    const auto hits = store->search_text_rows({"lighthouse"}, MemoryFilter{}, 10, kind);
    ASSERT_EQ(hits.size(), plain.size());
    ASSERT_EQ(hits.size(), 2u);
    std::vector<std::string> ids;
    for (size_t i = 0; i < hits.size(); ++i) {
      EXPECT_EQ(hits[i].id, plain[i].id);
      EXPECT_DOUBLE_EQ(hits[i].score, plain[i].score);
      ids.push_back(hits[i].id);
    }
    const auto rows = kind == HitRow::kSignals ? store->get_signal_fields("local", ids)
                                               : store->get_ranking_fields("local", ids);
    ASSERT_EQ(rows.size(), 2u);
    for (size_t i = 0; i < hits.size(); ++i) {
      ASSERT_TRUE(hits[i].row) << "both backends read the rows with the hits";
      const Memory& got = *hits[i].row;
      const Memory& want = rows[i];
      EXPECT_EQ(got.id, want.id);
      EXPECT_EQ(got.user_id, "local");
      EXPECT_EQ(got.type, want.type);
      EXPECT_EQ(got.tier, want.tier);
      EXPECT_EQ(got.memory_kind, want.memory_kind);
      EXPECT_DOUBLE_EQ(got.importance, want.importance);
      EXPECT_DOUBLE_EQ(got.confidence.overall, want.confidence.overall);
      EXPECT_EQ(got.approved, want.approved);
      EXPECT_EQ(got.tags, want.tags);
      EXPECT_EQ(got.event_time, want.event_time);
      if (kind == HitRow::kSignals) {
        EXPECT_EQ(got.content, want.content);
        EXPECT_EQ(got.metadata.value("speaker", nlohmann::json()), want.metadata.value("speaker", nlohmann::json()));
        EXPECT_EQ(got.metadata.value("conversation", nlohmann::json()),
                  want.metadata.value("conversation", nlohmann::json()));
      } else {
        EXPECT_TRUE(got.content.empty());
      }
      if (got.id == a_id) {
        EXPECT_EQ(got.tags, (std::vector<std::string>{"sea", "letters"}));
        if (kind == HitRow::kSignals) EXPECT_EQ(got.metadata.value("speaker", ""), "Mina");
      }
      if (got.id == b_id && kind == HitRow::kSignals) EXPECT_FALSE(got.metadata.contains("speaker"));  // not a string
    }
  }
}

// Issue 16, defect 9: 東京 did not find 東京の天気は晴れ (unicode61 keeps a
// CJK run as one token).
TEST_P(StoreContract, Defect9_SearchFindsJapaneseChineseAndKoreanWords) {
  const auto tokyo = store->add(note("東京の天気は晴れ")).id;
  const auto osaka = store->add(note("大阪で友達とたこ焼きを食べた")).id;
  const auto beijing = store->add(note("我喜欢北京烤鸭，也喜欢上海的小笼包")).id;
  const auto seoul = store->add(note("서울의 날씨가 좋아서 한강에 갔다")).id;
  const auto mixed = store->add(note("Bought a new iPhone at 秋葉原 on Sunday")).id;
  store->add(note("The weather in Tokyo was sunny"));
  auto ids = [&](const std::vector<std::string>& terms) {
    std::vector<std::string> out;
    for (const auto& h : store->search_text(terms, MemoryFilter{}, 10)) out.push_back(h.id);
    std::sort(out.begin(), out.end());
    return out;
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(ids({"東京"}), V{tokyo});              // Japanese: a word at the start
  EXPECT_EQ(ids({"天気"}), V{tokyo});              // ... inside the run
  EXPECT_EQ(ids({"東京の天気"}), V{tokyo});        // a longer phrase
  EXPECT_EQ(ids({"たこ焼き"}), V{osaka});          // kana and kanji mixed
  EXPECT_EQ(ids({"北京"}), V{beijing});            // Chinese
  EXPECT_EQ(ids({"小笼包"}), V{beijing});
  EXPECT_EQ(ids({"서울"}), V{seoul});              // Korean: a word with its particle attached
  EXPECT_EQ(ids({"한강"}), V{seoul});
  EXPECT_EQ(ids({"秋葉原"}), V{mixed});            // CJK inside English
  EXPECT_EQ(ids({"iphone"}), V{mixed});            // and the English around it
  EXPECT_TRUE(ids({"京都"}).empty());              // 東京 does not contain 京都
  EXPECT_TRUE(ids({"北海道"}).empty());
  auto one_char = ids({"晴"});                     // a single character still matches
  EXPECT_EQ(one_char, V{tokyo});
  // English stemming is unchanged.
  EXPECT_EQ(store->search_text({"sunni"}, MemoryFilter{}, 10).size(), 1u);
  EXPECT_EQ(store->search_text({"weathers"}, MemoryFilter{}, 10).size(), 1u);
}

TEST_P(StoreContract, FiltersByTypeTagsTierTimeAndApproval) {
  Memory a = note("alpha event");
  a.type = "journal";
  a.tags = {"x"};
  a.event_time = *parse_iso8601("2024-01-01");
  Memory b = note("alpha fact");
  b.type = "fact";
  b.tier = Tier::kPersistent;
  b.event_time = *parse_iso8601("2024-06-01");
  Memory c = note("alpha pending");
  c.approved = false;
  store->add_batch({a, b, c});
  MemoryFilter f;
  EXPECT_EQ(store->search_text({"alpha"}, f, 10).size(), 2u);  // pending hidden
  f.types = {"journal"};
  EXPECT_EQ(store->search_text({"alpha"}, f, 10).size(), 1u);
  f = {};
  f.tags = {"x"};
  EXPECT_EQ(store->count(f), 1);
  f = {};
  f.tier = Tier::kPersistent;
  EXPECT_EQ(store->list(f, ListOrder::kNewestFirst, 10, 0).at(0).content, "alpha fact");
  f = {};
  f.since = *parse_iso8601("2024-03-01");
  f.until = *parse_iso8601("2024-12-01");
  EXPECT_EQ(store->count(f), 1);
  f = {};
  f.kinds = {MemoryKind::kContext};
  EXPECT_EQ(store->count(f), 2);
  f.kinds = {MemoryKind::kPreference};
  EXPECT_EQ(store->count(f), 0);
  f = {};
  f.approved = false;
  EXPECT_EQ(store->count(f), 1);
  f.approved.reset();
  EXPECT_EQ(store->count(f), 3);
}

TEST_P(StoreContract, ListOrdersAndPages) {
  for (int i = 0; i < 5; ++i) {
    Memory m = note("item " + std::to_string(i));
    m.event_time = from_millis(1000 * (i + 1));
    store->add(m);
  }
  auto page1 = store->list(MemoryFilter{}, ListOrder::kNewestFirst, 2, 0);
  auto page2 = store->list(MemoryFilter{}, ListOrder::kNewestFirst, 2, 2);
  ASSERT_EQ(page1.size(), 2u);
  EXPECT_EQ(page1[0].content, "item 4");
  EXPECT_EQ(page2[0].content, "item 2");
  EXPECT_EQ(store->list(MemoryFilter{}, ListOrder::kOldestFirst, 1, 0)[0].content, "item 0");
}

TEST_P(StoreContract, RecordAccessCountsReads) {
  auto a = store->add(note("read me"));
  clock.advance(std::chrono::minutes(5));
  store->record_access("local", {a.id}, clock.now());
  store->record_access("local", {a.id}, clock.now());
  auto got = *store->get("local", a.id);
  EXPECT_EQ(got.access_count, 2);
  ASSERT_TRUE(got.last_accessed);
  EXPECT_EQ(*got.last_accessed, clock.now());
}

TEST_P(StoreContract, RelationsLinkMemoriesAndVanishWithThem) {
  auto a = store->add(note("the sky is blue"));
  auto b = store->add(note("the sky is green"));
  store->add_relation("local", b.id, {a.id, RelationKind::kContradicts});
  auto got = *store->get("local", b.id);
  ASSERT_EQ(got.relations.size(), 1u);
  EXPECT_EQ(got.relations[0].kind, RelationKind::kContradicts);
  EXPECT_THROW(store->add_relation("local", b.id, {"missing", RelationKind::kSupports}), Error);
  store->remove("local", a.id);
  EXPECT_TRUE(store->get("local", b.id)->relations.empty());
}

TEST_P(StoreContract, BatchGetsKeepOrderSkipUnknownAndOtherUsers) {
  Memory first = note("first");
  first.tags = {"a", "b"};
  first.importance = 0.9;
  first.tier = Tier::kPersistent;
  auto a = store->add(first);
  auto b = store->add(note("second"));
  auto theirs = store->add(note("not yours", "someone-else"));
  store->add_relation("local", b.id, {a.id, RelationKind::kSupports});
  auto full = store->get_many("local", {b.id, "missing", theirs.id, a.id});
  ASSERT_EQ(full.size(), 2u);
  EXPECT_EQ(full[0].id, b.id);
  EXPECT_EQ(full[0].content, "second");
  ASSERT_EQ(full[0].relations.size(), 1u);
  EXPECT_EQ(full[0].relations[0].target_id, a.id);
  EXPECT_EQ(full[0].relations[0].kind, RelationKind::kSupports);
  EXPECT_EQ(full[1].id, a.id);
  // Each equals what get() returns.
  EXPECT_EQ(to_json(full[1]).dump(), to_json(*store->get("local", a.id)).dump());
  EXPECT_EQ(to_json(full[0]).dump(), to_json(*store->get("local", b.id)).dump());
  auto brief = store->get_ranking_fields("local", {a.id, theirs.id, b.id});
  ASSERT_EQ(brief.size(), 2u);
  EXPECT_EQ(brief[0].id, a.id);
  EXPECT_EQ(brief[0].tags, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(brief[0].tier, Tier::kPersistent);
  EXPECT_DOUBLE_EQ(brief[0].importance, 0.9);
  EXPECT_EQ(brief[0].event_time, full[1].event_time);
  EXPECT_EQ(brief[1].id, b.id);
  EXPECT_TRUE(store->get_many("local", {}).empty());
}

TEST_P(StoreContract, EmbeddingCacheFindsVectorsByText) {
  auto a = store->add(note("cached text"));
  const std::string hash(64, 'c');
  store->cache_embeddings("m1", {{hash, {0.6f, 0.8f}}});
  store->put_embeddings("m1", {{a.id, {0.6f, 0.8f}, hash}});
  auto found = store->cached_embeddings("m1", {hash, std::string(64, 'd')});
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[hash], (std::vector<float>{0.6f, 0.8f}));
  EXPECT_TRUE(store->cached_embeddings("m2", {hash}).empty());
}

// More vectors than one page of a backend that reads in pages (PostgreSQL:
// 2048): each is visited once, whole, and only the user's own.
TEST_P(StoreContract, ForEachEmbeddingVisitsEveryVectorOnceAcrossPages) {
  std::vector<Memory> batch;
  for (int i = 0; i < 2100; ++i) batch.push_back(note("vector row " + std::to_string(i)));
  const auto added = store->add_batch(std::move(batch));
  std::vector<StoredVector> vectors;
  for (size_t i = 0; i < added.size(); ++i)
    vectors.push_back({added[i].id, {static_cast<float>(i), 1.0f, -static_cast<float>(i)}});
  store->put_embeddings("paged", vectors);
  const auto theirs = store->add(note("someone else's", "other-user"));
  store->put_embeddings("paged", {{theirs.id, {9.0f, 9.0f, 9.0f}}});

  std::map<std::string, std::vector<float>> seen;
  size_t visits = 0;
  store->for_each_embedding("paged", "local", [&](const std::string& id, std::vector<float>& v) {
    ++visits;
    seen[id] = std::move(v);  // the visitor may keep the buffer
  });
  EXPECT_EQ(visits, added.size());
  ASSERT_EQ(seen.size(), added.size());
  for (size_t i = 0; i < added.size(); ++i)
    EXPECT_EQ(seen[added[i].id], (std::vector<float>{static_cast<float>(i), 1.0f, -static_cast<float>(i)})) << i;
  EXPECT_FALSE(seen.count(theirs.id));
  // The count an index sizes itself by: the same vectors, per user and model.
  EXPECT_EQ(store->count_embeddings("paged", "local"), static_cast<int64_t>(added.size()));
  EXPECT_EQ(store->count_embeddings("paged", "other-user"), 1);
  EXPECT_EQ(store->count_embeddings("another-model", "local"), 0);
}

TEST_P(StoreContract, EmbeddingsPerModelAndMissingList) {
  auto a = store->add(note("one"));
  auto b = store->add(note("two"));
  EXPECT_EQ(store->missing_embeddings("m1", 10).size(), 2u);
  store->put_embeddings("m1", {{a.id, {1.0f, 0.0f}}});
  auto missing = store->missing_embeddings("m1", 10);
  ASSERT_EQ(missing.size(), 1u);
  EXPECT_EQ(missing[0].id, b.id);
  EXPECT_EQ(store->missing_embeddings("m2", 10).size(), 2u);
  auto loaded = store->load_embeddings("m1", "local");
  ASSERT_EQ(loaded.size(), 1u);
  EXPECT_EQ(loaded[0].vector, (std::vector<float>{1.0f, 0.0f}));
  store->put_embeddings("m1", {{"deleted-or-unknown", {0.0f, 1.0f}}});  // ignored, no orphan vectors
  EXPECT_EQ(store->stats("local").embeddings, 1);
  store->remove("local", a.id);
  EXPECT_TRUE(store->load_embeddings("m1", "local").empty());
}

TEST_P(StoreContract, JournalsAreIdempotentAndMirroredAsMemories) {
  Journal j;
  j.id = "session-1";
  j.title = "A day";
  j.body = "We walked to the lighthouse.";
  j.tags = {"journal", "walk"};
  j.source_entry_ids = {"e1", "e2"};
  Memory mirror = note("A day\n\nWe walked to the lighthouse.");
  mirror.type = "journal";
  EXPECT_TRUE(store->add_journal(j, mirror));
  EXPECT_FALSE(store->add_journal(j, mirror));
  auto got = store->get_journal("local", "session-1");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->source_entry_ids, j.source_entry_ids);
  EXPECT_EQ(store->list_journals("local", 10).size(), 1u);
  EXPECT_EQ(store->search_text({"lighthouse"}, MemoryFilter{}, 10).size(), 1u);
  EXPECT_EQ(store->stats("local").by_type["journal"], 1);
  got->title = "A better day";
  got->body = "We walked to the old lighthouse by the sea.";
  store->update_journal(*got);
  EXPECT_EQ(store->get_journal("local", "session-1")->title, "A better day");
  EXPECT_EQ(store->search_text({"sea"}, MemoryFilter{}, 10).size(), 1u);
}

TEST_P(StoreContract, FailedBatchStoresNothing) {
  Memory ok = note("fine");
  Memory bad = note("");
  EXPECT_THROW(store->add_batch({ok, bad}), Error);
  EXPECT_EQ(store->count(MemoryFilter{}), 0);
}

TEST_P(StoreContract, JournalDraftsLifecycle) {
  auto drafts = GetParam().open_journal(dir, clock);
  EXPECT_FALSE(drafts->open_session("local"));
  auto s = drafts->start_session("local", clock.now());
  EXPECT_THROW(drafts->start_session("local", clock.now()), Error);
  JournalEntry e;
  e.content = "first thought";
  drafts->add_entry(s.id, e);
  e.content = "second thought";
  drafts->add_entry(s.id, e);
  EXPECT_EQ(drafts->open_session("local")->entry_count, 2);
  auto entries = drafts->entries(s.id);
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].content, "first thought");
  drafts->discard_session(s.id);
  EXPECT_FALSE(drafts->open_session("local"));
  EXPECT_TRUE(drafts->entries(s.id).empty());
}

TEST_P(StoreContract, JobsArePersistentOrderedAndLeasedOnce) {
  auto jobs = GetParam().open_jobs(dir, clock);
  Job a;
  a.kind = "chat_reply";
  a.payload = {{"memory_id", "m1"}};
  const std::string first = jobs->enqueue(a);
  clock.advance(std::chrono::seconds(1));
  a.payload = {{"memory_id", "m2"}};
  const std::string second = jobs->enqueue(a);
  const TimePoint now = clock.now();
  auto claimed = jobs->claim("chat_reply", "w1", now, now, now + std::chrono::minutes(1), 10);
  ASSERT_EQ(claimed.size(), 2u);
  EXPECT_EQ(claimed[0].id, first);
  EXPECT_EQ(claimed[0].payload["memory_id"], "m1");
  EXPECT_EQ(claimed[0].attempts, 1);
  EXPECT_TRUE(jobs->claim("chat_reply", "w2", now, now, now + std::chrono::minutes(1), 10).empty());
  EXPECT_TRUE(jobs->retry_later(first, "w1", "provider down", now + std::chrono::minutes(5)));
  EXPECT_TRUE(jobs->complete(second, "w1", now, {{"reply_memory_id", "r2"}}));
  EXPECT_TRUE(jobs->claim("chat_reply", "w2", now, now, now + std::chrono::minutes(1), 10).empty()) << "not due yet";
  const TimePoint later = now + std::chrono::minutes(6);
  auto again = jobs->claim("chat_reply", "w2", later, later, later + std::chrono::minutes(1), 10);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].attempts, 2);
  EXPECT_EQ(again[0].last_error, "provider down");
  EXPECT_EQ(jobs->get(second)->state, JobState::kDone);
  EXPECT_EQ(jobs->get(second)->result["reply_memory_id"], "r2");
  EXPECT_EQ(jobs->count_open("local"), 1);
  EXPECT_EQ(jobs->count_open("someone-else"), 0);
  // Survives reopening.
  jobs = GetParam().open_jobs(dir, clock);
  EXPECT_EQ(jobs->get(first)->lease_holder, "w2");
}

TEST_P(StoreContract, AJournalCompiledWithoutAModelQueuesItsRecompile) {
  Journal j;
  j.id = "j1";
  j.user_id = "local";
  j.title = "Tuesday";
  j.body = "Walked.";
  j.needs_recompile = true;
  Memory mirror = note("Tuesday\n\nWalked.");
  mirror.type = "journal";
  ASSERT_TRUE(store->add_journal(j, mirror));
  auto jobs = GetParam().open_jobs(dir, clock);
  JobFilter f;
  f.kind = "recompile_journal";
  auto queued = jobs->list(f);
  ASSERT_EQ(queued.size(), 1u);
  EXPECT_EQ(queued[0].payload["journal_id"], "j1");
  EXPECT_FALSE(store->add_journal(j, mirror));
  EXPECT_EQ(jobs->list(f).size(), 1u);
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreContract, ::testing::ValuesIn(testing::store_backends()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace kioku
