// Exposes the system <sqlite3.h> to Swift; found through pkg-config.
#include <sqlite3.h>
