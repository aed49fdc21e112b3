#include "lifecycle/maintenance.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <map>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "core/error.h"
#include "core/text.h"
#include "lifecycle/extraction.h"
#include "lifecycle/graph_builder.h"
#include "search/hnsw_index.h"
#include "search/vector_index.h"

namespace kioku {

std::string_view to_string(Period p) {
  switch (p) {
    case Period::kHourly: return "hourly";
    case Period::kDaily: return "daily";
    case Period::kWeekly: return "weekly";
  }
  return "daily";
}

Period parse_period(std::string_view s) {
  if (s == "hourly") return Period::kHourly;
  if (s == "daily") return Period::kDaily;
  if (s == "weekly") return Period::kWeekly;
  throw invalid_input("unknown maintenance period '" + std::string(s) + "' (hourly, daily, weekly)");
}

int64_t MaintenanceReport::promoted() const {
  int64_t n = 0;
  for (const auto& [rule, count] : promotions) n += count;
  return n;
}

nlohmann::json MaintenanceReport::to_json() const {
  return {{"period", to_string(period)},
          {"started_at", format_iso8601(started_at)},
          {"finished_at", format_iso8601(finished_at)},
          {"seconds", std::chrono::duration<double>(finished_at - started_at).count()},
          {"users", users},
          {"memories_extracted", memories_extracted},
          {"entities_created", entities_created},
          {"mentions", mentions},
          {"facts_recorded", facts_recorded},
          {"facts_closed", facts_closed},
          {"contradictions", contradictions},
          {"suggestions", suggestions},
          {"llm_replies_rejected", llm_replies_rejected},
          {"lexical_fallbacks", lexical_fallbacks},
          {"duplicates_merged", duplicates_merged},
          {"confidence_updated", confidence_updated},
          {"expired", expired},
          {"promotions", promotions},
          {"promoted", promoted()},
          {"sessions_summarised", sessions_summarised},
          {"reviews", reviews},
          {"memories_cold", memories_cold},
          {"notes", notes},
          {"errors", errors}};
}

namespace {

constexpr int kBatch = 500;

bool generated(const Memory& m) {
  return m.type == "session_summary" || m.metadata.contains("maintenance_key");
}

// Types that are events: the same words twice are two things that happened.
bool mergeable_type(const std::string& type) {
  static const std::set<std::string, std::less<>> events = {"chat", "journal", "session_summary", "bsky_post",
                                                            "image"};
  return !events.count(type);
}

int tier_rank(Tier t) { return t == Tier::kPersistent ? 2 : t == Tier::kLongTerm ? 1 : 0; }

class Run {
 public:
  Run(Period period, const TimeSource& clock, MaintenanceDeps deps, const MaintenanceOptions& options)
      : clock_(clock), deps_(deps), o_(options) {
    report_.period = period;
  }

  MaintenanceReport run() {
    report_.started_at = clock_.now();
    std::vector<std::string> users;
    if (!o_.user_id.empty()) users.push_back(o_.user_id);
    else users = deps_.knowledge.users();
    report_.users = static_cast<int>(users.size());
    for (const auto& user : users) {
      step(user, "extract", [&] { extract(user); });
      if (report_.period == Period::kDaily) {
        step(user, "merge", [&] { merge_duplicates(user); });
        step(user, "promote", [&] { confidence_expiry_promotion(user); });
        step(user, "summarise", [&] { summarise_sessions(user); });
      }
      if (report_.period == Period::kWeekly) {
        step(user, "review", [&] { weekly_review(user); });
        step(user, "cold", [&] { cold_storage(user); });
      }
    }
    report_.finished_at = clock_.now();
    return report_;
  }

 private:
  // A failing step is reported and the run goes on with the next one: what
  // the failed step finished is kept, the rest waits for the next run.
  void step(const std::string& user, const char* name, const std::function<void()>& fn) {
    try {
      fn();
    } catch (const Error& e) {
      report_.errors.push_back(std::string(name) + " (" + user + "): " + e.what());
    }
  }

  void progress(std::string_view step, int64_t done) {
    if (o_.on_progress) o_.on_progress(step, done);
  }

  // ---------- hourly: extraction ----------

  void extract(const std::string& user) {
    GraphBuilder builder(deps_.knowledge, user, clock_);
    std::unique_ptr<LlmExtractor> llm;
    if (deps_.llm) llm = std::make_unique<LlmExtractor>(*deps_.llm);
    bool llm_down = false;
    int64_t done = 0;
    // The backlog as it stands now (what arrives meanwhile waits for the next run).
    const std::vector<std::string> backlog = deps_.knowledge.unextracted(user, INT_MAX);
    for (size_t from = 0; from < backlog.size(); from += kBatch) {
      const std::vector<std::string> ids(backlog.begin() + static_cast<std::ptrdiff_t>(from),
                                         backlog.begin() + static_cast<std::ptrdiff_t>(std::min(backlog.size(), from + kBatch)));
      const std::vector<std::string> known = builder.known_names();
      const KnownNames prepared(known);
      for (const auto& m : deps_.memories.get_many(user, ids)) {
        if (generated(m) || m.content.empty()) {
          builder.skip(m);
          continue;
        }
        Extraction x;
        bool have = false;
        if (llm && !llm_down) {
          LlmExtractionStats stats;
          try {
            x = llm->extract(m, known, &stats);
            have = true;
          } catch (const Error& e) {
            if (e.code() == ErrorCode::kUnavailable) {
              llm_down = true;
              report_.notes.push_back(std::string("LLM unreachable, lexical extraction used: ") + e.what());
            }
          }
          report_.llm_replies_rejected += stats.rejected;
        }
        if (!have) {
          if (llm) ++report_.lexical_fallbacks;
          x = lexical_extract(m, prepared);
        }
        add_suggestions(user, m, x);
        GraphApplied a = builder.apply(m, x);
        report_.entities_created += a.entities_created;
        report_.mentions += a.mentions;
        report_.facts_recorded += a.facts_created;
        report_.facts_closed += a.facts_closed;
        report_.contradictions += a.contradictions;
        ++report_.memories_extracted;
        progress("extract", ++done);
      }
    }
  }

  // Memories the model proposed: inferred, pending the user's approval,
  // and so the only kind that may expire. Keyed so a rerun adds them once.
  void add_suggestions(const std::string& user, const Memory& source, const Extraction& x) {
    for (size_t i = 0; i < x.suggestions.size(); ++i) {
      const std::string key = "suggestion:" + source.id + ":" + std::to_string(i);
      if (deps_.knowledge.find_by_maintenance_key(user, key)) continue;
      Memory s;
      s.user_id = user;
      s.type = std::string(memory_types::kFact);
      s.content = x.suggestions[i];
      s.source = Source::kAiSuggested;
      s.approved = false;
      s.truth_category = TruthCategory::kInferred;
      s.memory_kind = MemoryKind::kFact;
      s.confidence.overall = 0.5;
      s.confidence.source_reliability = 0.5;
      s.provenance.kind = "extraction";
      s.provenance.message_id = source.id;
      s.metadata = {{"maintenance_key", key}, {"suggested_from", source.id}};
      s.relations.push_back({source.id, RelationKind::kRelated});
      deps_.memories.add(s);
      ++report_.suggestions;
    }
  }

  // ---------- daily: near-duplicates ----------

  void merge_duplicates(const std::string& user) {
    if (!deps_.embedder) {
      report_.notes.push_back("near-duplicate merge skipped: no embedder configured");
      return;
    }
    if (deps_.searcher) deps_.searcher->index_pending(INT_MAX);
    const std::string model = deps_.embedder->model_id();
    std::unordered_map<std::string, LifecycleRow> rows;
    for (std::string after;;) {
      auto batch = deps_.knowledge.lifecycle_rows(user, after, 5000);
      if (batch.empty()) break;
      after = batch.back().id;
      for (auto& r : batch)
        if (r.approved && mergeable_type(r.type) && r.lifecycle.merged_into.empty()) rows.emplace(r.id, std::move(r));
    }
    std::unordered_map<std::string, std::vector<float>> vectors;
    for (auto& v : deps_.memories.load_embeddings(model, user))
      if (rows.count(v.memory_id) && static_cast<int>(v.vector.size()) == deps_.embedder->dimension())
        vectors.emplace(v.memory_id, std::move(v.vector));
    std::unique_ptr<VectorIndex> index;
    if (vectors.size() >= 20000) {
      auto hnsw = std::make_unique<HnswVectorIndex>(deps_.embedder->dimension(), HnswParams{}, vectors.size() + 16);
      std::vector<std::string> ids;
      std::vector<float> flat;
      ids.reserve(vectors.size());
      flat.reserve(vectors.size() * static_cast<size_t>(deps_.embedder->dimension()));
      for (const auto& [id, v] : vectors) {
        ids.push_back(id);
        flat.insert(flat.end(), v.begin(), v.end());
      }
      hnsw->add_parallel(ids, flat, 2);
      index = std::move(hnsw);
    } else {
      index = std::make_unique<ExactVectorIndex>(deps_.embedder->dimension());
      for (const auto& [id, v] : vectors) index->upsert(id, v);
    }
    std::unordered_set<std::string> merged;
    int64_t done = 0;
    for (std::string after;;) {
      auto ids = deps_.knowledge.undeduped(user, after, kBatch);
      if (ids.empty()) break;
      after = ids.back();
      for (const auto& q : ids) {
        auto vq = vectors.find(q);
        if (vq == vectors.end() || merged.count(q)) continue;
        const std::string& type = rows.at(q).type;
        for (const auto& hit : index->search(vq->second, 6)) {
          if (hit.id == q || hit.score < o_.merge_threshold || merged.count(hit.id)) continue;
          if (rows.at(hit.id).type != type) continue;
          const LifecycleRow& a = rows.at(q);
          const LifecycleRow& b = rows.at(hit.id);
          // The survivor: higher tier, then better confirmed, then older.
          auto better = [](const LifecycleRow& x, const LifecycleRow& y) {
            if (tier_rank(x.tier) != tier_rank(y.tier)) return tier_rank(x.tier) > tier_rank(y.tier);
            if (x.confidence.corroboration_count != y.confidence.corroboration_count)
              return x.confidence.corroboration_count > y.confidence.corroboration_count;
            if (x.event_time != y.event_time) return x.event_time < y.event_time;
            return x.id < y.id;
          };
          const std::string survivor = better(a, b) ? a.id : b.id;
          const std::string duplicate = survivor == a.id ? b.id : a.id;
          if (deps_.knowledge.merge_duplicate(user, survivor, duplicate, clock_.now())) {
            ++report_.duplicates_merged;
            progress("merge", ++done);
          }
          merged.insert(duplicate);
          index->remove(duplicate);
          if (deps_.searcher) deps_.searcher->forget(user, duplicate);
          if (duplicate == q) break;
        }
      }
      deps_.knowledge.mark_dedup_checked(user, ids, clock_.now());
    }
  }

  // ---------- daily: confidence, expiry, promotion ----------

  void confidence_expiry_promotion(const std::string& user) {
    const TimePoint now = clock_.now();
    int64_t done = 0;
    for (std::string after;;) {
      auto rows = deps_.knowledge.lifecycle_rows(user, after, 2000);
      if (rows.empty()) break;
      after = rows.back().id;
      // Confidences of a batch in one transaction (a day moves every recency).
      deps_.knowledge.transaction([&] {
        for (auto& r : rows) {
          const Confidence c = recompute_confidence(r, now, o_.rules);
          const bool changed = std::abs(c.overall - r.confidence.overall) > 1e-9 ||
                               std::abs(c.recency - r.confidence.recency) > 1e-9 ||
                               std::abs(c.source_reliability - r.confidence.source_reliability) > 1e-9;
          r.confidence = c;
          if (!changed) continue;
          deps_.knowledge.set_confidence(user, r.id, c);
          ++report_.confidence_updated;
        }
      });
      progress("confidence", done += static_cast<int64_t>(rows.size()));
      for (auto& r : rows) {
        if (auto expires = expiry_time(r, o_.rules); expires && *expires <= now) {
          if (deps_.knowledge.archive_memory(user, r.id, "expired: unconfirmed inference", now)) {
            ++report_.expired;
            if (deps_.searcher) deps_.searcher->forget(user, r.id);
            progress("expire", report_.expired);
          }
          continue;
        }
        for (int climb = 0; climb < 2; ++climb) {
          auto change = next_promotion(r, now, o_.rules);
          if (!change) break;
          if (deps_.knowledge.change_tier(user, *change)) {
            ++report_.promotions[change->rule];
            progress("promote", report_.promoted());
          }
          r.tier = change->to;
        }
      }
    }
  }

  // ---------- daily: session summaries ----------

  void summarise_sessions(const std::string& user) {
    const TimePoint cutoff = clock_.now() - o_.summary_after;
    MemoryFilter f;
    f.user_id = user;
    f.types = {std::string(memory_types::kChat)};
    f.until = cutoff;
    std::vector<Memory> session;
    int64_t done = 0;
    auto finish = [&] {
      if (session.size() >= 2) {
        if (summarise(user, session)) progress("summarise", ++done);
      }
      session.clear();
    };
    for (int offset = 0;; offset += 2000) {
      auto page = deps_.memories.list(f, ListOrder::kOldestFirst, 2000, offset);
      for (auto& m : page) {
        if (!session.empty() && m.event_time - session.back().event_time > o_.session_gap) finish();
        session.push_back(std::move(m));
      }
      if (page.size() < 2000) break;
    }
    finish();
  }

  bool summarise(const std::string& user, const std::vector<Memory>& messages) {
    const std::string key = "session_summary:" + messages.front().id;
    if (deps_.knowledge.find_by_maintenance_key(user, key)) return false;
    std::string text;
    std::string summariser = "extractive";
    if (deps_.llm && !llm_summaries_down_) {
      ChatRequest request;
      std::string transcript;
      for (const auto& m : messages)
        transcript += m.metadata.value("role", "user") + ": " + truncate_utf8(m.content, 600) + "\n";
      request.messages.push_back({"system",
                                  "Summarise this conversation between the user and their companion in at most three "
                                  "sentences: what was said, decided or learned about the user. Plain text only."});
      request.messages.push_back({"user", truncate_utf8(transcript, 12000)});
      try {
        text = deps_.llm->chat(request).text;
        summariser = "llm";
      } catch (const Error&) {
        llm_summaries_down_ = true;  // extractive for the rest of this run
      }
      while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
    }
    if (text.empty()) {
      text = extractive_summary(messages);
      summariser = "extractive";
    }
    const std::string date = format_iso8601(messages.front().event_time).substr(0, 10);
    Memory s;
    s.user_id = user;
    s.type = "session_summary";
    s.content = "Conversation of " + date + " (" + std::to_string(messages.size()) + " messages): " + text;
    s.source = Source::kAiSuggested;
    s.approved = true;
    s.truth_category = TruthCategory::kContextual;
    s.memory_kind = MemoryKind::kEvent;
    s.event_time = messages.front().event_time;
    s.provenance.kind = "summary";
    nlohmann::json ids = nlohmann::json::array();
    for (const auto& m : messages) ids.push_back(m.id);
    s.metadata = {{"maintenance_key", key},
                  {"summariser", summariser},
                  {"session_start", format_iso8601(messages.front().event_time)},
                  {"session_end", format_iso8601(messages.back().event_time)},
                  {"message_ids", ids}};
    for (size_t i = 0; i < messages.size() && i < 100; ++i) s.relations.push_back({messages[i].id, RelationKind::kRelated});
    deps_.memories.add(s);
    ++report_.sessions_summarised;
    return true;
  }

  // ---------- weekly ----------

  void weekly_review(const std::string& user) {
    const TimePoint now = clock_.now();
    // Weeks start on Monday (1970-01-01 was a Thursday).
    const int64_t day = to_millis(now) / 86400000;
    const int64_t monday = (day + 3) / 7 * 7 - 3;
    const TimePoint week_start = from_millis(monday * 86400000);
    const TimePoint since = week_start - std::chrono::hours(24 * 7);
    const TimePoint until = now + std::chrono::milliseconds(1);  // what happened at this very instant counts
    const std::string start_date = format_iso8601(week_start).substr(0, 10);
    Journal j;
    j.id = "weekly-review-" + user + "-" + start_date;
    j.user_id = user;
    if (deps_.memories.get_journal(user, j.id)) return;
    j.title = "Weekly review: " + format_iso8601(since).substr(0, 10) + " to " + format_iso8601(now).substr(0, 10);
    std::string body;
    auto changes = deps_.knowledge.tier_changes(user, since, until);
    auto entities = deps_.knowledge.entities_created(user, since, until);
    auto facts = deps_.knowledge.facts_changed(user, since, until);
    std::vector<Fact> learned, retired;
    for (const auto& f : facts) {
      if (f.invalidated_at && *f.invalidated_at >= since) retired.push_back(f);
      else if (f.revision_of.empty() && f.recorded_at >= since) learned.push_back(f);
    }
    std::map<std::string, int> by_rule;
    for (const auto& c : changes) ++by_rule[c.rule];
    body += "## What changed\n\n";
    if (changes.empty()) body += "No memory changed tier.\n";
    for (const auto& [rule, n] : by_rule) body += "- " + std::to_string(n) + " x " + rule + "\n";
    int expired = 0;
    for (const auto& a : deps_.knowledge.list_archive(user, 1000))
      if (a.archived_at >= since) ++expired;
    if (expired) body += "- " + std::to_string(expired) + " unconfirmed inferences expired to the archive\n";
    body += "\n## What was learned\n\n";
    if (entities.empty() && learned.empty()) body += "Nothing new.\n";
    for (size_t i = 0; i < entities.size() && i < 30; ++i)
      if (entities[i].name != kSelfEntityName) body += "- new " + entities[i].kind + ": " + entities[i].name + "\n";
    for (size_t i = 0; i < learned.size() && i < 30; ++i) body += "- " + describe_fact(learned[i]) + "\n";
    body += "\n## Contradictions found\n\n";
    if (retired.empty()) body += "None.\n";
    for (size_t i = 0; i < retired.size() && i < 30; ++i)
      body += "- no longer current: " + describe_fact(retired[i]) + "\n";
    j.body = body;
    j.tags = {"weekly-review"};
    j.created_at = now;
    Memory mirror;
    mirror.user_id = user;
    mirror.type = std::string(memory_types::kJournal);
    mirror.content = j.title + "\n\n" + j.body;
    mirror.tags = j.tags;
    mirror.source = Source::kAiSuggested;
    mirror.memory_kind = MemoryKind::kEvent;
    mirror.event_time = now;
    mirror.provenance.kind = "review";
    mirror.metadata = {{"journal_id", j.id}, {"title", j.title}, {"maintenance_key", j.id}};
    if (deps_.memories.add_journal(j, mirror)) {
      report_.reviews.push_back(j.id);
      progress("review", 1);
    }
  }

  void cold_storage(const std::string& user) {
    auto moved = deps_.knowledge.move_to_cold(user, clock_.now() - o_.cold_after, clock_.now());
    report_.memories_cold += static_cast<int64_t>(moved.size());
    if (deps_.searcher)
      for (const auto& id : moved) deps_.searcher->forget(user, id);
    progress("cold", static_cast<int64_t>(moved.size()));
  }

  const TimeSource& clock_;
  MaintenanceDeps deps_;
  const MaintenanceOptions& o_;
  MaintenanceReport report_;
  bool llm_summaries_down_ = false;
};

}  // namespace

MaintenanceReport run_maintenance(Period period, const TimeSource& clock, MaintenanceDeps deps,
                                  const MaintenanceOptions& options) {
  return Run(period, clock, deps, options).run();
}

std::string extractive_summary(const std::vector<Memory>& messages, size_t max_sentences) {
  struct Sentence {
    std::string text;
    size_t order;
    double score = 0;
    bool from_user = true;
  };
  std::vector<Sentence> sentences;
  std::map<std::string, int> tf;
  for (const auto& m : messages) {
    const bool from_user = m.metadata.value("role", "user") != "assistant";
    std::string cur;
    auto flush = [&] {
      auto start = cur.find_first_not_of(" \n\t");
      if (start != std::string::npos) {
        Sentence s{cur.substr(start), sentences.size(), 0, from_user};
        if (s.text.size() >= 12) sentences.push_back(std::move(s));
      }
      cur.clear();
    };
    for (char c : m.content) {
      cur.push_back(c);
      if (c == '.' || c == '!' || c == '?' || c == '\n') flush();
    }
    flush();
  }
  for (const auto& s : sentences)
    for (const auto& w : word_tokens(s.text))
      if (!is_stopword(w) && w.size() > 2) ++tf[w];
  for (auto& s : sentences) {
    auto words = word_tokens(s.text);
    double sum = 0;
    for (const auto& w : words)
      if (tf.count(w)) sum += tf[w];
    s.score = sum / std::sqrt(static_cast<double>(words.size()) + 1.0) * (s.from_user ? 1.5 : 1.0);
  }
  std::vector<Sentence> best = sentences;
  std::stable_sort(best.begin(), best.end(), [](const Sentence& a, const Sentence& b) { return a.score > b.score; });
  if (best.size() > max_sentences) best.resize(max_sentences);
  std::sort(best.begin(), best.end(), [](const Sentence& a, const Sentence& b) { return a.order < b.order; });
  std::string out;
  for (const auto& s : best) {
    if (!out.empty()) out += " ";
    out += truncate_utf8(s.text, 240);
  }
  return out;
}

}  // namespace kioku
