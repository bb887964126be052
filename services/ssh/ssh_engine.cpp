#include "ssh_engine.hpp"

#include "honeypot/bytes.hpp"
#include "honeypot/fake_shell.hpp"
#include "honeypot/line_editor.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <libssh/callbacks.h>
#include <libssh/libssh.h>
#include <libssh/server.h>
#include <optional>
#include <poll.h>
#include <stdexcept>
#include <string_view>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <system_error>
#include <unistd.h>

namespace honeycomb::services::ssh {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

/// How often closed sessions are looked for (an O(sessions) walk).
constexpr std::chrono::milliseconds kSweepEvery{50};
constexpr int kPollTimeoutMs = 200;
/// Channels a connection may open in its life (OpenSSH allows 10 at once).
constexpr std::size_t kMaxChannels = 10;
/// Port-forward requests recorded per connection; the rest are refused silently.
constexpr std::size_t kMaxForwardEvents = 16;
/// Output held for a channel whose peer does not take it (its window is full).
constexpr std::size_t kMaxPendingOutput = std::size_t{256} * 1024;
/// The poll wait while output is held: the window may open at any packet.
constexpr int kRetryTimeoutMs = 10;

struct HostKeySpec {
  const char* file;
  ssh_keytypes_e type;
  int bits;
};
constexpr std::array<HostKeySpec, 3> kHostKeys{{
    {"ssh_host_ed25519_key", SSH_KEYTYPE_ED25519, 0},
    {"ssh_host_ecdsa_key", SSH_KEYTYPE_ECDSA_P256, 256},
    {"ssh_host_rsa_key", SSH_KEYTYPE_RSA, 3072},
}};

// What OpenSSH 9.2's sshd offers, less what libssh lacks (sntrup761, umac,
// group exchange): a scanner listing the algorithms sees the familiar order.
constexpr const char* kKeyExchange =
    "curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,ecdh-sha2-nistp384,ecdh-sha2-nistp521,"
    "diffie-hellman-group16-sha512,diffie-hellman-group18-sha512,diffie-hellman-group14-sha256";
constexpr const char* kHostKeyAlgorithms = "rsa-sha2-512,rsa-sha2-256,ecdsa-sha2-nistp256,ssh-ed25519";
constexpr const char* kCiphers =
    "chacha20-poly1305@openssh.com,aes128-ctr,aes192-ctr,aes256-ctr,aes128-gcm@openssh.com,aes256-gcm@openssh.com";
constexpr const char* kMacs =
    "hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com,hmac-sha1-etm@openssh.com,hmac-sha2-256,"
    "hmac-sha2-512,hmac-sha1";

struct KeyDeleter {
  void operator()(ssh_key key) const { ssh_key_free(key); }
};
using KeyPtr = std::unique_ptr<ssh_key_struct, KeyDeleter>;

/// Writes `text` to `path` through a temporary file, mode 0600.
void write_private_file(const fs::path& path, std::string_view text) {
  const auto temporary = path.string() + ".tmp";
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    throw std::runtime_error("cannot write " + temporary + ": " + std::strerror(errno));
  }
  std::size_t written = 0;
  while (written < text.size()) {
    const auto n = ::write(fd, text.data() + written, text.size() - written);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      const int error = errno;
      ::close(fd);
      throw std::runtime_error("cannot write " + temporary + ": " + std::strerror(error));
    }
    written += static_cast<std::size_t>(n);
  }
  ::fsync(fd);
  ::close(fd);
  std::error_code ec;
  fs::rename(temporary, path, ec);
  if (ec) {
    throw std::runtime_error("cannot rename " + temporary + " to " + path.string() + ": " + ec.message());
  }
}

std::string sha256_fingerprint(const ssh_key key) {
  unsigned char* hash = nullptr;
  std::size_t length = 0;
  if (ssh_get_publickey_hash(key, SSH_PUBLICKEY_HASH_SHA256, &hash, &length) != SSH_OK) {
    return {};
  }
  char* text = ssh_get_fingerprint_hash(SSH_PUBLICKEY_HASH_SHA256, hash, length);
  ssh_clean_pubkey_hash(&hash);
  if (text == nullptr) {
    return {};
  }
  std::string fingerprint(text);
  ssh_string_free_char(text);
  return fingerprint;
}

}  // namespace

std::vector<fs::path> ensure_host_keys(const fs::path& dir, Logger& logger) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    throw std::runtime_error("cannot create the host key folder " + dir.string() + ": " + ec.message());
  }
  std::vector<fs::path> paths;
  for (const auto& spec : kHostKeys) {
    const auto path = dir / spec.file;
    ssh_key raw = nullptr;
    if (fs::exists(path, ec)) {
      if (ssh_pki_import_privkey_file(path.c_str(), nullptr, nullptr, nullptr, &raw) != SSH_OK) {
        throw std::runtime_error(path.string() + " is not an unencrypted SSH private key");
      }
      KeyPtr key(raw);
      paths.push_back(path);
      continue;
    }
    if (ssh_pki_generate(spec.type, spec.bits, &raw) != SSH_OK) {
      throw std::runtime_error(std::string("cannot generate the ") + spec.file + " host key");
    }
    KeyPtr key(raw);
    char* text = nullptr;
    if (ssh_pki_export_privkey_base64(key.get(), nullptr, nullptr, nullptr, &text) != SSH_OK) {
      throw std::runtime_error(std::string("cannot encode the ") + spec.file + " host key");
    }
    const std::string private_text(text);
    ssh_string_free_char(text);
    write_private_file(path, private_text);
    char* public_text = nullptr;
    if (ssh_pki_export_pubkey_base64(key.get(), &public_text) == SSH_OK) {
      write_private_file(fs::path(path.string() + ".pub"),
                         std::string(ssh_key_type_to_char(ssh_key_type(key.get()))) + " " + public_text + "\n");
      ssh_string_free_char(public_text);
      fs::permissions(fs::path(path.string() + ".pub"),
                      fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read | fs::perms::others_read,
                      ec);
    }
    logger.info("generated host key " + path.string() + " (" + sha256_fingerprint(key.get()) + ")");
    paths.push_back(path);
  }
  return paths;
}

// ---------------------------------------------------------------------------
// The engine thread's state. Everything below runs on that thread, except
// adopt() and stop().

namespace {

struct Core;
struct Session;

struct Channel {
  explicit Channel(std::size_t max_line) : editor(max_line) {}

  Session* owner = nullptr;
  ssh_channel channel = nullptr;
  ssh_channel_callbacks_struct callbacks{};
  bool pty = false;
  bool started = false;    ///< a shell or exec request was accepted
  bool finishing = false;  ///< send exit status, EOF and close at the next flush
  bool done = false;       ///< closed from our side
  bool queued = false;     ///< in Core::work
  bool reported_cut = false;
  std::optional<honeypot::FakeShell> shell;
  honeypot::LineEditor editor;
  std::string partial;  ///< unfinished line without a pty
  std::string out;      ///< written after the poll round (see Core::flush)
};

struct Session {
  Core* core = nullptr;
  std::shared_ptr<Connection> connection;
  ssh_session session = nullptr;
  ssh_server_callbacks_struct server_callbacks{};
  std::vector<std::unique_ptr<Channel>> channels;
  std::string username;
  std::string kbdint_user;
  std::int64_t attempts = 0;
  std::size_t forwards = 0;
  bool authenticated = false;
  bool closing = false;  ///< disconnect at the next sweep
};

struct Core {
  Core(EngineSettings s, honeypot::LoginPolicy& p, Engine::Emit e, Engine::Release r)
      : settings(std::move(s)), policy(p), emit(std::move(e)), release(std::move(r)) {}

  EngineSettings settings;
  honeypot::LoginPolicy& policy;
  Engine::Emit emit;
  Engine::Release release;

  ssh_bind bind = nullptr;
  ssh_event event = nullptr;
  int wake_fd = -1;
  std::atomic<bool> stopping{false};

  std::mutex pending_mutex;
  std::vector<std::pair<int, std::shared_ptr<Connection>>> pending;

  std::vector<std::unique_ptr<Session>> sessions;
  std::vector<Channel*> work;
  Clock::time_point last_sweep{};
  bool closing_requested = false;  ///< a session asked to be closed this round

  void run();
  void adopt_pending();
  void start_session(int fd, std::shared_ptr<Connection> connection);
  void flush();
  void sweep();
  void free_session(Session& session, bool report);

  bool login(Session& session, const char* method, std::string_view user, std::string_view password);
  void record_publickey(Session& session, std::string_view user, ssh_key key);
  /// One ssh.login event; closes the session at max_attempts failures.
  void record_attempt(Session& session, const char* method, std::string_view user, bool accepted, Alert&& details);
  void run_line(Channel& channel, const std::string& line, bool exec);
  void queue(Channel& channel) {
    if (!channel.queued) {
      channel.queued = true;
      work.push_back(&channel);
    }
  }
  void end_reason(Session& session, const char* reason) {
    std::lock_guard lock(session.connection->mutex);
    if (session.connection->engine_reason.empty()) {
      session.connection->engine_reason = reason;
    }
  }
};

// ---- libssh callbacks (userdata: the Session or the Channel) ----

int on_auth_password(ssh_session /*session*/, const char* user, const char* password, void* userdata) {
  auto& session = *static_cast<Session*>(userdata);
  return session.core->login(session, "password", user, password) ? SSH_AUTH_SUCCESS : SSH_AUTH_DENIED;
}

int on_auth_pubkey(ssh_session /*session*/, const char* user, ssh_key_struct* pubkey, char /*signature_state*/,
                   void* userdata) {
  auto& session = *static_cast<Session*>(userdata);
  session.core->record_publickey(session, user, pubkey);
  return SSH_AUTH_DENIED;
}

/// Answering here keeps libssh off its GSS-API code (and the stubs of
/// gss_stubs.cpp): gssapi-with-mic is refused before it starts.
ssh_string on_gssapi_select_oid(ssh_session /*session*/, const char* /*user*/, int /*n_oid*/, ssh_string* /*oids*/,
                                void* /*userdata*/) {
  return nullptr;
}

int on_channel_data(ssh_session /*session*/, ssh_channel /*channel*/, void* data, uint32_t length, int /*is_stderr*/,
                    void* userdata) {
  auto& channel = *static_cast<Channel*>(userdata);
  if (!channel.started || channel.done || channel.finishing) {
    return static_cast<int>(length);
  }
  auto& core = *channel.owner->core;
  const std::string_view bytes(static_cast<const char*>(data), length);
  if (channel.pty) {
    // Key by key as a terminal shows it: each line's echo, then its output.
    std::vector<honeypot::LineEditor::Input> inputs;
    std::string_view rest = bytes;
    while (!rest.empty() && !channel.finishing) {
      const auto end = rest.find_first_of("\r\n\x03\x04");
      const auto piece = rest.substr(0, end == std::string_view::npos ? rest.size() : end + 1);
      rest.remove_prefix(piece.size());
      inputs.clear();
      channel.editor.feed(piece, inputs, channel.out);
      for (auto& input : inputs) {
        if (channel.finishing) {
          break;
        }
        switch (input.kind) {
          case honeypot::LineEditor::Kind::line:
            core.run_line(channel, input.text, false);
            break;
          case honeypot::LineEditor::Kind::interrupt:
            channel.out += channel.shell->prompt();
            break;
          case honeypot::LineEditor::Kind::end_of_input:
            channel.out += "logout\r\n";
            core.end_reason(*channel.owner, "logout");
            channel.finishing = true;
            break;
        }
      }
    }
    if (channel.editor.cut_lines() > 0 && !channel.reported_cut) {
      channel.reported_cut = true;
      Alert alert;
      alert.set("reason", "line too long");
      core.emit("ssh.anomaly", channel.owner->connection->peer, std::move(alert));
    }
  } else {
    std::vector<std::string> lines;
    honeypot::split_lines(bytes, channel.partial, core.settings.max_line, lines);
    for (const auto& line : lines) {
      if (channel.finishing) {
        break;
      }
      core.run_line(channel, line, false);
    }
  }
  core.queue(channel);
  return static_cast<int>(length);
}

int on_pty_request(ssh_session /*session*/, ssh_channel /*channel*/, const char* /*term*/, int /*width*/,
                   int /*height*/, int /*pxwidth*/, int /*pxheight*/, void* userdata) {
  static_cast<Channel*>(userdata)->pty = true;
  return 0;
}

int on_pty_window_change(ssh_session /*session*/, ssh_channel /*channel*/, int /*width*/, int /*height*/,
                         int /*pxwidth*/, int /*pxheight*/, void* /*userdata*/) {
  return 0;
}

honeypot::ShellIdentity identity_of(const Session& session) {
  return {session.username, session.core->settings.hostname, session.core->settings.seed};
}

int on_shell_request(ssh_session /*session*/, ssh_channel /*channel*/, void* userdata) {
  auto& channel = *static_cast<Channel*>(userdata);
  if (channel.started) {
    return SSH_ERROR;
  }
  channel.started = true;
  channel.shell.emplace(identity_of(*channel.owner));
  if (channel.pty) {
    channel.out += honeypot::to_crlf(channel.shell->motd()) + channel.shell->prompt();
  }
  channel.owner->core->queue(channel);
  return SSH_OK;
}

int on_exec_request(ssh_session /*session*/, ssh_channel /*channel*/, const char* command, void* userdata) {
  auto& channel = *static_cast<Channel*>(userdata);
  if (channel.started) {
    return SSH_ERROR;
  }
  auto& core = *channel.owner->core;
  channel.started = true;
  channel.shell.emplace(identity_of(*channel.owner));
  std::string line(command);
  if (line.size() > core.settings.max_line) {
    line.resize(core.settings.max_line);
  }
  core.run_line(channel, line, true);
  channel.finishing = true;  // the reply to the request goes first; see flush()
  core.queue(channel);
  return SSH_OK;
}

void on_channel_eof(ssh_session /*session*/, ssh_channel /*channel*/, void* userdata) {
  auto& channel = *static_cast<Channel*>(userdata);
  auto& core = *channel.owner->core;
  if (channel.started && !channel.pty && !channel.finishing && !channel.partial.empty()) {
    const auto line = std::move(channel.partial);
    channel.partial.clear();
    core.run_line(channel, line, false);
  }
  channel.finishing = true;
  core.queue(channel);
}

void on_channel_close(ssh_session /*session*/, ssh_channel /*channel*/, void* userdata) {
  auto& channel = *static_cast<Channel*>(userdata);
  channel.finishing = true;
  channel.owner->core->queue(channel);
}

ssh_channel on_channel_open(ssh_session session_handle, void* userdata) {
  auto& session = *static_cast<Session*>(userdata);
  if (!session.authenticated || session.channels.size() >= kMaxChannels) {
    return nullptr;
  }
  auto channel = std::make_unique<Channel>(session.core->settings.max_line);
  channel->owner = &session;
  channel->channel = ssh_channel_new(session_handle);
  if (channel->channel == nullptr) {
    return nullptr;
  }
  auto& callbacks = channel->callbacks;
  callbacks.userdata = channel.get();
  callbacks.channel_data_function = on_channel_data;
  callbacks.channel_eof_function = on_channel_eof;
  callbacks.channel_close_function = on_channel_close;
  callbacks.channel_pty_request_function = on_pty_request;
  callbacks.channel_pty_window_change_function = on_pty_window_change;
  callbacks.channel_shell_request_function = on_shell_request;
  callbacks.channel_exec_request_function = on_exec_request;
  ssh_callbacks_init(&callbacks);
  ssh_set_channel_callbacks(channel->channel, &callbacks);
  auto* handle = channel->channel;
  session.channels.push_back(std::move(channel));
  return handle;
}

/// What the server callbacks do not cover: keyboard-interactive logins and
/// port-forward requests. Returns 0 when it answered, 1 for libssh's default.
int on_message(ssh_session session_handle, ssh_message message, void* userdata) {
  auto& session = *static_cast<Session*>(userdata);
  auto& core = *session.core;
  const int type = ssh_message_type(message);
  const int subtype = ssh_message_subtype(message);
  if (type == SSH_REQUEST_AUTH && subtype == SSH_AUTH_METHOD_INTERACTIVE) {
    if ((core.settings.auth_methods & SSH_AUTH_METHOD_INTERACTIVE) == 0) {
      return 1;
    }
    if (ssh_message_auth_kbdint_is_response(message) == 0) {
      const char* user = ssh_message_auth_user(message);
      session.kbdint_user = user != nullptr ? user : "";
      const char* prompts[] = {"Password: "};
      char echo[] = {0};
      ssh_message_auth_interactive_request(message, "", "", 1, prompts, echo);
      return 0;
    }
    const char* answer = ssh_userauth_kbdint_getnanswers(session_handle) > 0
                             ? ssh_userauth_kbdint_getanswer(session_handle, 0)
                             : nullptr;
    if (core.login(session, "keyboard-interactive", session.kbdint_user, answer != nullptr ? answer : "")) {
      ssh_message_auth_reply_success(message, 0);
    } else {
      ssh_message_auth_set_methods(message, core.settings.auth_methods);
      ssh_message_reply_default(message);
    }
    return 0;
  }
  if (type == SSH_REQUEST_CHANNEL_OPEN && subtype == SSH_CHANNEL_DIRECT_TCPIP &&
      session.forwards++ < kMaxForwardEvents) {
    // Bots use SSH servers as proxies: where they wanted to go is worth
    // recording; the channel is refused.
    const char* destination = ssh_message_channel_request_open_destination(message);
    Alert alert;
    alert.set("username", session.username)
        .set("forward_host", destination != nullptr ? honeypot::to_printable(destination) : std::string())
        .set("forward_port", static_cast<std::int64_t>(ssh_message_channel_request_open_destination_port(message)));
    core.emit("ssh.forward", session.connection->peer, std::move(alert));
  }
  return 1;
}

// ---- Core ----

bool Core::login(Session& session, const char* method, std::string_view user, std::string_view password) {
  const bool accepted = policy.attempt(session.connection->source, user, password);
  Alert details;
  details.set("password", std::string(password));
  record_attempt(session, method, user, accepted, std::move(details));
  if (accepted) {
    session.authenticated = true;
    session.username = std::string(user);
  }
  return accepted;
}

void Core::record_publickey(Session& session, std::string_view user, ssh_key key) {
  Alert details;
  details.set("key_type", key != nullptr ? ssh_key_type_to_char(ssh_key_type(key)) : "")
      .set("key_fingerprint", key != nullptr ? sha256_fingerprint(key) : std::string());
  record_attempt(session, "publickey", user, false, std::move(details));
}

void Core::record_attempt(Session& session, const char* method, std::string_view user, bool accepted, Alert&& details) {
  ++session.attempts;
  ++session.connection->login_attempts;
  const auto hello = session.connection->client_hello();
  details.set("username", std::string(user))
      .set("method", method)
      .set("outcome", accepted ? "success" : "failure")
      .set("attempt", session.attempts)
      .set("client_version", hello.version)
      .set("hassh", hello.hassh);
  emit("ssh.login", session.connection->peer, std::move(details));
  if (!accepted && session.attempts >= settings.max_attempts) {
    end_reason(session, "too many login attempts");
    session.closing = true;
    closing_requested = true;
  }
}

void Core::run_line(Channel& channel, const std::string& line, bool exec) {
  auto& session = *channel.owner;
  if (line.find_first_not_of(" \t") != std::string::npos) {
    ++session.connection->commands;
    Alert alert;
    alert.set("cmd", line).set("cwd", channel.shell->cwd()).set("username", session.username).set("exec", exec);
    emit("ssh.command", session.connection->peer, std::move(alert));
  }
  auto result = channel.shell->run(line);
  for (auto& url : result.downloads) {
    Alert alert;
    alert.set("url", std::move(url)).set("cmd", line).set("username", session.username);
    emit("ssh.download", session.connection->peer, std::move(alert));
  }
  channel.out += channel.pty ? honeypot::to_crlf(result.output) : result.output;
  if (result.exit) {
    if (channel.pty) {
      channel.out += "logout\r\n";
    }
    end_reason(session, "logout");
    channel.finishing = true;
  } else if (channel.pty && !exec) {
    channel.out += channel.shell->prompt();
  }
}

/// Writes what the callbacks produced. Deferred to after the poll round so
/// that libssh has answered the request (shell, exec) before our data and
/// our close follow it.
///
/// libssh handles incoming packets inside its write calls, so callbacks
/// may run (and append output, queue channels) while this writes: the
/// batch and each output are taken out of reach first. What the peer's
/// window does not take now stays queued for the next round.
void Core::flush() {
  auto batch = std::move(work);
  work.clear();
  for (auto* channel : batch) {
    channel->queued = false;
    if (channel->done) {
      continue;
    }
    if (!channel->out.empty()) {
      std::string data = std::move(channel->out);
      channel->out.clear();
      const int written = ssh_channel_write(channel->channel, data.data(), static_cast<uint32_t>(data.size()));
      if (written < 0) {
        channel->done = true;  // the channel or the session is gone
        continue;
      }
      if (static_cast<std::size_t>(written) < data.size()) {
        data.erase(0, static_cast<std::size_t>(written));
        channel->out.insert(0, data);
        if (channel->out.size() > kMaxPendingOutput) {
          channel->out.resize(kMaxPendingOutput);  // a client that stops reading loses the rest
        }
        queue(*channel);
        continue;
      }
    }
    if (channel->finishing && channel->out.empty()) {
      channel->done = true;
      if (ssh_channel_is_open(channel->channel) != 0) {
        ssh_channel_request_send_exit_status(channel->channel, 0);
        ssh_channel_send_eof(channel->channel);
        ssh_channel_close(channel->channel);
      }
    }
  }
}

void Core::adopt_pending() {
  std::vector<std::pair<int, std::shared_ptr<Connection>>> taken;
  {
    std::lock_guard lock(pending_mutex);
    taken.swap(pending);
  }
  for (auto& [fd, connection] : taken) {
    start_session(fd, std::move(connection));
  }
}

void Core::start_session(int fd, std::shared_ptr<Connection> connection) {
  auto session = std::make_unique<Session>();
  session->core = this;
  session->connection = std::move(connection);
  session->session = ssh_new();
  if (session->session == nullptr) {
    ::close(fd);
    release(session->connection);
    return;
  }
  if (ssh_bind_accept_fd(bind, session->session, fd) != SSH_OK) {
    ssh_free(session->session);  // closes fd
    release(session->connection);
    return;
  }
  ssh_set_blocking(session->session, 0);
  auto& callbacks = session->server_callbacks;
  callbacks.userdata = session.get();
  callbacks.auth_password_function = on_auth_password;
  callbacks.auth_pubkey_function = on_auth_pubkey;
  callbacks.gssapi_select_oid_function = on_gssapi_select_oid;
  callbacks.channel_open_request_session_function = on_channel_open;
  ssh_callbacks_init(&callbacks);
  ssh_set_server_callbacks(session->session, &callbacks);
  ssh_set_auth_methods(session->session, settings.auth_methods);
  ssh_set_message_callback(session->session, on_message, session.get());
  // Nonblocking: sends our identification and returns SSH_AGAIN; the key
  // exchange goes on in the poll loop.
  if (ssh_handle_key_exchange(session->session) == SSH_ERROR ||
      ssh_event_add_session(event, session->session) != SSH_OK) {
    ssh_free(session->session);
    release(session->connection);
    return;
  }
  sessions.push_back(std::move(session));
}

void Core::free_session(Session& session, bool report) {
  std::erase_if(work, [&session](const Channel* channel) { return channel->owner == &session; });
  ssh_event_remove_session(event, session.session);
  if (session.closing) {
    ssh_disconnect(session.session);
  }
  ssh_free(session.session);  // its channels and its socket too
  session.session = nullptr;
  if (report) {
    release(session.connection);
  }
}

void Core::sweep() {
  const auto gone = std::remove_if(sessions.begin(), sessions.end(), [this](std::unique_ptr<Session>& session) {
    const bool over = session->closing || (ssh_get_status(session->session) & (SSH_CLOSED | SSH_CLOSED_ERROR)) != 0;
    if (over) {
      free_session(*session, true);
    }
    return over;
  });
  sessions.erase(gone, sessions.end());
}

int on_wake(socket_t fd, int /*revents*/, void* /*userdata*/) {
  std::uint64_t count = 0;
  [[maybe_unused]] const auto n = ::read(fd, &count, sizeof count);
  return 0;
}

void Core::run() {
  while (!stopping.load(std::memory_order_acquire)) {
    const int rc = ssh_event_dopoll(event, work.empty() ? kPollTimeoutMs : kRetryTimeoutMs);
    adopt_pending();
    flush();
    const auto now = Clock::now();
    if (rc == SSH_ERROR || closing_requested || now - last_sweep >= kSweepEvery) {
      closing_requested = false;
      last_sweep = now;
      sweep();
    }
  }
  for (auto& session : sessions) {
    free_session(*session, false);
  }
  sessions.clear();
  std::lock_guard lock(pending_mutex);
  for (auto& [fd, connection] : pending) {
    ::close(fd);
  }
  pending.clear();
}

}  // namespace

struct Engine::State : Core {
  using Core::Core;
};

Engine::Engine(EngineSettings settings, honeypot::LoginPolicy& policy, Emit emit, Release release)
    : state_(std::make_unique<State>(std::move(settings), policy, std::move(emit), std::move(release))) {}

Engine::~Engine() {
  stop();
}

void Engine::start() {
  auto& core = *state_;
  ssh_init();
  core.bind = ssh_bind_new();
  if (core.bind == nullptr) {
    throw std::runtime_error("libssh: cannot create a server");
  }
  bool process_config = false;  // /etc/ssh/libssh_server_config must not change the honeypot
  ssh_bind_options_set(core.bind, SSH_BIND_OPTIONS_PROCESS_CONFIG, &process_config);
  // Read now, not at the first connection as libssh would: by then the
  // process no longer runs as root and the key files are root's, mode 0600.
  for (const auto& path : core.settings.host_keys) {
    ssh_key key = nullptr;
    if (ssh_pki_import_privkey_file(path.c_str(), nullptr, nullptr, nullptr, &key) != SSH_OK) {
      throw std::runtime_error(path.string() + " is not an unencrypted SSH private key");
    }
    if (ssh_bind_options_set(core.bind, SSH_BIND_OPTIONS_IMPORT_KEY, key) != SSH_OK) {  // the bind owns it now
      ssh_key_free(key);
      throw std::runtime_error("libssh refused the host key " + path.string() + ": " + ssh_get_error(core.bind));
    }
  }
  const std::array<std::pair<ssh_bind_options_e, const char*>, 7> options{{
      {SSH_BIND_OPTIONS_BANNER, core.settings.version.c_str()},
      {SSH_BIND_OPTIONS_KEY_EXCHANGE, kKeyExchange},
      {SSH_BIND_OPTIONS_HOSTKEY_ALGORITHMS, kHostKeyAlgorithms},
      {SSH_BIND_OPTIONS_CIPHERS_C_S, kCiphers},
      {SSH_BIND_OPTIONS_CIPHERS_S_C, kCiphers},
      {SSH_BIND_OPTIONS_HMAC_C_S, kMacs},
      {SSH_BIND_OPTIONS_HMAC_S_C, kMacs},
  }};
  for (const auto& [option, value] : options) {
    if (ssh_bind_options_set(core.bind, option, value) != SSH_OK) {
      throw std::runtime_error(std::string("libssh refused the setting ") + value + ": " + ssh_get_error(core.bind));
    }
  }
  core.event = ssh_event_new();
  core.wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (core.event == nullptr || core.wake_fd < 0 ||
      ssh_event_add_fd(core.event, core.wake_fd, POLLIN, on_wake, nullptr) != SSH_OK) {
    throw std::runtime_error("libssh: cannot create the poll loop");
  }
  thread_ = std::thread([&core] { core.run(); });
}

void Engine::stop() {
  if (thread_.joinable()) {
    state_->stopping.store(true, std::memory_order_release);
    const std::uint64_t one = 1;
    [[maybe_unused]] const auto n = ::write(state_->wake_fd, &one, sizeof one);
    thread_.join();
  }
  if (state_->event != nullptr) {
    if (state_->wake_fd >= 0) {
      ssh_event_remove_fd(state_->event, state_->wake_fd);  // frees its callback record
    }
    ssh_event_free(state_->event);
    state_->event = nullptr;
  }
  if (state_->wake_fd >= 0) {
    ::close(state_->wake_fd);
    state_->wake_fd = -1;
  }
  if (state_->bind != nullptr) {
    ssh_bind_free(state_->bind);
    state_->bind = nullptr;
    ssh_finalize();
  }
}

void Engine::adopt(int fd, std::shared_ptr<Connection> connection) {
  {
    std::lock_guard lock(state_->pending_mutex);
    state_->pending.emplace_back(fd, std::move(connection));
  }
  const std::uint64_t one = 1;
  [[maybe_unused]] const auto n = ::write(state_->wake_fd, &one, sizeof one);
}

}  // namespace honeycomb::services::ssh
