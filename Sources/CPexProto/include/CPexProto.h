// Umbrella header for the protobuf-c code generated from proto/ by `make proto`.
#ifndef CPEXPROTO_H
#define CPEXPROTO_H
#include "pex/v1/record.pb-c.h"
#include "pex/v1/frame.pb-c.h"
#include "pex/v1/admin.pb-c.h"
#endif
