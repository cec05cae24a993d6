#include "config/registry.h"
#include "registry/builtin_kinds.h"

namespace cdc {

const Registry& BuiltinRegistry() {
  // Built on first use by explicit calls (no static initializers, which a static library may
  // drop); thread-safe as a function-local static.
  static const Registry* registry = [] {
    auto* r = new Registry();
    RegisterBuiltinKinds(*r);
    return r;
  }();
  return *registry;
}

}  // namespace cdc
