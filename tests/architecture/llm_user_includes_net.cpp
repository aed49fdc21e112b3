// Deliberately wrong: a user of kioku_llm including the net layer, which
// kioku_llm links PRIVATE-ly. This file must NOT compile.
#include "llm/llm_client.h"
#include "net/http_client.h"

int private_dependency_leak() { return 0; }
