#include "core/error.h"

namespace kioku {

std::string_view to_string(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidInput: return "invalid_input";
    case ErrorCode::kNotFound: return "not_found";
    case ErrorCode::kConflict: return "conflict";
    case ErrorCode::kIo: return "io_error";
    case ErrorCode::kUnavailable: return "unavailable";
    case ErrorCode::kAuthFailed: return "auth_failed";
    case ErrorCode::kTooLarge: return "too_large";
    case ErrorCode::kInternal: return "internal";
  }
  return "internal";
}

int http_status(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidInput: return 400;
    case ErrorCode::kNotFound: return 404;
    case ErrorCode::kConflict: return 409;
    case ErrorCode::kTooLarge: return 413;
    case ErrorCode::kUnavailable: return 503;
    // Kioku's own caller is fine; the service behind it refused Kioku's key.
    case ErrorCode::kAuthFailed: return 502;
    case ErrorCode::kIo:
    case ErrorCode::kInternal: return 500;
  }
  return 500;
}

int exit_code(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidInput: return 2;
    case ErrorCode::kNotFound: return 3;
    case ErrorCode::kConflict: return 4;
    case ErrorCode::kUnavailable: return 5;
    case ErrorCode::kTooLarge: return 6;
    case ErrorCode::kIo: return 7;
    case ErrorCode::kAuthFailed: return 8;
    case ErrorCode::kInternal: return 70;
  }
  return 1;
}

}  // namespace kioku
