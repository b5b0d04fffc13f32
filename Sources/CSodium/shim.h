// Exposes the system <sodium.h> to Swift; found through pkg-config.
#include <sodium.h>
