// DecodeText for every type the registry knows (built-in scalars and arrays, plus a domain, an
// enum and an array of each as the catalog would add them), and for an unknown OID.
// Input: one byte choosing the type, then the text PostgreSQL would send.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "source/postgres/pg_types.h"

namespace {

using cdc::pg::PgTypeClass;
using cdc::pg::PgTypeInfo;
using cdc::pg::PgTypeRegistry;

struct Types {
  PgTypeRegistry registry;
  std::vector<uint32_t> oids;

  Types() {
    registry.Add(PgTypeInfo{70000, "positive_int", PgTypeClass::kDomain, 0, 23});
    registry.Add(PgTypeInfo{70001, "_positive_int", PgTypeClass::kArray, 70000, 0});
    registry.Add(PgTypeInfo{70002, "mood", PgTypeClass::kEnum, 0, 0});
    registry.Add(PgTypeInfo{70003, "_mood", PgTypeClass::kArray, 70002, 0});
    registry.Add(PgTypeInfo{70004, "box", PgTypeClass::kOther, 0, 0});
    registry.Add(PgTypeInfo{70005, "_box", PgTypeClass::kArray, 70004, 0, ';'});
    registry.Add(PgTypeInfo{70006, "_nested_domain", PgTypeClass::kDomain, 0, 1009});
    // Every OID the registry holds, found by probing: the built-ins are below 4000.
    for (uint32_t oid = 0; oid < 4000; ++oid) {
      if (registry.Contains(oid)) oids.push_back(oid);
    }
    for (uint32_t oid = 70000; oid <= 70006; ++oid) oids.push_back(oid);
    oids.push_back(99999);  // unknown: decoded as text
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const Types types;
  if (size < 1) return 0;
  uint32_t oid = types.oids[data[0] % types.oids.size()];
  std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  auto value = cdc::pg::DecodeText(oid, text, types.registry);
  (void)value;
  return 0;
}
