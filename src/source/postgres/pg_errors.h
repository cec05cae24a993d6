// libpq's error texts as Statuses: scrubbed of passwords (base/scrub.h) and, for connections that
// could not be opened, classified into what retrying can fix and what it cannot.
//
// Permanent (not retried; the source stops and `run` exits 1 naming the cause and the fix):
//   FailedPrecondition: a rejected password or none given, a role that may not log in, a
//     pg_hba.conf line that rejects the connection or no line that admits it, a server TLS
//     certificate that fails verification (unknown CA, host name mismatch, no root certificate
//     for sslmode=verify-ca/verify-full), TLS required by sslmode but off on the server, a client
//     certificate or key that cannot be loaded, a role without the REPLICATION privilege;
//   NotFound: a database or role that does not exist;
//   InvalidArgument: a connection string libpq cannot parse or an option value it rejects.
// Transient (Unavailable, retried with backoff by the source): everything else, e.g. refused or
// reset connections, timeouts, a server starting up or shutting down, too many connections, a
// host name that does not resolve (DNS may come back).
//
// Thread-safety: stateless functions.
#pragma once

#include <string>
#include <string_view>

#include "base/status.h"

namespace cdc::pg {

// libpq's last error on `conn` (a PGconn*; "" for null), trailing newlines removed, scrubbed.
std::string LibpqErrorText(const void* conn);

// The Status for a connection that failed to open, from libpq's message (scrubbed here too).
Status ConnectError(std::string_view libpq_message);

// The Status for a connection string libpq could not parse, from its parse error.
Status ConnectionStringError(std::string_view libpq_message);

}  // namespace cdc::pg
