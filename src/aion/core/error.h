// aion::Error and Result<T>: how failures cross module boundaries.
//
// Every fallible function returns Result<T> (std::expected<T, Error>) or Status. An Error
// carries a machine-readable code, a message a user can act on (what failed, on what input,
// what to do) and an optional chain of context added by callers ("loading config: ...").
// No exception leaves a module. Error is a value type; it is not thread-safe to mutate one
// object from several threads, but copies are independent.
#pragma once

#include <expected>
#include <string>
#include <string_view>

namespace aion {

enum class ErrorCode {
  kInvalidArgument,  // the caller's input is wrong (bad flag, malformed request)
  kNotFound,         // a file, device, job or route that does not exist
  kAlreadyExists,
  kPermissionDenied,  // the caller is known but not allowed (HTTP 403)
  kUnauthenticated,   // the caller could not be identified (HTTP 401)
  kUnavailable,       // a peer or service is not reachable (daemon down, device gone)
  kIo,                // an operating-system call failed
  kParse,             // a file or payload could not be parsed
  kConfig,            // configuration is invalid
  kCorrupt,           // stored data failed an integrity check
  kTimeout,
  kConflict,           // state forbids the operation (lock held, job already finished)
  kResourceExhausted,  // a limit was hit (body too large, disk full, queue full)
  kUnsupported,        // not possible on this machine or build
  kInternal,           // a bug: an invariant did not hold
};

// Stable lowercase name ("not_found"), used in JSON error envelopes and logs.
std::string_view to_string(ErrorCode code);

class Error {
 public:
  Error(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}

  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // Prepends what the caller was doing: Error(..., "no such file").context("loading x")
  // reads "loading x: no such file".
  Error& context(std::string_view what);

 private:
  ErrorCode code_;
  std::string message_;
};

// std::expected<T, Error> that may not be dropped: a call whose result is ignored does not
// compile (-Werror). Everything std::expected offers works on it (`return value;`,
// `return fail(...)`, `*r`, `r->`, `r.error()`, `value_or`), and it converts from and to
// std::expected<T, Error>.
template <class T>
class [[nodiscard]] Result : public std::expected<T, Error> {
 public:
  using Base = std::expected<T, Error>;
  using Base::Base;
  using Base::operator=;
  constexpr Result() = default;
  constexpr Result(const Base& r) : Base(r) {}
  constexpr Result(Base&& r) : Base(std::move(r)) {}
};
using Status = Result<void>;

// Drops a result on purpose, where no caller could do anything with a failure; `why` says
// why (it documents the call site, nothing is logged). Every other result is handled,
// passed on, or logged.
template <class T>
constexpr void ignore(const Result<T>& /*result*/, std::string_view /*why*/) {}

// Shorthand for `return std::unexpected(Error(code, msg));`.
inline std::unexpected<Error> fail(ErrorCode code, std::string message) {
  return std::unexpected(Error(code, std::move(message)));
}

// An Error for a failed system call: "<what>: <strerror(err)>", code derived from errno
// (ENOENT -> kNotFound, EACCES/EPERM -> kPermissionDenied, ENOSPC -> kResourceExhausted ...).
Error errno_error(int err, std::string_view what);

}  // namespace aion
