#include "base/host.h"

#include <unistd.h>

namespace cdc {

std::string HostName() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof(buf) - 1) != 0) return "unknown";
  return buf;
}

std::string ProcessOwner() {
  return "pid " + std::to_string(::getpid()) + " on host " + HostName();
}

}  // namespace cdc
