// Status and Result<T>: how every library function reports failure.
//
// Library code never throws across its API; errors from the disk, the network, PostgreSQL or a
// parser are values. A code says what the caller should do next (after absl's canonical codes):
//   kUnavailable        retry the same call later (connection dropped, target down)
//   kAborted            retry at a higher level (transaction conflict, lease lost)
//   kFailedPrecondition fix the state first (wal_level, missing privilege)
//   kInvalidArgument    the input is bad; retrying will not help (malformed event, bad config)
// A separate data-loss flag marks errors where data may already be lost (after rocksdb IOStatus).
//
// Thread-safety: values; safe to copy and move between threads.
#pragma once

#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace cdc {

enum class StatusCode : int {
  kOk = 0,
  kInvalidArgument,
  kNotFound,
  kAlreadyExists,
  kFailedPrecondition,
  kUnavailable,
  kAborted,
  kResourceExhausted,
  kIoError,
  kCorruption,
  kUnimplemented,
  kInternal,
};

std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  bool data_loss() const { return data_loss_; }
  Status& set_data_loss(bool v = true) {
    data_loss_ = v;
    return *this;
  }
  // A FailedPrecondition because another process holds what was to be opened (a state store's
  // lease or lock): opening again once it let go succeeds.
  bool in_use() const { return in_use_; }
  Status& set_in_use(bool v = true) {
    in_use_ = v;
    return *this;
  }
  // Whether retrying the same operation may succeed.
  bool retryable() const { return code_ == StatusCode::kUnavailable; }

  // Returns a copy whose message is "<context>: <message>".
  Status WithContext(std::string_view context) const;

  // "InvalidArgument: <message>", or "OK".
  std::string ToString() const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
  bool data_loss_ = false;
  bool in_use_ = false;
};

inline Status InvalidArgument(std::string m) {
  return {StatusCode::kInvalidArgument, std::move(m)};
}
inline Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
inline Status AlreadyExists(std::string m) { return {StatusCode::kAlreadyExists, std::move(m)}; }
inline Status FailedPrecondition(std::string m) {
  return {StatusCode::kFailedPrecondition, std::move(m)};
}
inline Status Unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
inline Status Aborted(std::string m) { return {StatusCode::kAborted, std::move(m)}; }
inline Status ResourceExhausted(std::string m) {
  return {StatusCode::kResourceExhausted, std::move(m)};
}
inline Status IoError(std::string m) { return {StatusCode::kIoError, std::move(m)}; }
inline Status Corruption(std::string m) { return {StatusCode::kCorruption, std::move(m)}; }
inline Status Unimplemented(std::string m) { return {StatusCode::kUnimplemented, std::move(m)}; }
inline Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

// "<what>: <strerror(err)>" as an IoError.
Status ErrnoError(std::string_view what, int err);

// Result<T> holds either a value or a non-OK Status (after absl::StatusOr).
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T&& value) : value_(std::move(value)) {}       // NOLINT: implicit by design
  Result(const T& value) : value_(value) {}             // NOLINT
  Result(Status status) : status_(std::move(status)) {  // NOLINT
    if (status_.ok()) status_ = Internal("Result constructed from an OK status without a value");
  }

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }

  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() & { return *value_; }
  const T& operator*() const& { return *value_; }

 private:
  Status status_;
  std::optional<T> value_;
};

}  // namespace cdc

#define CDC_INTERNAL_CONCAT2(a, b) a##b
#define CDC_INTERNAL_CONCAT(a, b) CDC_INTERNAL_CONCAT2(a, b)

// Returns from the enclosing function if `expr` (a Status) is not OK.
#define CDC_RETURN_IF_ERROR(expr)              \
  do {                                         \
    ::cdc::Status cdc_status_ = (expr);        \
    if (!cdc_status_.ok()) return cdc_status_; \
  } while (0)

// `CDC_ASSIGN_OR_RETURN(auto x, MakeX());` declares x from a Result or returns its status.
#define CDC_ASSIGN_OR_RETURN(lhs, expr) \
  CDC_INTERNAL_ASSIGN_OR_RETURN(CDC_INTERNAL_CONCAT(cdc_result_, __LINE__), lhs, expr)
#define CDC_INTERNAL_ASSIGN_OR_RETURN(tmp, lhs, expr) \
  auto tmp = (expr);                                  \
  if (!tmp.ok()) return tmp.status();                 \
  lhs = std::move(tmp).value()

// A broken invariant is a bug: report it and abort (Envoy's RELEASE_ASSERT).
#define CDC_ASSERT(cond, msg)                                                   \
  do {                                                                          \
    if (!(cond)) ::cdc::internal::AssertFailed(#cond, msg, __FILE__, __LINE__); \
  } while (0)

namespace cdc::internal {
[[noreturn]] void AssertFailed(const char* cond, std::string_view msg, const char* file, int line);
}
