// graph entities | show | facts | merge | split; maintain --hourly|--daily|--weekly;
// memory why | validate | archive | restore.
#include <cstdio>
#include <memory>
#include <ostream>

#include "app/engine.h"
#include "cli/commands.h"
#include "core/error.h"
#include "lifecycle/entity_resolver.h"
#include "lifecycle/graph_builder.h"
#include "lifecycle/maintenance.h"
#include "lifecycle/promotion.h"

namespace kioku::cli {

namespace {

Entity require_entity(AppContext& ctx, const std::string& name_or_id) {
  if (auto e = ctx.knowledge().get_entity(ctx.user_id(), name_or_id)) {
    if (!e->merged_into.empty())
      if (auto into = ctx.knowledge().get_entity(ctx.user_id(), e->merged_into)) return *into;
    return *e;
  }
  EntityResolver resolver(ctx.knowledge(), ctx.user_id());
  if (auto e = resolver.find(name_or_id)) return *ctx.knowledge().get_entity(ctx.user_id(), e->id);
  throw not_found("no entity named '" + name_or_id + "' (see kioku graph entities)");
}

std::string date_of(TimePoint t) { return format_iso8601(t).substr(0, 10); }

LifecycleRow row_of(AppContext& ctx, const Memory& m) {
  LifecycleRow r;
  r.id = m.id;
  r.type = m.type;
  r.tier = m.tier;
  r.truth_category = m.truth_category;
  r.memory_kind = m.memory_kind;
  r.source = m.source;
  r.approved = m.approved;
  r.confidence = m.confidence;
  r.event_time = m.event_time;
  r.created_at = m.created_at;
  r.updated_at = m.updated_at;
  r.last_accessed = m.last_accessed;
  r.access_count = m.access_count;
  r.lifecycle = ctx.knowledge().lifecycle(m.id);
  return r;
}

nlohmann::json tier_change_json(const TierChange& c) {
  return {{"from", to_string(c.from)}, {"to", to_string(c.to)}, {"rule", c.rule}, {"detail", c.detail},
          {"at", format_iso8601(c.at)}};
}

}  // namespace

nlohmann::json lifecycle_json(AppContext& ctx, const Memory& m) {
  const LifecycleRow row = row_of(ctx, m);
  auto t = [](const std::optional<TimePoint>& p) { return p ? nlohmann::json(format_iso8601(*p)) : nlohmann::json(); };
  nlohmann::json history = nlohmann::json::array();
  for (const auto& c : ctx.knowledge().tier_history(ctx.user_id(), m.id)) history.push_back(tier_change_json(c));
  nlohmann::json j = {{"tier_history", history},
                      {"validated_at", t(row.lifecycle.validated_at)},
                      {"identity_since", t(row.lifecycle.identity_since)},
                      {"cold_since", t(row.lifecycle.cold_since)},
                      {"extracted_at", t(row.lifecycle.extracted_at)},
                      {"merged_into", row.lifecycle.merged_into.empty() ? nlohmann::json() : nlohmann::json(row.lifecycle.merged_into)},
                      {"expires_at", t(expiry_time(row))}};
  const auto next = next_promotion(row, system_time().now());
  j["qualifies_for"] = next ? nlohmann::json(tier_change_json(*next)) : nlohmann::json();
  return j;
}

void register_graph_commands(CLI::App& app, CommandTable& table) {
  auto* graph = app.add_subcommand("graph", "The knowledge graph: entities and facts over time");
  graph->require_subcommand(1);
  {
    auto* cmd = graph->add_subcommand("entities", "List entities, most mentioned first");
    auto kind = std::make_shared<std::string>();
    auto limit = std::make_shared<int>(100);
    cmd->add_option("--kind", *kind, "Only this kind (person, place, organisation, thing, event, topic)");
    cmd->add_option("--limit", *limit, "How many (default 100)")->check(CLI::Range(1, 100000));
    table[cmd] = [kind, limit](AppContext& ctx, CommandIo& io) {
      auto entities = ctx.knowledge().list_entities(ctx.user_id(), *kind, *limit);
      if (io.json) {
        nlohmann::json a = nlohmann::json::array();
        for (const auto& e : entities) a.push_back(to_json(e));
        io.out << a.dump(2) << "\n";
        return 0;
      }
      if (entities.empty()) io.out << "No entities yet (kioku maintain --hourly extracts them from memories).\n";
      for (const auto& e : entities) {
        io.out << e.name << "  [" << e.kind << "]  " << e.mention_count << " mention" << (e.mention_count == 1 ? "" : "s");
        std::string other;
        for (const auto& a : e.aliases)
          if (a != e.name) other += (other.empty() ? "" : ", ") + a;
        if (!other.empty()) io.out << "  aka " << other;
        io.out << "\n";
      }
      return 0;
    };
  }
  {
    auto* cmd = graph->add_subcommand("show", "One entity: names, summary, current facts, mentions");
    auto name = std::make_shared<std::string>();
    cmd->add_option("name", *name, "Entity name, alias or id")->required();
    table[cmd] = [name](AppContext& ctx, CommandIo& io) {
      Entity e = require_entity(ctx, *name);
      FactQuery q;
      q.user_id = ctx.user_id();
      q.entity_id = e.id;
      q.valid_at = system_time().now();
      auto facts = ctx.knowledge().facts(q);
      auto mentions = ctx.knowledge().mentions_of(ctx.user_id(), e.id);
      if (io.json) {
        nlohmann::json j = to_json(e);
        j["facts"] = nlohmann::json::array();
        for (const auto& f : facts) j["facts"].push_back(to_json(f));
        j["memory_ids"] = nlohmann::json::array();
        for (const auto& m : mentions) j["memory_ids"].push_back(m.memory_id);
        io.out << j.dump(2) << "\n";
        return 0;
      }
      io.out << e.name << " [" << e.kind << "]\n";
      if (!e.summary.empty()) io.out << e.summary << "\n";
      io.out << "aliases: ";
      for (size_t i = 0; i < e.aliases.size(); ++i) io.out << (i ? ", " : "") << e.aliases[i];
      io.out << "\nmentioned in " << mentions.size() << " memor" << (mentions.size() == 1 ? "y" : "ies") << "\n";
      if (!facts.empty()) io.out << "facts now:\n";
      for (const auto& f : facts) io.out << "  " << describe_fact(f) << "\n";
      return 0;
    };
  }
  {
    auto* cmd = graph->add_subcommand("facts", "Facts about an entity: true now, at a date, or the whole history");
    auto name = std::make_shared<std::string>();
    auto at = std::make_shared<std::string>();
    auto known_at = std::make_shared<std::string>();
    auto history = std::make_shared<bool>(false);
    cmd->add_option("name", *name, "Entity name, alias or id")->required();
    cmd->add_option("--at", *at, "Facts true at this date (ISO-8601; default: now)");
    cmd->add_option("--known-at", *known_at, "As Kioku knew them at this time (default: now)");
    cmd->add_flag("--history", *history, "Every fact ever recorded, retired ones included");
    table[cmd] = [name, at, known_at, history](AppContext& ctx, CommandIo& io) {
      Entity e = require_entity(ctx, *name);
      FactQuery q;
      q.user_id = ctx.user_id();
      q.entity_id = e.id;
      if (*history) {
        q.include_retired = true;
      } else {
        q.valid_at = at->empty() ? system_time().now() : parse_iso8601_or_throw(*at, "--at");
      }
      if (!known_at->empty()) q.known_at = parse_iso8601_or_throw(*known_at, "--known-at");
      auto facts = ctx.knowledge().facts(q);
      if (io.json) {
        nlohmann::json j = {{"entity", to_json(e)},
                            {"at", q.valid_at ? nlohmann::json(format_iso8601(*q.valid_at)) : nlohmann::json()},
                            {"facts", nlohmann::json::array()}};
        for (const auto& f : facts) j["facts"].push_back(to_json(f));
        io.out << j.dump(2) << "\n";
        return 0;
      }
      if (facts.empty()) io.out << "No facts about " << e.name << (q.valid_at ? " at " + date_of(*q.valid_at) : "") << ".\n";
      for (const auto& f : facts) {
        io.out << describe_fact(f);
        if (f.invalidated_at) io.out << "  [retired " << date_of(*f.invalidated_at) << "]";
        io.out << "  (" << f.extractor << ", recorded " << date_of(f.recorded_at) << ")\n";
      }
      return 0;
    };
  }
  {
    auto* cmd = graph->add_subcommand("merge", "Merge an entity into another (they are the same)");
    auto from = std::make_shared<std::string>();
    auto into = std::make_shared<std::string>();
    cmd->add_option("name", *from, "The entity that goes away (name, alias or id)")->required();
    cmd->add_option("into", *into, "The entity that stays")->required();
    table[cmd] = [from, into](AppContext& ctx, CommandIo& io) {
      Entity a = require_entity(ctx, *from);
      Entity b = require_entity(ctx, *into);
      if (a.id == b.id) throw invalid_input("'" + *from + "' and '" + *into + "' are already one entity");
      ctx.knowledge().merge_entities(ctx.user_id(), a.id, b.id);
      if (io.json) io.out << nlohmann::json{{"merged", a.id}, {"into", b.id}}.dump() << "\n";
      else io.out << "Merged " << a.name << " into " << b.name << "\n";
      return 0;
    };
  }
  {
    auto* cmd = graph->add_subcommand("split", "Split names off an entity into a new one (they are different)");
    auto name = std::make_shared<std::string>();
    auto aliases = std::make_shared<std::vector<std::string>>();
    auto new_name = std::make_shared<std::string>();
    cmd->add_option("name", *name, "The entity to split (name or id)")->required();
    cmd->add_option("--alias", *aliases, "A name that belongs to the new entity (repeatable)")->required();
    cmd->add_option("--name", *new_name, "The new entity's name (default: the first alias)");
    table[cmd] = [name, aliases, new_name](AppContext& ctx, CommandIo& io) {
      Entity e = require_entity(ctx, *name);
      std::vector<std::pair<std::string, std::string>> moved;
      for (const auto& a : *aliases) {
        const std::string norm = normalize_entity_name(a).norm;
        const std::string written = lower_collapsed(a);
        bool known = false;
        for (const auto& have : e.aliases) known = known || lower_collapsed(have) == written || normalize_entity_name(have).norm == norm;
        if (!known) throw invalid_input("'" + a + "' is not a name of " + e.name);
        moved.emplace_back(a, norm);
        if (written != norm) moved.emplace_back(a, written);
      }
      const std::string title = new_name->empty() ? normalize_entity_name(aliases->front()).display : *new_name;
      Entity created = ctx.knowledge().split_entity(ctx.user_id(), e.id, title, moved);
      if (io.json) io.out << to_json(created).dump(2) << "\n";
      else io.out << "Split " << created.name << " off " << e.name << " (" << created.id << ")\n";
      return 0;
    };
  }
  {
    auto* cmd = app.add_subcommand("maintain", "Run scheduled upkeep now: extraction, merges, promotion, review");
    auto hourly = std::make_shared<bool>(false);
    auto daily = std::make_shared<bool>(false);
    auto weekly = std::make_shared<bool>(false);
    cmd->add_flag("--hourly", *hourly, "Extract entities and facts from new memories");
    cmd->add_flag("--daily", *daily, "Hourly work, then merge duplicates, confidence, expiry, promotion, summaries");
    cmd->add_flag("--weekly", *weekly, "Weekly review digest and cold storage of memories older than 90 days");
    table[cmd] = [hourly, daily, weekly](AppContext& ctx, CommandIo& io) {
      std::vector<Period> periods;
      if (*hourly) periods.push_back(Period::kHourly);
      if (*daily) periods.push_back(Period::kDaily);
      if (*weekly) periods.push_back(Period::kWeekly);
      if (periods.empty()) throw invalid_input("say which: kioku maintain --hourly, --daily or --weekly");
      ctx.ensure_initialized();
      if (!ctx.embedder_notice().empty()) io.err << "kioku: " << ctx.embedder_notice() << "\n";
      nlohmann::json reports = nlohmann::json::array();
      bool failed = false;
      for (Period p : periods) {
        MaintenanceReport r = maintain(ctx, p, ctx.user_id());
        failed = failed || !r.errors.empty();
        if (io.json) {
          reports.push_back(r.to_json());
          continue;
        }
        io.out << to_string(p) << " maintenance: " << r.memories_extracted << " memories extracted, "
               << r.entities_created << " entities and " << r.facts_recorded << " facts recorded, " << r.facts_closed
               << " facts closed, " << r.contradictions << " contradictions";
        if (p == Period::kDaily)
          io.out << "; " << r.duplicates_merged << " duplicates merged, " << r.promoted() << " promoted, " << r.expired
                 << " expired, " << r.sessions_summarised << " sessions summarised";
        if (p == Period::kWeekly) io.out << "; " << r.reviews.size() << " review written, " << r.memories_cold << " to cold storage";
        io.out << " (" << std::chrono::duration<double>(r.finished_at - r.started_at).count() << " s)\n";
        for (const auto& [rule, n] : r.promotions) io.out << "  " << rule << ": " << n << "\n";
        for (const auto& n : r.notes) io.out << "  note: " << n << "\n";
        for (const auto& e : r.errors) io.err << "kioku: " << e << "\n";
      }
      if (io.json) io.out << (reports.size() == 1 ? reports[0] : reports).dump(2) << "\n";
      return failed ? exit_code(ErrorCode::kIo) : 0;
    };
  }

  auto* memory = app.add_subcommand("memory", "A memory's lifecycle: why its tier, validate, archive, restore");
  memory->require_subcommand(1);
  {
    auto* cmd = memory->add_subcommand("why", "Why a memory has its tier and confidence");
    auto id = std::make_shared<std::string>();
    cmd->add_option("id", *id, "Memory id")->required();
    table[cmd] = [id](AppContext& ctx, CommandIo& io) {
      auto m = ctx.memories().get(ctx.user_id(), *id);
      if (!m) throw not_found("no memory with id " + *id);
      nlohmann::json life = lifecycle_json(ctx, *m);
      // Importance: what the user's patterns predicted for it (src/profile).
      const auto why = ctx.profile().explain_importance(ctx.user_id(), *m);
      nlohmann::json importance = {{"importance", m->importance},
                                   {"base", why.prediction.base},
                                   {"predicted", why.prediction.predicted},
                                   {"predicted_when_added", why.stored},
                                   {"factors", nlohmann::json::parse(why.prediction.factors_json, nullptr, false)}};
      if (io.json) {
        io.out << nlohmann::json{{"id", m->id}, {"tier", to_string(m->tier)}, {"confidence", to_json(*m)["confidence"]},
                                 {"lifecycle", life}, {"importance", importance}}
                      .dump(2)
               << "\n";
        return 0;
      }
      const Confidence& c = m->confidence;
      io.out << "tier: " << to_string(m->tier) << "   truth: " << to_string(m->truth_category)
             << "   type: " << to_string(m->memory_kind) << "\n";
      io.out << "confidence " << c.overall << " from source reliability " << c.source_reliability << " ("
             << to_string(m->source) << "), recency " << c.recency << ", corroborated " << c.corroboration_count
             << "x, contradicted " << c.contradiction_count << "x\n";
      if (life["tier_history"].empty()) io.out << "no tier changes yet\n";
      for (const auto& h : life["tier_history"])
        io.out << h["at"].get<std::string>().substr(0, 10) << "  " << h["from"].get<std::string>() << " -> "
               << h["to"].get<std::string>() << "  by " << h["rule"].get<std::string>() << "  " << h["detail"].dump()
               << "\n";
      if (!life["qualifies_for"].is_null())
        io.out << "qualifies now for " << life["qualifies_for"]["to"].get<std::string>() << " by "
               << life["qualifies_for"]["rule"].get<std::string>() << " (next kioku maintain --daily)\n";
      if (!life["expires_at"].is_null())
        io.out << "an unconfirmed inference: expires to the archive at " << life["expires_at"].get<std::string>() << "\n";
      if (!life["merged_into"].is_null()) io.out << "merged into " << life["merged_into"].get<std::string>() << "\n";
      if (!life["cold_since"].is_null()) io.out << "in cold storage since " << life["cold_since"].get<std::string>() << "\n";
      char imp[96];
      std::snprintf(imp, sizeof imp, "importance %.2f: %s %.2f from base %.2f", m->importance,
                    why.stored ? "predicted when added as" : "your patterns would predict", why.prediction.predicted,
                    why.prediction.base);
      io.out << imp << (why.lines.empty() ? " (no learned pattern matches it)" : ", because") << "\n";
      for (const auto& line : why.lines) io.out << "  " << line << "\n";
      return 0;
    };
  }
  {
    auto* cmd = memory->add_subcommand("validate", "Confirm a memory is right (seed 001: promotes it to long-term)");
    auto id = std::make_shared<std::string>();
    cmd->add_option("id", *id, "Memory id")->required();
    table[cmd] = [id](AppContext& ctx, CommandIo& io) {
      auto m = ctx.memories().get(ctx.user_id(), *id);
      if (!m) throw not_found("no memory with id " + *id);
      const TimePoint now = system_time().now();
      ctx.knowledge().mark_validated(ctx.user_id(), m->id, now);
      if (!m->approved) {
        m->approved = true;  // a validated suggestion is an accepted one
        ctx.memories().update(*m);
      }
      LifecycleRow row = row_of(ctx, *ctx.memories().get(ctx.user_id(), m->id));
      row.confidence = recompute_confidence(row, now);
      ctx.knowledge().set_confidence(ctx.user_id(), m->id, row.confidence);
      std::string rule;
      for (int climb = 0; climb < 2; ++climb) {
        auto change = next_promotion(row, now);
        if (!change) break;
        ctx.knowledge().change_tier(ctx.user_id(), *change);
        rule = change->rule;
        row.tier = change->to;
      }
      if (io.json) io.out << nlohmann::json{{"id", m->id}, {"tier", to_string(row.tier)}, {"rule", rule}}.dump() << "\n";
      else io.out << "Validated " << m->id << ": now " << to_string(row.tier) << (rule.empty() ? "" : " (" + rule + ")") << "\n";
      return 0;
    };
  }
  {
    auto* cmd = memory->add_subcommand("archive", "Expired unconfirmed inferences (restore them with kioku memory restore)");
    auto limit = std::make_shared<int>(50);
    cmd->add_option("--limit", *limit, "How many (default 50)")->check(CLI::Range(1, 100000));
    table[cmd] = [limit](AppContext& ctx, CommandIo& io) {
      auto archived = ctx.knowledge().list_archive(ctx.user_id(), *limit);
      if (io.json) {
        nlohmann::json a = nlohmann::json::array();
        for (const auto& x : archived)
          a.push_back({{"id", x.memory_id}, {"reason", x.reason}, {"archived_at", format_iso8601(x.archived_at)},
                       {"memory", to_json(x.memory)}});
        io.out << a.dump(2) << "\n";
        return 0;
      }
      if (archived.empty()) io.out << "The archive is empty.\n";
      for (const auto& x : archived)
        io.out << x.memory_id << "  " << date_of(x.archived_at) << "  " << x.memory.content.substr(0, 80) << "\n";
      return 0;
    };
  }
  {
    auto* cmd = memory->add_subcommand("restore", "Bring an archived memory back (as validated)");
    auto id = std::make_shared<std::string>();
    cmd->add_option("id", *id, "Memory id")->required();
    table[cmd] = [id](AppContext& ctx, CommandIo& io) {
      auto archived = ctx.knowledge().get_archived(ctx.user_id(), *id);
      if (!archived) throw not_found("no archived memory with id " + *id);
      Memory m = archived->memory;
      std::vector<Relation> relations = std::move(m.relations);
      m.relations.clear();
      m.approved = true;  // the user asked for it back: it is theirs now
      AddOutcome added = ctx.memories().add(m);
      for (const auto& r : relations) {
        try {
          ctx.memories().add_relation(ctx.user_id(), added.id, r);
        } catch (const Error&) {
          // the other memory is gone: the link cannot come back
        }
      }
      ctx.knowledge().mark_validated(ctx.user_id(), added.id, system_time().now());
      ctx.knowledge().drop_archived(ctx.user_id(), *id);
      if (io.json) io.out << nlohmann::json{{"id", added.id}, {"restored", true}}.dump() << "\n";
      else io.out << "Restored " << added.id << "\n";
      return 0;
    };
  }
}

}  // namespace kioku::cli
