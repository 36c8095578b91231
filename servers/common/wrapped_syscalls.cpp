// The __wrap_ functions behind wrapped_syscalls.h. Each counts, then calls the
// real function (__real_NAME, which the linker binds to libc's NAME); errno is
// whatever the real call left. The list of names here and the --wrap options in
// servers/CMakeLists.txt are the same list.
#include "servers/common/wrapped_syscalls.h"

#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cstdarg>

namespace iomodels {
namespace {
thread_local ServerStats* counted = nullptr;

inline void count(Syscall s) noexcept {
  if (counted) counted->count(s);
}
inline int count_wait(Syscall s, int n) noexcept {
  if (counted) {
    counted->count(s);
    if (n >= 0) ++counted->wakeups;
  }
  return n;
}
}  // namespace

void count_wrapped_syscalls(ServerStats* stats) noexcept { counted = stats; }

}  // namespace iomodels

using iomodels::Syscall;

extern "C" {
int __real_accept(int, sockaddr*, socklen_t*);
int __real_accept4(int, sockaddr*, socklen_t*, int);
ssize_t __real_recv(int, void*, size_t, int);
ssize_t __real_send(int, const void*, size_t, int);
ssize_t __real_read(int, void*, size_t);
ssize_t __real_write(int, const void*, size_t);
ssize_t __real_writev(int, const iovec*, int);
int __real_epoll_wait(int, epoll_event*, int, int);
int __real_epoll_pwait(int, epoll_event*, int, int, const sigset_t*);
int __real_epoll_ctl(int, int, int, epoll_event*);
int __real_ioctl(int, unsigned long, ...);

int __wrap_accept(int fd, sockaddr* a, socklen_t* l) {
  iomodels::count(Syscall::kAccept);
  return __real_accept(fd, a, l);
}
int __wrap_accept4(int fd, sockaddr* a, socklen_t* l, int flags) {
  iomodels::count(Syscall::kAccept4);
  return __real_accept4(fd, a, l, flags);
}
ssize_t __wrap_recv(int fd, void* p, size_t n, int flags) {
  iomodels::count(Syscall::kRecv);
  return __real_recv(fd, p, n, flags);
}
ssize_t __wrap_send(int fd, const void* p, size_t n, int flags) {
  iomodels::count(Syscall::kSend);
  return __real_send(fd, p, n, flags);
}
ssize_t __wrap_read(int fd, void* p, size_t n) {
  iomodels::count(Syscall::kRead);
  return __real_read(fd, p, n);
}
ssize_t __wrap_write(int fd, const void* p, size_t n) {
  iomodels::count(Syscall::kWrite);
  return __real_write(fd, p, n);
}
ssize_t __wrap_writev(int fd, const iovec* v, int n) {
  iomodels::count(Syscall::kWritev);
  return __real_writev(fd, v, n);
}
int __wrap_epoll_wait(int ep, epoll_event* ev, int max, int timeout) {
  return iomodels::count_wait(Syscall::kEpollWait, __real_epoll_wait(ep, ev, max, timeout));
}
int __wrap_epoll_pwait(int ep, epoll_event* ev, int max, int timeout, const sigset_t* mask) {
  return iomodels::count_wait(Syscall::kEpollPwait, __real_epoll_pwait(ep, ev, max, timeout, mask));
}
int __wrap_epoll_ctl(int ep, int op, int fd, epoll_event* ev) {
  iomodels::count(Syscall::kEpollCtl);
  return __real_epoll_ctl(ep, op, fd, ev);
}
// Asio sets each accepted socket non-blocking with ioctl(FIONBIO); every ioctl
// request on Linux takes at most one pointer-sized argument.
int __wrap_ioctl(int fd, unsigned long request, ...) {
  va_list ap;
  va_start(ap, request);
  void* arg = va_arg(ap, void*);
  va_end(ap);
  iomodels::count(Syscall::kIoctl);
  return __real_ioctl(fd, request, arg);
}
}  // extern "C"
