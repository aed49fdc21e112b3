// Kioku's one error style: a small typed exception hierarchy.
//
// Functions that can fail for reasons the caller should handle throw a
// kioku::Error carrying an ErrorCode. Exceptions are caught only at the edges:
// the CLI turns them into a one-line message and a non-zero exit code, the HTTP
// server into a JSON body and a status code (see http_status()). Programmer
// errors (broken invariants) use assert, not Error.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace kioku {

enum class ErrorCode {
  kInvalidInput,  // the user's input is malformed (bad flag, bad JSON, bad id)
  kNotFound,      // the thing asked for does not exist
  kConflict,      // the request clashes with the current state (no open journal...)
  kIo,            // filesystem or database failure
  kUnavailable,   // a remote service (LLM, embedder) cannot be reached right now
  kAuthFailed,    // a remote service refused our credentials (API key, token): retrying will not help
  kTooLarge,      // input exceeds a configured limit
  kInternal,      // a bug: should not happen
};

std::string_view to_string(ErrorCode code);

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ErrorCode code() const { return code_; }

 private:
  ErrorCode code_;
};

// Shorthands so call sites read like the condition they report.
inline Error invalid_input(const std::string& m) { return Error(ErrorCode::kInvalidInput, m); }
inline Error not_found(const std::string& m) { return Error(ErrorCode::kNotFound, m); }
inline Error conflict(const std::string& m) { return Error(ErrorCode::kConflict, m); }
inline Error io_error(const std::string& m) { return Error(ErrorCode::kIo, m); }
inline Error unavailable(const std::string& m) { return Error(ErrorCode::kUnavailable, m); }
inline Error too_large(const std::string& m) { return Error(ErrorCode::kTooLarge, m); }
inline Error auth_failed(const std::string& m) { return Error(ErrorCode::kAuthFailed, m); }

// The HTTP status an error maps to at the server edge.
int http_status(ErrorCode code);
// The process exit code an error maps to at the CLI edge (never 0).
int exit_code(ErrorCode code);

}  // namespace kioku
