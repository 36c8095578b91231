// http client (loadgen side): sends the one fixed GET and checks each reply:
// status line, header syntax, Content-Length framing, and a body equal to
// kHttpBody. As strict as the server: a reply it cannot frame with certainty
// (control bytes in a field, no or conflicting Content-Length,
// Transfer-Encoding, 101, a version other than 1.0/1.1) makes the stream
// fatal, which the loadgen counts as a mismatch. Interim 1xx replies are
// skipped (RFC 9110 §15.2); 204 and 304 have no body.
#include <algorithm>
#include <deque>

#include "core/protocol_internal.h"

namespace iomodels::detail {
namespace {

constexpr std::string_view kCrlfCrlf = "\r\n\r\n";
// A reply head this long without its end is not a reply from our servers.
constexpr size_t kMaxReplyHead = 64 * 1024;

struct Head {
  int status = 0;
  bool has_body = true;
  uint64_t content_length = 0;
};

// "HTTP/1.x SSS reason": false unless exactly that shape.
bool parse_status_line(std::string_view line, Head& head) {
  if (line.size() < 13 || line.substr(0, 7) != "HTTP/1." || (line[7] != '0' && line[7] != '1') ||
      line[8] != ' ' || line[12] != ' ')
    return false;
  int status = 0;
  for (size_t i = 9; i < 12; ++i) {
    if (line[i] < '0' || line[i] > '9') return false;
    status = status * 10 + (line[i] - '0');
  }
  if (status < 100) return false;
  head.status = status;
  head.has_body = status >= 200 && status != 204 && status != 304;
  return true;
}

// False when the head cannot be framed (we would not know where the next reply starts).
bool parse_head(std::string_view block, Head& head) {
  size_t eol = block.find("\r\n");
  if (!parse_status_line(block.substr(0, eol), head)) return false;
  bool saw_length = false;
  size_t crlfs = 2;  // the status line's and the final empty line's
  std::string_view rest = block.substr(eol + 2);
  while (true) {
    size_t e = rest.find("\r\n");
    if (e == 0 || e == std::string_view::npos) break;
    std::string_view h = rest.substr(0, e);
    rest.remove_prefix(e + 2);
    ++crlfs;
    size_t colon = h.find(':');
    if (colon == 0 || colon == std::string_view::npos) return false;
    std::string_view name = h.substr(0, colon);
    std::string_view value = h.substr(colon + 1);
    if (!is_token(name)) return false;
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
    if (iequals(name, "content-length")) {
      if (value.empty() || value.size() > 18) return false;
      uint64_t v = 0;
      for (char c : value) {
        if (c < '0' || c > '9') return false;
        v = v * 10 + static_cast<uint64_t>(c - '0');
      }
      if (saw_length && v != head.content_length) return false;
      head.content_length = v;
      saw_length = true;
    } else if (iequals(name, "transfer-encoding")) {
      return false;
    }
  }
  if (count_ctl(block) != 2 * crlfs) return false;  // a control byte in a field or the reason
  if (head.status == 101) return false;  // we never asked to switch protocols
  if (!head.has_body) {
    head.content_length = 0;
    return true;
  }
  return saw_length;  // a close-delimited body could not be told from a dropped connection
}

class HttpClient final : public ClientSession {
 public:
  void build_request(uint64_t seq, size_t, Buffer& out) override {
    out.append(http_request_bytes());
    owed_.push_back(seq);
  }

  ReplyResult on_bytes(std::span<const char> in) override {
    ReplyResult r;
    if (!fatal_) {
      feed_with_tail(in, pending_, [&](const char* p, size_t n) { return step(p, n, r); });
    }
    r.fatal = fatal_;
    return r;
  }

  size_t outstanding() const override { return owed_.size(); }

 private:
  size_t step(const char* p, size_t n, ReplyResult& r) {
    size_t pos = 0;
    while (pos < n) {
      if (in_body_) {
        size_t take = std::min<uint64_t>(body_left_, n - pos);
        std::string_view got(p + pos, take);
        // bad_ is already set for a 200 whose length is not the body's, so body_at_ stays in range.
        if (!bad_ && status_ == 200 && kHttpBody.substr(body_at_, take) != got) bad_ = true;
        body_at_ += take;
        body_left_ -= take;
        pos += take;
        if (body_left_ == 0) finish(r);
        continue;
      }
      if (owed_.empty()) {  // a reply nobody asked for
        fatal_ = true;
        return n;
      }
      std::string_view avail(p + pos, n - pos);
      size_t end = avail.find(kCrlfCrlf, scanned_);
      if (end == std::string_view::npos) {
        if (avail.size() > kMaxReplyHead) {
          fatal_ = true;
          return n;
        }
        scanned_ = avail.size() >= 3 ? avail.size() - 3 : 0;
        return pos;
      }
      std::string_view block = avail.substr(0, end + kCrlfCrlf.size());
      Head head;
      if (const Head* same = last_.find(block)) {
        head = *same;
      } else {
        if (!parse_head(block, head)) {
          fatal_ = true;
          return n;
        }
        last_.remember(block, head);
      }
      pos += end + kCrlfCrlf.size();
      scanned_ = 0;
      if (head.status < 200) continue;  // interim (100 Continue...): the final reply follows
      status_ = head.status;
      bad_ = head.status == 200 && head.content_length != kHttpBody.size();
      body_left_ = head.content_length;
      body_at_ = 0;
      in_body_ = true;
      if (body_left_ == 0) finish(r);
    }
    return pos;
  }

  void finish(ReplyResult& r) {
    ++r.completed;
    // A non-2xx reply is counted by its status (an error, not a served
    // request); its body is not ours to check.
    if (status_ < 200 || status_ > 299) {
      ++r.http_status;
      note(ReplyOutcome::kHttpStatus);
    } else if (bad_) {
      ++r.mismatches;
      note(ReplyOutcome::kMismatch);
    } else {
      note(ReplyOutcome::kOk);
    }
    in_body_ = false;
    bad_ = false;
    owed_.pop_front();
  }

  std::deque<uint64_t> owed_;
  LastBlock<Head, 256> last_;  // ours are ~120 bytes, nginx's ~230
  Buffer pending_{0};
  size_t scanned_ = 0;
  bool in_body_ = false;
  uint64_t body_left_ = 0;
  size_t body_at_ = 0;
  int status_ = 0;
  bool bad_ = false;
  bool fatal_ = false;
};

}  // namespace

std::unique_ptr<ClientSession> make_http_client() { return std::make_unique<HttpClient>(); }

}  // namespace iomodels::detail
