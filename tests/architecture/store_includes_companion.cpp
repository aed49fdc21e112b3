// Deliberately wrong: the store layer reaching up into the companion. This
// file must NOT compile (tests/architecture/CMakeLists.txt).
#include "companion/companion_service.h"

int store_layer_violation() { return 0; }
