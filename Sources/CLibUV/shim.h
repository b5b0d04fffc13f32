// Exposes the system <uv.h> to Swift; found through pkg-config.
#include <uv.h>
