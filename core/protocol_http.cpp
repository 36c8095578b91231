// http server: HTTP/1.x requests in (keep-alive, pipelining, Content-Length
// bodies skipped), a fixed "Hello, World!" reply out.
//
// Not supported, by design: Transfer-Encoding (chunked bodies) gets 400 and
// close; HEAD is answered like GET (with the body); obs-fold header lines are
// rejected. Request lines may be preceded by empty lines (RFC 9112 §2.2).
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <string>

#include "core/protocol_internal.h"

namespace iomodels::detail {
namespace {

constexpr std::string_view kCrlfCrlf = "\r\n\r\n";

bool is_tchar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return (x | 0x20) == (y | 0x20);  // ASCII letters only; fine for header names
         });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The replies, rebuilt at most once a second per thread: the hot path appends a
// ready string instead of formatting a date per request.
struct ReplyCache {
  time_t second = -1;
  std::string keep_alive;     // HTTP/1.1 default: no Connection header
  std::string keep_alive_10;  // HTTP/1.0 client that asked for keep-alive
  std::string close;
  std::string bad_request;
};

std::string build_reply(const char* status, const char* date, std::string_view extra,
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
  char date[64];  // IMF-fixdate, by hand so that no locale can change it
  std::snprintf(date, sizeof date, "%s, %02d %s %04d %02d:%02d:%02d GMT", kDays[t.tm_wday % 7],
                t.tm_mday, kMonths[t.tm_mon % 12], t.tm_year + 1900, t.tm_hour, t.tm_min, t.tm_sec);
  cache.keep_alive = build_reply("200 OK", date, "", kHttpBody);
  cache.keep_alive_10 = build_reply("200 OK", date, "Connection: keep-alive\r\n", kHttpBody);
  cache.close = build_reply("200 OK", date, "Connection: close\r\n", kHttpBody);
  cache.bad_request = build_reply("400 Bad Request", date, "Connection: close\r\n", "Bad Request");
  cache.second = now;
  return cache;
}

struct Request {
  bool http10 = false;
  bool keep_alive = true;
  uint64_t content_length = 0;
};

// Parses one header block (request line .. final CRLFCRLF). False: malformed.
bool parse_request(std::string_view block, Request& req) {
  size_t eol = block.find("\r\n");
  std::string_view line = block.substr(0, eol);
  size_t sp1 = line.find(' ');
  if (sp1 == 0 || sp1 == std::string_view::npos) return false;
  size_t sp2 = line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || sp2 == sp1 + 1) return false;
  std::string_view method = line.substr(0, sp1);
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string_view version = line.substr(sp2 + 1);
  if (!std::all_of(method.begin(), method.end(), is_tchar)) return false;
  if (std::any_of(target.begin(), target.end(),
                  [](char c) { return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f; }))
    return false;
  if (version.size() != 8 || version.substr(0, 7) != "HTTP/1." || version[7] < '0' ||
      version[7] > '9')
    return false;
  bool http10 = version[7] == '0';
  req.http10 = http10;
  bool saw_close = false, saw_keep_alive = false, saw_length = false;

  std::string_view rest = block.substr(eol + 2);
  while (true) {
    size_t e = rest.find("\r\n");
    if (e == 0 || e == std::string_view::npos) break;  // the empty line that ends the block
    std::string_view h = rest.substr(0, e);
    rest.remove_prefix(e + 2);
    size_t colon = h.find(':');
    if (colon == 0 || colon == std::string_view::npos) return false;
    std::string_view name = h.substr(0, colon);
    // Whitespace in a name (or a folded line) is a request-smuggling vector.
    if (!std::all_of(name.begin(), name.end(), is_tchar)) return false;
    std::string_view value = trim(h.substr(colon + 1));
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
      if (value.empty() || value.size() > 18) return false;
      for (char c : value) {
        if (c < '0' || c > '9') return false;
        v = v * 10 + static_cast<uint64_t>(c - '0');
      }
      if (saw_length && v != req.content_length) return false;
      saw_length = true;
      req.content_length = v;
    } else if (iequals(name, "transfer-encoding")) {
      return false;  // chunked bodies are not supported: 400 rather than guess
    }
  }
  req.keep_alive = saw_close ? false : (http10 ? saw_keep_alive : true);
  return true;
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

 private:
  size_t step(const char* p, size_t n, Buffer& out, ServeResult& r) {
    size_t pos = 0;
    const ReplyCache* cache = nullptr;
    while (pos < n && !done_) {
      if (body_left_ > 0) {  // bodies are skipped, never stored
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
        if (avail.size() > max_header_) return fail(out, n);
        scanned_ = avail.size() >= 3 ? avail.size() - 3 : 0;
        return pos;
      }
      size_t block_size = end + kCrlfCrlf.size();
      Request req;
      if (block_size > max_header_ || !parse_request(avail.substr(0, block_size), req))
        return fail(out, n);
      if (cache == nullptr) cache = &replies();
      // A 1.0 client assumes close unless the reply says keep-alive.
      const std::string& reply = !req.keep_alive ? cache->close
                                 : req.http10    ? cache->keep_alive_10
                                                 : cache->keep_alive;
      out.append(reply);
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

  size_t fail(Buffer& out, size_t n) {
    out.append(replies().bad_request);
    after_ = ServeResult::After::kProtocolError;
    done_ = true;
    return n;  // swallow the rest: nothing after a bad request is read
  }

  size_t max_header_;
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
