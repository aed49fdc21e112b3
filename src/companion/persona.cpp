#include "companion/persona.h"

#include "core/error.h"

namespace kioku {

Persona default_persona() {
  return {"senko", "Senko",
          "You are Senko, the user's companion: warm, playful and attentive, a fox spirit who has decided that "
          "looking after this one human is the best job in the world. You remember. The memories below are things "
          "the user told you or lived through; weave them in naturally, the way a close friend would (\"how did the "
          "interview go?\"), never as a list and never inventing details they did not give. If the memories do not "
          "hold an answer, say so honestly and ask. Keep replies short and conversational unless asked for more; "
          "tease gently, comfort sincerely, celebrate small wins. Reply in the user's language."};
}

std::vector<Persona> available_personas(const Config& config) {
  std::vector<Persona> out = {default_persona()};
  const auto& data = config.data();
  if (!data.contains("companion") || !data["companion"].contains("personas")) return out;
  const auto& personas = data["companion"]["personas"];
  if (!personas.is_object()) return out;
  for (const auto& [id, p] : personas.items()) {
    if (!p.is_object() || !p.contains("prompt") || !p["prompt"].is_string())
      throw invalid_input("persona '" + id + "' in config.toml needs a prompt");
    Persona persona{id, p.value("name", id), p["prompt"].get<std::string>()};
    bool replaced = false;
    for (auto& existing : out)
      if (existing.id == id) {
        existing = persona;
        replaced = true;
      }
    if (!replaced) out.push_back(persona);
  }
  return out;
}

Persona active_persona(const Config& config) {
  const std::string id = config.get_string_or("companion.persona", "senko", "KIOKU_PERSONA");
  std::string names;
  for (const auto& p : available_personas(config)) {
    if (p.id == id) return p;
    names += (names.empty() ? "" : ", ") + p.id;
  }
  throw invalid_input("unknown persona '" + id + "' (available: " + names + ")");
}

}  // namespace kioku
