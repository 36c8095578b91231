// Request payloads derived from (connection id, sequence number), so that the
// loadgen can check every reply byte without keeping a copy of what it sent.
//
// Layout of a message of n bytes: if n >= 16, bytes 0..15 carry conn_id and seq
// (little-endian, xored with a constant) so a reply from the wrong connection
// or the wrong request is caught at once; the rest, and every byte of shorter
// messages, come from a fixed pseudo-random pattern at an offset seeded by
// (conn_id, seq). Fill and verify are memcpy/memcmp against that pattern: GB/s.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>

namespace iomodels {

// Write bytes [offset, offset + out.size()) of message (conn_id, seq).
void payload_fill(uint64_t conn_id, uint64_t seq, size_t offset, std::span<char> out) noexcept;
// True when `in` equals bytes [offset, offset + in.size()) of message (conn_id, seq).
bool payload_verify(uint64_t conn_id, uint64_t seq, size_t offset,
                    std::span<const char> in) noexcept;

}  // namespace iomodels
