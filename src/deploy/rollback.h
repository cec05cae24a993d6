// `cdc-pipeline rollback --env E --version V`: points the alias E of every function the config
// deploys at another published version, through the Lambda API (REST-JSON, SigV4-signed by
// aws::JsonClient::Rest). V is `previous` (the highest version below the alias's current one), a
// version number (`7`), or a release (`v1.2.3`: the version whose description is that release,
// which the template's ReleaseVersion parameter writes).
//
// Every function is resolved before any alias moves, so a version missing for one function
// moves none. Each move carries the alias's RevisionId: a concurrent deploy makes it fail
// instead of being overwritten.
//
// Thread-safety: one call at a time per client.
#pragma once

#include <string>
#include <vector>

#include "aws/client.h"
#include "base/status.h"

namespace cdc::deploy {

struct AliasMove {
  std::string function;
  std::string alias;
  std::string from;         // the version the alias points at now
  std::string to;           // the version it will point at
  std::string revision_id;  // the alias's RevisionId when it was read
  std::string release;      // the description of `to` (e.g. v1.2.3), may be empty

  bool noop() const { return from == to; }
};

// Reads each function's alias and versions; the moves, or the first error (NotFound for a
// missing function, alias or version; FailedPrecondition when there is no previous version).
Result<std::vector<AliasMove>> PlanRollback(aws::JsonClient& lambda,
                                            const std::vector<std::string>& functions,
                                            const std::string& alias, const std::string& version);

// Applies the moves (UpdateAlias), skipping those already in place; stops at the first error.
Status ApplyRollback(aws::JsonClient& lambda, const std::vector<AliasMove>& moves);

// The AWS CLI command that makes `move` (what --dry-run prints).
std::string UpdateAliasCommand(const AliasMove& move);

}  // namespace cdc::deploy
