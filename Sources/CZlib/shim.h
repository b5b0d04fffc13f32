// Exposes the system <zlib.h> to Swift; found through pkg-config.
#include <zlib.h>
