// http server: HTTP/1.x requests in (keep-alive, pipelining, Content-Length
// bodies read and discarded), a fixed "Hello, World!" reply out.
//
// Strict where a lax parser lets two parties frame one stream differently
// (request smuggling, RFC 9112 §11.2), and every refusal closes the connection:
// - CR, LF, NUL or any other control byte but HTAB in a field name or value:
//   400. Lines end only at CRLF, so a bare CR or LF is such a byte.
// - Whitespace before the colon, obs-fold lines, bad Content-Length, two
//   different Content-Lengths: 400. A version that is well formed but not
//   1.0/1.1: 505. Transfer-Encoding (chunked or any other): 501, never decoded.
// - Expect: 100-continue on an HTTP/1.1 request with a body gets
//   "100 Continue" at once, then the final reply; the body is always read (and
//   discarded) either way, so it is never taken for the next request. Any other
//   expectation: 417. HTTP/1.0 expectations are ignored (RFC 9110 §10.1.1).
// - HEAD: the GET reply's headers (Content-Length: 13 included), no body.
// - HTTP/1.0 closes after the reply unless it sent Connection: keep-alive.
// Request lines may be preceded by empty lines (RFC 9112 §2.2).
#include <algorithm>
#include <cstdio>
#include <ctime>
#include <string>

#include "core/protocol_internal.h"

namespace iomodels::detail {
namespace {

constexpr std::string_view kCrlfCrlf = "\r\n\r\n";
constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The replies, rebuilt at most once a second per thread: the hot path appends a
// ready string instead of formatting a date per request.
struct ReplyCache {
  time_t second = -1;
  char date[64] = {};
  std::string keep_alive;     // HTTP/1.1 default: no Connection header
  std::string keep_alive_10;  // HTTP/1.0 client that asked for keep-alive
  std::string close;
};

std::string build_reply(std::string_view status, const char* date, std::string_view extra,
                        std::string_view body) {
  std::string s = "HTTP/1.1 ";
  s += status;
  s += "\r\nServer: iomodels\r\nDate: ";
  s += date;
  s += "\r\nContent-Type: text/plain\r\nContent-Length: ";
  s += std::to_string(body.size());
  s += "\r\n";
  s += extra;
  s += "\r\n";
  s += body;
  return s;
}

const ReplyCache& replies() {
  thread_local ReplyCache cache;
  time_t now = ::time(nullptr);
  if (now == cache.second) return cache;
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  tm t{};
  ::gmtime_r(&now, &t);
  // IMF-fixdate, by hand so that no locale can change it
  std::snprintf(cache.date, sizeof cache.date, "%s, %02d %s %04d %02d:%02d:%02d GMT",
                kDays[t.tm_wday % 7], t.tm_mday, kMonths[t.tm_mon % 12], t.tm_year + 1900,
                t.tm_hour, t.tm_min, t.tm_sec);
  cache.keep_alive = build_reply("200 OK", cache.date, "", kHttpBody);
  cache.keep_alive_10 = build_reply("200 OK", cache.date, "Connection: keep-alive\r\n", kHttpBody);
  cache.close = build_reply("200 OK", cache.date, "Connection: close\r\n", kHttpBody);
  cache.second = now;
  return cache;
}

// Why a request is refused; each refusal is answered once, then the connection closes.
enum class Refusal { kNone, kBadRequest, kExpectationFailed, kNotImplemented, kVersion };

std::string_view refusal_status(Refusal r) {
  switch (r) {
    case Refusal::kExpectationFailed: return "417 Expectation Failed";
    case Refusal::kNotImplemented: return "501 Not Implemented";
    case Refusal::kVersion: return "505 HTTP Version Not Supported";
    default: return "400 Bad Request";
  }
}

struct Request {
  bool http10 = false;
  bool keep_alive = true;
  bool head = false;            // HEAD: headers only
  bool expect_continue = false;
  uint64_t content_length = 0;
};

// "HTTP/1.0" or "HTTP/1.1"; a well-formed other version is kVersion.
Refusal parse_version(std::string_view v, Request& req) {
  auto digit = [](char c) { return c >= '0' && c <= '9'; };
  if (v.size() != 8 || v.substr(0, 5) != "HTTP/" || !digit(v[5]) || v[6] != '.' || !digit(v[7]))
    return Refusal::kBadRequest;
  if (v[5] != '1' || (v[7] != '0' && v[7] != '1')) return Refusal::kVersion;
  req.http10 = v[7] == '0';
  return Refusal::kNone;
}

Refusal parse_request_line(std::string_view line, Request& req) {
  size_t sp1 = line.find(' ');
  if (sp1 == 0 || sp1 == std::string_view::npos) return Refusal::kBadRequest;
  size_t sp2 = line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || sp2 == sp1 + 1) return Refusal::kBadRequest;
  std::string_view method = line.substr(0, sp1);
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  if (!is_token(method)) return Refusal::kBadRequest;
  // Visible ASCII only: controls, spaces and non-ASCII bytes are not a target.
  if (std::any_of(target.begin(), target.end(), [](char c) {
        return static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7f;
      }))
    return Refusal::kBadRequest;
  req.head = method == "HEAD";
  return parse_version(line.substr(sp2 + 1), req);
}

// One header field; `seen_length` tells whether a Content-Length came before.
Refusal parse_field(std::string_view name, std::string_view value, Request& req,
                    bool& seen_length, bool& saw_close, bool& saw_keep_alive) {
  if (iequals(name, "connection")) {
    while (!value.empty()) {
      size_t comma = value.find(',');
      std::string_view token = trim(value.substr(0, comma));
      if (iequals(token, "close")) saw_close = true;
      if (iequals(token, "keep-alive")) saw_keep_alive = true;
      value = comma == std::string_view::npos ? std::string_view{} : value.substr(comma + 1);
    }
  } else if (iequals(name, "content-length")) {
    uint64_t v = 0;
    if (value.empty() || value.size() > 18) return Refusal::kBadRequest;
    for (char c : value) {
      if (c < '0' || c > '9') return Refusal::kBadRequest;
      v = v * 10 + static_cast<uint64_t>(c - '0');
    }
    if (seen_length && v != req.content_length) return Refusal::kBadRequest;
    seen_length = true;
    req.content_length = v;
  } else if (iequals(name, "transfer-encoding")) {
    return Refusal::kNotImplemented;  // never decoded: refused, so never misframed
  } else if (iequals(name, "expect") && !req.http10) {
    if (!iequals(value, "100-continue")) return Refusal::kExpectationFailed;
    req.expect_continue = true;
  }
  return Refusal::kNone;
}

// Parses one header block (request line .. final CRLFCRLF).
Refusal parse_request(std::string_view block, Request& req) {
  size_t eol = block.find("\r\n");
  if (Refusal r = parse_request_line(block.substr(0, eol), req); r != Refusal::kNone) return r;
  bool seen_length = false, saw_close = false, saw_keep_alive = false;
  // A refusal for Transfer-Encoding or Expect must not hide a malformed field
  // further on: those win (400) because they say the stream itself is bad.
  Refusal deferred = Refusal::kNone;
  size_t crlfs = 2;  // the request line's and the final empty line's
  std::string_view rest = block.substr(eol + 2);
  while (true) {
    size_t e = rest.find("\r\n");
    if (e == 0 || e == std::string_view::npos) break;  // the empty line that ends the block
    std::string_view h = rest.substr(0, e);
    rest.remove_prefix(e + 2);
    ++crlfs;
    size_t colon = h.find(':');
    if (colon == 0 || colon == std::string_view::npos) return Refusal::kBadRequest;
    std::string_view name = h.substr(0, colon);
    // Whitespace in a name (or a folded line) is a request-smuggling vector.
    if (!is_token(name)) return Refusal::kBadRequest;
    Refusal r = parse_field(name, trim(h.substr(colon + 1)), req, seen_length, saw_close, saw_keep_alive);
    if (r == Refusal::kBadRequest) return r;
    if (deferred == Refusal::kNone) deferred = r;
  }
  // So are control bytes anywhere, bare CR and LF included (see count_ctl).
  if (count_ctl(block) != 2 * crlfs) return Refusal::kBadRequest;
  if (deferred != Refusal::kNone) return deferred;
  req.keep_alive = saw_close ? false : (req.http10 ? saw_keep_alive : true);
  return Refusal::kNone;
}

class HttpServer final : public ServerSession {
 public:
  explicit HttpServer(const ProtocolLimits& limits) : max_header_(limits.max_http_header) {}

  ServeResult on_bytes(std::span<const char> in, Buffer& out) override {
    ServeResult r;
    if (!done_) {
      feed_with_tail(in, pending_, [&](const char* p, size_t n) { return step(p, n, out, r); });
    }
    r.after = after_;
    return r;
  }

  size_t pending_bytes() const override { return pending_.readable_bytes(); }
  size_t buffered_capacity() const override { return pending_.capacity(); }

 private:
  size_t step(const char* p, size_t n, Buffer& out, ServeResult& r) {
    size_t pos = 0;
    const ReplyCache* cache = nullptr;
    while (pos < n && !done_) {
      if (body_left_ > 0) {  // bodies are read and discarded, never stored
        size_t skip = std::min<uint64_t>(body_left_, n - pos);
        body_left_ -= skip;
        pos += skip;
        continue;
      }
      if (scanned_ == 0) {
        while (n - pos >= 2 && p[pos] == '\r' && p[pos + 1] == '\n') pos += 2;
        if (pos == n) break;
      }
      // Resume where the last search stopped (less 3 bytes, in case CRLFCRLF
      // straddles the split), so byte-by-byte input stays linear.
      std::string_view avail(p + pos, n - pos);
      size_t end = avail.find(kCrlfCrlf, scanned_);
      if (end == std::string_view::npos) {
        if (avail.size() > max_header_) return refuse(out, n, Refusal::kBadRequest);
        scanned_ = avail.size() >= 3 ? avail.size() - 3 : 0;
        return pos;
      }
      size_t block_size = end + kCrlfCrlf.size();
      if (block_size > max_header_) return refuse(out, n, Refusal::kBadRequest);
      std::string_view block = avail.substr(0, block_size);
      Request req;
      if (const Request* same = last_.find(block)) {
        req = *same;
      } else {
        if (Refusal why = parse_request(block, req); why != Refusal::kNone) return refuse(out, n, why);
        last_.remember(block, req);
      }
      if (cache == nullptr) cache = &replies();
      // A 1.0 client assumes close unless the reply says keep-alive.
      const std::string& reply = !req.keep_alive ? cache->close
                                 : req.http10    ? cache->keep_alive_10
                                                 : cache->keep_alive;
      if (req.expect_continue && req.content_length > 0) out.append(kContinue);
      out.append(reply.data(), reply.size() - (req.head ? kHttpBody.size() : 0));
      ++r.messages;
      pos += block_size;
      scanned_ = 0;
      body_left_ = req.content_length;
      if (!req.keep_alive) {
        after_ = ServeResult::After::kCloseAfterSend;
        done_ = true;
        return n;
      }
    }
    return pos;
  }

  // Rare path: the reply is built here (one allocation) rather than cached.
  size_t refuse(Buffer& out, size_t n, Refusal why) {
    std::string_view status = refusal_status(why);
    out.append(build_reply(status, replies().date, "Connection: close\r\n", status.substr(4)));
    after_ = ServeResult::After::kProtocolError;
    done_ = true;
    return n;  // swallow the rest: nothing after a refused request is read
  }

  size_t max_header_;
  LastBlock<Request, 128> last_;  // wrk's and the loadgen's requests fit
  Buffer pending_{0};      // an incomplete header block carried to the next call
  size_t scanned_ = 0;     // bytes of that block already searched for CRLFCRLF
  uint64_t body_left_ = 0;
  bool done_ = false;
  ServeResult::After after_ = ServeResult::After::kContinue;
};

}  // namespace

std::unique_ptr<ServerSession> make_http_server(const ProtocolLimits& limits) {
  return std::make_unique<HttpServer>(limits);
}

}  // namespace iomodels::detail
