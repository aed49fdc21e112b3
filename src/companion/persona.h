// Personas: who the companion is. The default is Senko; config.toml can
// change her words or add others:
//   [companion]
//   persona = "senko"
//   [companion.personas.sage]
//   name = "Sage"
//   prompt = "You are Sage, ..."
#pragma once

#include <string>
#include <vector>

#include "core/config.h"

namespace kioku {

struct Persona {
  std::string id;    // "senko"
  std::string name;  // "Senko"
  std::string prompt;
};

Persona default_persona();
std::vector<Persona> available_personas(const Config& config);
// The persona named in [companion] persona (or KIOKU_PERSONA); throws
// invalid_input naming the available ones when it does not exist.
Persona active_persona(const Config& config);

}  // namespace kioku
