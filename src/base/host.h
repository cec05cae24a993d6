// This machine and this process, as leases and logs name them.
#pragma once

#include <string>

namespace cdc {

// gethostname(), or "unknown".
std::string HostName();

// "pid N on host H": how a lease (a state store's, a shard's) names the process holding it.
std::string ProcessOwner();

}  // namespace cdc
