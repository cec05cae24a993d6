// `cdc-pipeline verify-data`: a read-only check of the data dir. Reads every stream segment and
// the state store, checks checksums, offsets, cursors and the agreement of the state store, the
// stream and the consumer files, and prints each problem with its remedy. Changes nothing.
#pragma once

#include "config/config.h"

namespace cdc {

// Prints the report; returns 0 when the data dir is clean (notes only), 1 when a problem was
// found or the check could not be done.
int VerifyDataCommand(const Config& config);

}  // namespace cdc
