#include "base/status.h"

#include <cstdio>
#include <cstring>

namespace cdc {

std::string_view StatusCodeName(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return "OK";
    case StatusCode::kInvalidArgument:
      return "InvalidArgument";
    case StatusCode::kNotFound:
      return "NotFound";
    case StatusCode::kAlreadyExists:
      return "AlreadyExists";
    case StatusCode::kFailedPrecondition:
      return "FailedPrecondition";
    case StatusCode::kUnavailable:
      return "Unavailable";
    case StatusCode::kAborted:
      return "Aborted";
    case StatusCode::kResourceExhausted:
      return "ResourceExhausted";
    case StatusCode::kIoError:
      return "IoError";
    case StatusCode::kCorruption:
      return "Corruption";
    case StatusCode::kUnimplemented:
      return "Unimplemented";
    case StatusCode::kInternal:
      return "Internal";
  }
  return "Unknown";
}

Status Status::WithContext(std::string_view context) const {
  if (ok()) return *this;
  Status s(code_, std::string(context) + ": " + message_);
  s.data_loss_ = data_loss_;
  s.in_use_ = in_use_;
  return s;
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  std::string out(StatusCodeName(code_));
  out += ": ";
  out += message_;
  if (data_loss_) out += " (data may have been lost)";
  return out;
}

Status ErrnoError(std::string_view what, int err) {
  return IoError(std::string(what) + ": " + std::strerror(err));
}

namespace internal {
void AssertFailed(const char* cond, std::string_view msg, const char* file, int line) {
  std::fprintf(stderr, "cdc-pipeline: internal error at %s:%d: assertion '%s' failed: %.*s\n", file,
               line, cond, static_cast<int>(msg.size()), msg.data());
  std::abort();
}
}  // namespace internal

}  // namespace cdc
