// The control: the same kind of target, including only what the store layer
// may use, compiles. (So the failures above are the layer rule, nothing else.)
#include "core/error.h"
#include "store/store.h"

int store_layer_ok() { return 0; }
