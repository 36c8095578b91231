// One client connection slot: the socket of the moment, its protocol session,
// its out-buffer and a fixed ring of in-flight send times. A slot outlives its
// sockets: churn, resets and timeouts reopen the socket, while the slot keeps
// its open-loop schedule, so requests that fall due while reconnecting are
// still sent (late, and measured from their intended time).
#pragma once
#include <netinet/in.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "core/buffer.h"
#include "core/protocol.h"
#include "loadgen/options.h"
#include "loadgen/schedule.h"

namespace iomodels::loadgen {

// One request owed a reply. intended: when it was due (open loop: its
// scheduled time; closed loop: when the reply that freed its place was seen).
// sent: the clock read right before the send call that carried its first
// byte; 0 while it still waits whole in the out-buffer. wire_start: offset of
// its first byte in this socket's outgoing stream.
struct InFlight {
  uint64_t intended_ns = 0;
  uint64_t sent_ns = 0;
  uint64_t wire_start = 0;
};

// Fixed-capacity FIFO, allocated once per slot: nothing on the request path allocates.
class InFlightRing {
 public:
  explicit InFlightRing(size_t capacity) : slots_(capacity) {}
  size_t size() const noexcept { return count_; }
  bool full() const noexcept { return count_ == slots_.size(); }
  void push(InFlight f) noexcept {
    slots_[(head_ + count_) % slots_.size()] = f;
    ++count_;
  }
  const InFlight& front() const noexcept { return slots_[head_]; }
  InFlight& at(size_t i) noexcept { return slots_[(head_ + i) % slots_.size()]; }
  void pop() noexcept {
    head_ = (head_ + 1) % slots_.size();
    --count_;
  }
  void clear() noexcept { head_ = count_ = 0; }

 private:
  std::vector<InFlight> slots_;
  size_t head_ = 0;
  size_t count_ = 0;
};

enum class ConnState { kDown, kConnecting, kUp };

struct ClientConn {
  ClientConn(uint64_t slot_id, size_t cap, SizePicker sizes)
      : slot(slot_id), inflight(cap), size_picker(sizes) {}

  uint64_t slot;                  // global slot index g (schedule offset)
  int fd = -1;
  ConnState state = ConnState::kDown;
  uint32_t incarnation = 0;       // sockets this slot has had; seeds payload conn ids
  std::unique_ptr<ClientSession> session;
  Buffer out{4096};
  InFlightRing inflight;
  SizePicker size_picker;
  uint64_t seq = 0;               // next request number on this socket
  uint64_t wire_built = 0;        // bytes of requests appended to `out` on this socket
  uint64_t wire_sent = 0;         // of which the socket has taken this many
  size_t stamped = 0;             // in-flight entries (from the front) already sent
  uint64_t sent_on_socket = 0;    // for churn
  uint64_t replies_on_socket = 0;
  uint64_t connect_start_ns = 0;
  uint64_t retry_at_ns = 0;       // kDown: reconnect not before this
  bool want_out = false;          // EPOLLOUT currently registered
  // Open loop: requests [0, due_k) have fallen due; [0, sent_k) have gone out.
  uint64_t due_k = 0;
  uint64_t sent_k = 0;

  // Payload conn id: the slot and which socket of it, so a reply that crossed
  // sockets or connections fails verification.
  uint64_t payload_id() const noexcept { return (slot << 20) ^ incarnation; }
};

}  // namespace iomodels::loadgen
