// Entity resolution: one entity for "Hana", "my sister Hana", "Hana-chan"
// and "Hana Tanaka".
//
// A surface form is normalised (lower case, relation phrases such as "my
// sister" and honorifics such as "-chan"/"-san" removed, possessive "'s"
// dropped); an entity matches when one of its aliases has the same normal
// form. A person named by first name alone matches the one person whose
// full name starts with it (and the reverse), but only when exactly one
// does: two Hanas stay apart until the user merges them. Whatever resolves
// adds the new surface as an alias, so the next match is exact.
// Thread safety: one resolver per thread; it caches the user's aliases and
// must be reset() when a transaction that used it rolled back.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/knowledge.h"

namespace kioku {

struct NormalizedName {
  std::string norm;      // the matching key ("hana")
  std::string display;   // the name as written without relation or honorific ("Hana")
  std::string relation;  // "sister" from "my sister Hana", else ""
};

NormalizedName normalize_entity_name(std::string_view surface);
// Lower-cased, whitespace-collapsed text (the alias form of a surface as written).
std::string lower_collapsed(std::string_view text);

// The entity standing for the user ("I", "me", "my").
inline constexpr std::string_view kSelfEntityName = "me";

class EntityResolver {
 public:
  EntityResolver(KnowledgeStore& store, std::string user_id);

  // The entity a surface form names, created (kind, confidence) when none
  // matches. nullopt for a surface that normalises to nothing.
  std::optional<Entity> resolve(std::string_view surface, std::string_view kind, double confidence,
                                bool* created = nullptr);
  // Looks up without creating.
  std::optional<Entity> find(std::string_view surface);
  // The user's own entity (created on first use).
  Entity self();
  // Adds surface (and its normal form) as an alias of entity_id.
  void alias(const std::string& entity_id, std::string_view surface);
  // Forgets cached aliases (after a rolled-back transaction or a merge).
  void reset();

 private:
  void load();
  std::optional<std::string> match(const NormalizedName& n, std::string_view kind);
  void remember(const std::string& entity_id, const std::string& alias, const std::string& norm);

  KnowledgeStore& store_;
  std::string user_id_;
  bool loaded_ = false;
  std::multimap<std::string, std::string> by_norm_;  // norm -> entity id
  std::map<std::string, Entity> entities_;           // by id
};

}  // namespace kioku
