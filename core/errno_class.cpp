#include "core/errno_class.h"

#include <cerrno>
#include <cstring>

namespace iomodels {

ErrnoClass classify_errno(int err) noexcept {
  switch (err) {
    case EINTR:
      return ErrnoClass::kInterrupted;
    case EAGAIN:
#if EWOULDBLOCK != EAGAIN
    case EWOULDBLOCK:
#endif
      return ErrnoClass::kWouldBlock;
    case ECONNRESET:
    case EPIPE:
    case ETIMEDOUT:
    case ECONNABORTED:
    case ENOTCONN:
    case EHOSTUNREACH:
    case ENETUNREACH:
    case ECONNREFUSED:
      return ErrnoClass::kPeerGone;
    case EMFILE:
    case ENFILE:
    case ENOBUFS:
    case ENOMEM:
      return ErrnoClass::kNoResources;
    default:
      return ErrnoClass::kUnexpected;
  }
}

const char* errno_class_name(ErrnoClass c) noexcept {
  switch (c) {
    case ErrnoClass::kInterrupted: return "interrupted";
    case ErrnoClass::kWouldBlock: return "would_block";
    case ErrnoClass::kPeerGone: return "peer_gone";
    case ErrnoClass::kNoResources: return "no_resources";
    case ErrnoClass::kUnexpected: return "unexpected";
  }
  return "unknown";
}

std::string describe_errno(const char* call, int err) {
  std::string s = call ? call : "?";
  s += ": ";
  // strerror_r's GNU flavour may return a static string instead of filling buf.
  char buf[128];
  s += ::strerror_r(err, buf, sizeof buf);
  // strerrorname_np (glibc 2.32+) gives the symbol, which is what one greps for.
  if (const char* name = ::strerrorname_np(err)) {
    s += " (";
    s += name;
    s += ')';
  } else {
    s += " (errno ";
    s += std::to_string(err);
    s += ')';
  }
  return s;
}

}  // namespace iomodels
