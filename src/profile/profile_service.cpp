#include "profile/profile_service.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "core/error.h"

namespace kioku {

namespace {

std::string fixed2(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  return buf;
}

MemoryFilter chat_filter(const std::string& user_id) {
  MemoryFilter f;
  f.user_id = user_id;
  f.types = {std::string(memory_types::kChat)};
  return f;
}

bool before_or_at(const Memory& a, const Memory& message) {
  return a.id != message.id && a.event_time <= message.event_time;
}

nlohmann::json reading_json(const EmotionReading& r) {
  return {{"message_id", r.message_id}, {"emotion", r.emotion},   {"intensity", r.intensity},
          {"valence", r.valence},       {"detector", r.detector}, {"at", format_iso8601(r.at)}};
}

}  // namespace

nlohmann::json TurnSupport::metadata() const {
  nlohmann::json j = {{"emotion", reading.emotion},
                      {"intensity", reading.intensity},
                      {"valence", reading.valence},
                      {"detector", reading.detector}};
  if (!strategy.empty()) j["strategy"] = strategy;
  return j;
}

ProfileService::ProfileService(ProfileStore& profile, MemoryStore& memories, LlmClient* llm,
                               std::shared_ptr<ConversationCache> cache, const TimeSource& clock)
    : profile_(profile), memories_(memories), cache_(std::move(cache)), clock_(clock), detector_(llm) {}

std::string ProfileService::channel_of(const Memory& message) const {
  const std::string& id = message.provenance.message_id;
  const size_t colon = id.find(':');
  if (colon != std::string::npos && colon > 0 && colon < 20) return id.substr(0, colon);
  return channel_;
}

void ProfileService::note_turn(const std::string& user_id, const Memory& turn) {
  if (cache_) cache_->append(user_id, turn);
}

std::vector<Memory> ProfileService::history(const std::string& user_id, const Memory& message, int limit) {
  if (limit <= 0) return {};
  MemoryFilter chats = chat_filter(user_id);
  if (cache_ && static_cast<size_t>(limit) < cache_->capacity()) {
    const auto newest = memories_.list(chats, ListOrder::kNewestFirst, 1, 0);
    std::vector<Memory> turns;
    if (!newest.empty()) {
      const int64_t total = memories_.count(chats);
      if (auto cached = cache_->recent_if_current(user_id, newest.front().id, total)) {
        turns = std::move(*cached);
      } else {
        turns = memories_.list(chats, ListOrder::kNewestFirst, static_cast<int>(cache_->capacity()), 0);
        std::reverse(turns.begin(), turns.end());
        cache_->replace(user_id, turns, total);
      }
    }
    std::vector<Memory> out;
    for (const auto& t : turns)
      if (before_or_at(t, message)) out.push_back(t);
    // Enough turns before the message, or the cache holds the whole conversation.
    if (static_cast<int>(out.size()) >= limit || turns.size() < cache_->capacity()) {
      if (static_cast<int>(out.size()) > limit) out.erase(out.begin(), out.end() - limit);
      return out;
    }
  }
  // The database: a message older than what the cache holds (a queued turn).
  chats.until = message.event_time + std::chrono::milliseconds(1);
  auto out = memories_.list(chats, ListOrder::kNewestFirst, limit + 1, 0);
  out.erase(std::remove_if(out.begin(), out.end(), [&](const Memory& h) { return h.id == message.id; }), out.end());
  if (static_cast<int>(out.size()) > limit) out.resize(static_cast<size_t>(limit));
  std::reverse(out.begin(), out.end());
  return out;
}

std::vector<StrategyWeight> ProfileService::learned_for(const std::string& user_id) {
  return profile_.strategies(user_id);
}

void ProfileService::learn(const std::string& user_id, const std::string& emotion, const std::string& strategy,
                           double outcome, double rate, const std::string& reason, const std::string& message_id) {
  if (!is_support_strategy(strategy) || emotion.empty()) return;
  const auto learned = learned_for(user_id);
  StrategyWeight w;
  auto it = std::find_if(learned.begin(), learned.end(),
                         [&](const StrategyWeight& s) { return s.emotion == emotion && s.strategy == strategy; });
  if (it != learned.end()) {
    w = *it;
  } else {
    w.emotion = emotion;
    w.strategy = strategy;
    w.weight = prior_weight(emotion, strategy);
  }
  StrategyChange change;
  change.emotion = emotion;
  change.strategy = strategy;
  change.weight_before = w.weight;
  w = learn_strategy(w, outcome, rate);
  change.weight_after = w.weight;
  change.outcome = outcome;
  change.reason = reason;
  change.message_id = message_id;
  profile_.put_strategy(user_id, w, change);
}

TurnSupport ProfileService::observe_message(const std::string& user_id, const Memory& message) {
  note_turn(user_id, message);
  TurnSupport support;
  const TextReading text = classify_text(message.content);  // cheap: feedback and requests come from it
  if (auto stored = profile_.emotion(user_id, message.id)) {
    support.reading = *stored;  // read before: nothing to learn twice
  } else {
    const auto detected = detector_.detect(message.content);
    support.notice = detected.notice;
    support.reading.message_id = message.id;
    support.reading.emotion = detected.reading.emotion;
    support.reading.intensity = detected.reading.intensity;
    support.reading.valence = detected.reading.valence;
    support.reading.detector = detected.detector;
    support.reading.at = message.event_time;
    profile_.put_emotion(user_id, support.reading);

    // How the user answered the previous reply.
    const auto before = history(user_id, message, 2);
    nlohmann::json previous_support;
    std::string previous_reply_id;
    if (!before.empty() && before.back().metadata.value("role", "") == "assistant") {
      const auto& prev = before.back();
      if (prev.metadata.contains("support") && prev.metadata["support"].is_object()) {
        previous_support = prev.metadata["support"];
        previous_reply_id = prev.id;
      }
    }
    const std::string prev_strategy = previous_support.is_object() ? previous_support.value("strategy", "") : "";
    const std::string prev_emotion = previous_support.is_object() ? previous_support.value("emotion", "") : "";
    if (!prev_strategy.empty()) {
      if (text.feedback != 0) {
        learn(user_id, prev_emotion, prev_strategy, text.feedback > 0 ? 1.0 : 0.0, learning_rates::kFeedback,
              "feedback", message.id);
      } else {
        learn(user_id, prev_emotion, prev_strategy,
              outcome_from_next_message(previous_support.value("valence", 0.0), support.reading.valence),
              learning_rates::kNextMessage, "next_message", message.id);
      }
    }
    if (!text.asked_strategy.empty()) {
      const std::string for_emotion =
          is_negative_emotion(support.reading.emotion) ? support.reading.emotion : prev_emotion;
      if (!for_emotion.empty())
        learn(user_id, for_emotion, text.asked_strategy, 1.0, learning_rates::kAsked, "asked", message.id);
    }

    ConversationState state = profile_.conversation(user_id).value_or(ConversationState{});
    state.last_message_id = message.id;
    state.last_reply_id.clear();
    state.channel = channel_of(message);
    ++state.turns;
    state.updated_at = clock_.now();
    profile_.put_conversation(user_id, state);
  }

  const auto learned = learned_for(user_id);
  if (is_negative_emotion(support.reading.emotion)) {
    support.ranked = ranked_strategies(support.reading.emotion, learned);
    support.strategy = is_support_strategy(text.asked_strategy) ? text.asked_strategy : support.ranked.front().strategy;
    interventions_[user_id].push_back(support.strategy);
  }
  support.prompt = prompt_for(user_id, support.reading, support.strategy, learned);
  return support;
}

std::string ProfileService::prompt_for(const std::string& user_id, const EmotionReading& now,
                                       const std::string& strategy, const std::vector<StrategyWeight>& learned) {
  std::string out;
  const auto recent = profile_.emotions(user_id, 6);
  if (now.emotion != "neutral")
    out += "- Now: " + now.emotion + " (intensity " + fixed2(now.intensity) + ")\n";
  else
    out += "- Now: no strong feeling in this message\n";
  if (recent.size() >= 3) {
    double sum = 0;
    for (const auto& r : recent) sum += r.valence;
    const double mean = sum / static_cast<double>(recent.size());
    out += "- Mood over their last " + std::to_string(recent.size()) + " messages: " +
           (mean < -0.2  ? "low"
            : mean > 0.2 ? "good"
                         : "mixed") +
           "\n";
  }
  if (!strategy.empty()) {
    const auto ranked = ranked_strategies(now.emotion, learned);
    std::string helps, avoid;
    for (const auto& w : ranked) {
      if (w.uses == 0) continue;
      std::string item = strategy_label(w.strategy) + " (" + fixed2(w.weight) + ")";
      if (w.weight >= 0.55) helps += (helps.empty() ? "" : ", ") + item;
      if (w.weight < 0.4) avoid += (avoid.empty() ? "" : ", ") + item;
    }
    if (!helps.empty()) out += "- What has helped them when they feel " + now.emotion + ": " + helps + "\n";
    if (!avoid.empty()) out += "- What has not helped: " + avoid + "\n";
    out += "- This reply: " + strategy_label(strategy) + ": " + strategy_instruction(strategy) + "\n";
  } else {
    std::string helps;
    for (const auto& w : learned)
      if (w.uses > 0 && w.weight >= 0.6)
        helps += (helps.empty() ? "" : ", ") + strategy_label(w.strategy) + " when " + w.emotion;
    if (!helps.empty()) out += "- What has helped them before: " + helps + "\n";
  }
  return out;
}

void ProfileService::after_reply(const std::string& user_id, const Memory& message, const Memory& reply,
                                 const std::vector<std::string>& used_memory_ids) {
  note_turn(user_id, reply);
  note_used(user_id, used_memory_ids);
  ConversationState state = profile_.conversation(user_id).value_or(ConversationState{});
  if (state.last_message_id.empty() || state.last_message_id == message.id) {
    state.last_message_id = message.id;
    state.last_reply_id = reply.id;
    if (state.channel.empty()) state.channel = channel_of(message);
    if (state.turns == 0) state.turns = 1;
    state.updated_at = clock_.now();
    profile_.put_conversation(user_id, state);
  }
}

void ProfileService::on_rating(const std::string& user_id, const Memory& reply, int rating, bool first_rating) {
  if (first_rating && reply.metadata.contains("support") && reply.metadata["support"].is_object()) {
    const auto& s = reply.metadata["support"];
    learn(user_id, s.value("emotion", ""), s.value("strategy", ""), outcome_from_rating(rating),
          learning_rates::kRating, "rating", reply.id);
  }
  std::vector<std::string> ids;
  if (reply.metadata.contains("used_memory_ids") && reply.metadata["used_memory_ids"].is_array())
    for (const auto& id : reply.metadata["used_memory_ids"])
      if (id.is_string()) ids.push_back(id.get<std::string>());
  if (!ids.empty()) add_counts(user_id, memories_.get_many(user_id, ids), 0, 0, 1, rating);
}

void ProfileService::add_counts(const std::string& user_id, const std::vector<Memory>& memories, int searched, int used,
                                int rated, double rating) {
  std::map<std::pair<std::string, std::string>, ImportancePattern> deltas;
  for (const auto& m : memories) {
    if (m.type == memory_types::kChat) continue;  // chat turns are the conversation, not what it is about
    for (const auto& f : memory_features(m)) {
      auto& d = deltas[f];
      d.kind = f.first;
      d.value = f.second;
      d.searched += searched;
      d.used += used;
      d.rated += rated;
      d.rating_sum += rated * rating;
    }
  }
  if (deltas.empty()) return;
  std::vector<ImportancePattern> list;
  for (auto& [k, d] : deltas) list.push_back(d);
  write_counts(user_id, list, rated == 0);
}

void ProfileService::write_counts(const std::string& user_id, const std::vector<ImportancePattern>& deltas,
                                  bool deferrable) {
  if (deltas.empty()) return;
  if (deferrable && deferred_) {
    deferred_->add_counts(user_id, deltas);  // the cached patterns catch up within kImportanceCacheTtl
    return;
  }
  profile_.add_pattern_counts(user_id, deltas);
  importance_cache_.erase(user_id);
}

size_t ProfileService::flush_learning() {
  if (!deferred_ || deferred_->empty()) return 0;
  const size_t written = deferred_->flush(profile_);
  importance_cache_.clear();
  return written;
}

void ProfileService::note_search(const std::string& user_id, const std::string& query,
                                 const std::vector<Memory>& results) {
  std::vector<Memory> top(results.begin(),
                          results.begin() + static_cast<std::ptrdiff_t>(std::min<size_t>(5, results.size())));
  add_counts(user_id, top, 1, 0, 0, 0);
  std::vector<ImportancePattern> words;
  for (const auto& w : topic_words(query)) {
    ImportancePattern p;
    p.kind = "topic";
    p.value = w;
    p.searched = 1;
    words.push_back(p);
  }
  write_counts(user_id, words, true);
}

void ProfileService::note_opened(const std::string& user_id, const Memory& m) { add_counts(user_id, {m}, 0, 1, 0, 0); }

void ProfileService::note_used(const std::string& user_id, const std::vector<std::string>& ids) {
  if (ids.empty()) return;
  add_counts(user_id, memories_.get_many(user_id, ids), 0, 1, 0, 0);
}

const PatternIndex& ProfileService::patterns_of(const std::string& user_id) {
  const auto now = std::chrono::steady_clock::now();
  auto it = importance_cache_.find(user_id);
  if (it == importance_cache_.end() || now - it->second.loaded > kImportanceCacheTtl)
    it = importance_cache_.insert_or_assign(user_id, CachedPatterns{index_patterns(profile_.patterns(user_id)), now})
             .first;
  return it->second.index;
}

ImportancePrediction ProfileService::predict(const std::string& user_id, const Memory& m) {
  return predict_importance(patterns_of(user_id), m);
}

ImportancePrediction ProfileService::apply_prediction(const std::string& user_id, Memory& m) {
  ImportancePrediction p = predict(user_id, m);
  m.importance = p.predicted;
  return p;
}

void ProfileService::record_prediction(const std::string& user_id, const std::string& memory_id,
                                       ImportancePrediction p) {
  p.memory_id = memory_id;
  p.at = clock_.now();
  if (deferred_) {
    deferred_->add_prediction(user_id, std::move(p));
    return;
  }
  profile_.put_prediction(user_id, p);
}

ProfileService::Explanation ProfileService::explain_importance(const std::string& user_id, const Memory& m) {
  flush_learning();  // what was just learned is shown too
  Explanation e;
  if (auto stored = profile_.prediction(user_id, m.id)) {
    e.prediction = *stored;
    e.stored = true;
  } else {
    e.prediction = predict(user_id, m);
  }
  e.lines = explain_prediction(e.prediction);
  return e;
}

nlohmann::json ProfileService::document(const std::string& user_id, int recent) {
  flush_learning();  // what was just learned is shown too
  nlohmann::json doc;
  doc["user"] = user_id;
  const auto readings = profile_.emotions(user_id, std::max(1, recent));
  nlohmann::json list = nlohmann::json::array();
  std::map<std::string, int> counts;
  for (const auto& r : readings) {
    list.push_back(reading_json(r));
    ++counts[r.emotion];
  }
  doc["emotions"] = {{"current", readings.empty() ? nlohmann::json(nullptr) : reading_json(readings.front())},
                     {"recent", list},
                     {"counts", counts}};
  nlohmann::json strategies = nlohmann::json::array();
  for (const auto& w : profile_.strategies(user_id)) {
    nlohmann::json history = nlohmann::json::array();
    auto changes = profile_.strategy_history(user_id, w.strategy, 50);
    std::reverse(changes.begin(), changes.end());
    for (const auto& c : changes)
      if (c.emotion == w.emotion)
        history.push_back({{"at", format_iso8601(c.at)},
                           {"before", c.weight_before},
                           {"after", c.weight_after},
                           {"outcome", c.outcome},
                           {"reason", c.reason},
                           {"message_id", c.message_id}});
    strategies.push_back({{"emotion", w.emotion},
                          {"strategy", w.strategy},
                          {"label", strategy_label(w.strategy)},
                          {"weight", w.weight},
                          {"uses", w.uses},
                          {"successes", w.successes},
                          {"updated_at", format_iso8601(w.updated_at)},
                          {"history", history}});
  }
  doc["strategies"] = strategies;
  auto patterns = profile_.patterns(user_id);
  std::stable_sort(patterns.begin(), patterns.end(), [](const ImportancePattern& a, const ImportancePattern& b) {
    return pattern_affinity(a) > pattern_affinity(b);
  });
  nlohmann::json plist = nlohmann::json::array();
  for (const auto& p : patterns)
    plist.push_back({{"kind", p.kind},
                     {"value", p.value},
                     {"searched", p.searched},
                     {"used", p.used},
                     {"rated", p.rated},
                     {"average_rating", p.rated ? p.rating_sum / static_cast<double>(p.rated) : 0.0},
                     {"affinity", pattern_affinity(p)},
                     {"updated_at", format_iso8601(p.updated_at)}});
  doc["importance_patterns"] = plist;
  if (auto c = profile_.conversation(user_id)) {
    doc["conversation"] = {{"last_message_id", c->last_message_id},
                           {"last_reply_id", c->last_reply_id},
                           {"channel", c->channel},
                           {"turns", c->turns},
                           {"updated_at", format_iso8601(c->updated_at)}};
  } else {
    doc["conversation"] = nullptr;
  }
  nlohmann::json session = {
      {"interventions", interventions_.count(user_id) ? interventions_[user_id] : std::vector<std::string>{}},
      {"emotion_cache_hits", detector_.cache_hits()}};
  if (cache_) {
    const auto s = cache_->stats();
    session["conversation_cache"] = {{"hits", s.hits}, {"misses", s.misses}, {"users", s.users}};
  }
  doc["session"] = session;  // ephemeral: resets with the process
  return doc;
}

void ProfileService::correct_emotion(const std::string& user_id, const std::string& message_id,
                                     const std::string& emotion, double intensity) {
  const auto& names = known_emotions();
  if (std::find(names.begin(), names.end(), emotion) == names.end())
    throw invalid_input("unknown emotion '" + emotion +
                        "' (joy, gratitude, sadness, anger, anxiety, loneliness or neutral)");
  if (!(intensity >= 0 && intensity <= 1)) throw invalid_input("an intensity is a number from 0 to 1");
  auto m = memories_.get(user_id, message_id);
  if (!m) throw not_found("no message with id " + message_id);
  EmotionReading r;
  r.message_id = message_id;
  r.emotion = emotion;
  r.intensity = emotion == "neutral" ? 0 : intensity;
  r.valence = emotion_valence(emotion) * r.intensity;
  r.detector = "user";
  r.at = m->event_time;
  profile_.put_emotion(user_id, r);
}

bool ProfileService::forget_emotion(const std::string& user_id, const std::string& message_id) {
  return profile_.remove_emotion(user_id, message_id);
}

void ProfileService::set_strategy_weight(const std::string& user_id, const std::string& emotion,
                                         const std::string& strategy, double weight) {
  if (!is_support_strategy(strategy))
    throw invalid_input("unknown strategy '" + strategy +
                        "' (listen_reflect, encourage, practical_steps, humour or check_in_later)");
  const auto& names = known_emotions();
  if (std::find(names.begin(), names.end(), emotion) == names.end())
    throw invalid_input("unknown emotion '" + emotion + "'");
  if (!(weight >= 0 && weight <= 1)) throw invalid_input("a weight is a number from 0 to 1");
  const auto learned = learned_for(user_id);
  StrategyWeight w;
  w.emotion = emotion;
  w.strategy = strategy;
  w.weight = prior_weight(emotion, strategy);
  for (const auto& s : learned)
    if (s.emotion == emotion && s.strategy == strategy) w = s;
  StrategyChange c;
  c.emotion = emotion;
  c.strategy = strategy;
  c.weight_before = w.weight;
  c.weight_after = weight;
  c.outcome = weight;
  c.reason = "correction";
  w.weight = weight;
  if (w.uses == 0) w.uses = 1;  // the user's word counts as what was learned
  profile_.put_strategy(user_id, w, c);
}

bool ProfileService::forget_strategy(const std::string& user_id, const std::string& emotion,
                                     const std::string& strategy) {
  return profile_.remove_strategy(user_id, emotion, strategy);
}

void ProfileService::set_pattern(const std::string& user_id, const std::string& kind, const std::string& value,
                                 double affinity) {
  flush_learning();  // a correction or erasure applies to every count gathered so far
  if (kind != "type" && kind != "tag" && kind != "entity" && kind != "topic")
    throw invalid_input("a pattern kind is type, tag, entity or topic");
  if (value.empty()) throw invalid_input("a pattern needs a value");
  if (!(affinity >= -0.95 && affinity <= 0.95)) throw invalid_input("an affinity is a number from -0.95 to 0.95");
  // Counts that give this affinity (pattern_affinity): uses for a positive
  // one, one low rating for a negative one.
  const double signal = 8.0 * std::atanh(affinity);
  ImportancePattern p;
  p.kind = kind;
  p.value = value;
  if (signal >= 0) {
    p.used = static_cast<int64_t>(std::lround(signal));
  } else {
    p.rated = static_cast<int64_t>(std::ceil(-signal / 2.0));
    p.rating_sum = 3.0 * static_cast<double>(p.rated) + signal;
  }
  profile_.put_pattern(user_id, p);
  importance_cache_.erase(user_id);
}

bool ProfileService::forget_pattern(const std::string& user_id, const std::string& kind, const std::string& value) {
  flush_learning();  // a correction or erasure applies to every count gathered so far
  importance_cache_.erase(user_id);
  return profile_.remove_pattern(user_id, kind, value);
}

void ProfileService::erase(const std::string& user_id, const std::string& part) {
  flush_learning();  // a correction or erasure applies to every count gathered so far
  profile_.erase(user_id, part);
  importance_cache_.erase(user_id);
  if (part == "all" || part == "strategies") interventions_.erase(user_id);
  if (part == "all" || part == "conversation")
    if (cache_) cache_->forget(user_id);
}

}  // namespace kioku
