#include "aion/core/error.h"

#include <cerrno>
#include <cstring>

namespace aion {

std::string_view to_string(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument: return "invalid_argument";
    case ErrorCode::kNotFound: return "not_found";
    case ErrorCode::kAlreadyExists: return "already_exists";
    case ErrorCode::kPermissionDenied: return "permission_denied";
    case ErrorCode::kUnauthenticated: return "unauthenticated";
    case ErrorCode::kUnavailable: return "unavailable";
    case ErrorCode::kIo: return "io";
    case ErrorCode::kParse: return "parse";
    case ErrorCode::kConfig: return "config";
    case ErrorCode::kCorrupt: return "corrupt";
    case ErrorCode::kTimeout: return "timeout";
    case ErrorCode::kConflict: return "conflict";
    case ErrorCode::kResourceExhausted: return "resource_exhausted";
    case ErrorCode::kUnsupported: return "unsupported";
    case ErrorCode::kInternal: return "internal";
  }
  return "internal";
}

Error& Error::context(std::string_view what) {
  message_ = std::string(what) + ": " + message_;
  return *this;
}

Error errno_error(int err, std::string_view what) {
  ErrorCode code = ErrorCode::kIo;
  switch (err) {
    case ENOENT:
    case ENOTDIR: code = ErrorCode::kNotFound; break;
    case EACCES:
    case EPERM:
    case EROFS: code = ErrorCode::kPermissionDenied; break;
    case EEXIST: code = ErrorCode::kAlreadyExists; break;
    case ENOSPC:
    case EDQUOT:
    case EMFILE:
    case ENFILE:
    case ENOMEM: code = ErrorCode::kResourceExhausted; break;
    case ETIMEDOUT: code = ErrorCode::kTimeout; break;
    case EINVAL: code = ErrorCode::kInvalidArgument; break;
    case ECONNREFUSED:
    case ENODEV:
    case ENXIO: code = ErrorCode::kUnavailable; break;
    case EWOULDBLOCK: code = ErrorCode::kConflict; break;
    default: break;
  }
  return Error(code, std::string(what) + ": " + std::strerror(err));
}

}  // namespace aion
