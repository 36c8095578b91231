// Sorting errno into what a server expects and what it does not.
//
// Every loop saves errno right after the failing call and asks classify_errno()
// what to do: retry, wait for readiness, drop just this connection, back off,
// or log and count as unexpected. No class ever means "abort the process".
#pragma once
#include <string>

namespace iomodels {

enum class ErrnoClass {
  kInterrupted,   // EINTR: retry the same call now
  kWouldBlock,    // EAGAIN/EWOULDBLOCK: wait for readiness
  kPeerGone,      // ECONNRESET, EPIPE, ETIMEDOUT, ECONNABORTED, ENOTCONN...: close this connection
  kNoResources,   // EMFILE, ENFILE, ENOBUFS, ENOMEM: back off, do not spin
  kUnexpected,    // anything else: log once, count, close this connection
};

ErrnoClass classify_errno(int err) noexcept;
const char* errno_class_name(ErrnoClass c) noexcept;
// "recv: Connection reset by peer (ECONNRESET)"
std::string describe_errno(const char* call, int err);

}  // namespace iomodels
