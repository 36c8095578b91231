// Child processes the harness starts: pinned, in their own process group, and
// unable to outlive the harness.
//
// Three layers make "no child outlives the harness" hold:
//  - PR_SET_PDEATHSIG(SIGKILL) in the child covers a SIGKILL of the harness;
//  - each child leads its own process group, so a stop reaches whatever the
//    child forked (a wrapper script's background job, a server's helpers);
//  - install_child_reaper_signals() kills every live group on SIGINT/SIGTERM
//    before the harness dies of the same signal; after defer_interrupts() it
//    dies at the run loop's next step instead, once the loop has written what
//    it finished (run.json marked incomplete) and removed what it set up.
#pragma once
#include <sys/types.h>

#include <exception>
#include <optional>
#include <string>
#include <vector>

namespace iomodels::harness {

// "0", "0-1", "0,2-3" -> CPU numbers; throws std::invalid_argument naming the text.
std::vector<int> parse_cpu_list(const std::string& text);
// The CPUs this process may run on, as a list string ("0-1" shows as "0,1").
std::vector<int> allowed_cpus();

struct SpawnOptions {
  std::vector<std::string> argv;   // argv[0] is the executable path
  std::vector<int> cpus;           // empty: inherit the harness's affinity
  bool capture_stdout = false;     // a pipe the parent reads (the "listening" line)
  std::string stderr_path;         // empty: inherit; else appended to this file
  bool stdout_to_null = false;
  // Descriptors the child inherits under the same numbers (the loadgen's
  // --notify-fd pipe); everything else the harness holds is close-on-exec.
  std::vector<int> inherit_fds;
  bool stdin_pipe = false;         // a pipe the parent writes (a remote loadgen's start barrier)
};

// argv[0] as given when it holds a '/', else the first match on PATH
// ("ip" -> "/usr/sbin/ip"); unchanged when nothing matches (execv then fails
// naming it).
std::string resolve_executable(const std::string& name);

class Child {
 public:
  explicit Child(const SpawnOptions& opt);  // throws std::system_error naming the call
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child();  // kills the group and reaps, so an exception path leaks nothing

  pid_t pid() const noexcept { return pid_; }
  // Reads one line from the captured stdout, waiting at most timeout_ms in
  // total; nullopt on timeout or EOF (the child died or closed stdout).
  std::optional<std::string> read_line(int timeout_ms);
  // Reads and discards what the child wrote since, so a chatty child never
  // blocks on a full pipe.
  void drain_stdout();
  // Non-blocking check; true once the child has been reaped.
  bool poll_exit();
  // Waits up to timeout_ms for the child to exit; true if it did.
  bool wait_exit(int timeout_ms);
  bool exited() const noexcept { return reaped_; }
  int raw_status() const noexcept { return status_; }
  // "exited with status 3", "killed by signal 9 (Killed)".
  std::string describe_exit() const;
  void signal(int sig) noexcept;        // to the child only
  void kill_group() noexcept;           // SIGKILL to the whole process group, then reap
  // With stdin_pipe: writes all of text (blocking; false if the child is gone)
  // and, with close, closes our end.
  bool write_stdin(const std::string& text, bool close = false);
  // Everything the child wrote on stdout until EOF or timeout_ms, lines
  // not yet returned by read_line included.
  std::string read_rest(int timeout_ms);

 private:
  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  int stdin_fd_ = -1;
  std::string pending_;  // bytes read after the last full line
  bool reaped_ = false;
  int status_ = 0;
};

// SIGINT/SIGTERM/SIGHUP: SIGKILL every live child group, then die of the signal.
void install_child_reaper_signals();

// After this, such a signal still kills every child group at once, but the
// harness itself goes on until a loop asks interrupted() (then writes its
// results marked incomplete, unwinds its worktrees and namespaces, and calls
// die_of_interrupt()). A second signal, or kInterruptGraceS without that
// call, ends it the plain way. No new Child starts once interrupted (its
// constructor throws Interrupted) until begin_interrupt_cleanup().
void defer_interrupts();
constexpr unsigned kInterruptGraceS = 20;
int interrupted() noexcept;  // the signal received, 0 if none
// Not a std::runtime_error, so that the handlers that turn those into a
// failed case or a "no comparable base" let it through to the command.
struct Interrupted : std::exception {
  const char* what() const noexcept override { return "interrupted"; }
};
void throw_if_interrupted();
void begin_interrupt_cleanup() noexcept;  // children may start again (git worktree remove)
[[noreturn]] void die_of_interrupt();     // the fatal hook, then the signal's default action
// Also run from that handler, after the children are killed; must be
// async-signal-safe (the netns lab removes its namespaces with it).
void set_fatal_signal_hook(void (*hook)() noexcept);

}  // namespace iomodels::harness
