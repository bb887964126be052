// The least an SSH server can do for a brute force: libssh, blocking, one
// thread per connection, every password refused, nothing recorded. The
// baseline bench/services/run.sh measures hydra against in the same run as
// the ssh honeypot (which adds the socket-pair proxy, HASSH, the login
// policy, events and the caps): the ratio says what those cost.
//   honeycomb_bench_ssh_baseline PORT
#include <cstdio>
#include <cstdlib>
#include <libssh/libssh.h>
#include <libssh/server.h>
#include <string>
#include <thread>

namespace {

void serve(ssh_session session) {
  if (ssh_handle_key_exchange(session) == SSH_OK) {
    ssh_set_auth_methods(session, SSH_AUTH_METHOD_PASSWORD);
    while (ssh_message message = ssh_message_get(session)) {
      ssh_message_auth_set_methods(message, SSH_AUTH_METHOD_PASSWORD);
      ssh_message_reply_default(message);  // refused
      ssh_message_free(message);
    }
  }
  ssh_disconnect(session);
  ssh_free(session);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s PORT\n", argv[0]);
    return 2;
  }
  ssh_init();
  ssh_key key = nullptr;
  // RSA 3072, the key the honeypot signs with for clients that, like
  // hydra's libssh, take its first host key algorithm (rsa-sha2-512).
  if (ssh_pki_generate(SSH_KEYTYPE_RSA, 3072, &key) != SSH_OK) {
    std::fprintf(stderr, "cannot generate a host key\n");
    return 1;
  }
  ssh_bind bind = ssh_bind_new();
  const std::string port(argv[1]);
  bool no_config = false;
  ssh_bind_options_set(bind, SSH_BIND_OPTIONS_PROCESS_CONFIG, &no_config);
  ssh_bind_options_set(bind, SSH_BIND_OPTIONS_BINDADDR, "127.0.0.1");
  ssh_bind_options_set(bind, SSH_BIND_OPTIONS_BINDPORT_STR, port.c_str());
  ssh_bind_options_set(bind, SSH_BIND_OPTIONS_IMPORT_KEY, key);
  if (ssh_bind_listen(bind) != SSH_OK) {
    std::fprintf(stderr, "cannot listen: %s\n", ssh_get_error(bind));
    return 1;
  }
  for (;;) {
    ssh_session session = ssh_new();
    if (ssh_bind_accept(bind, session) != SSH_OK) {
      ssh_free(session);
      continue;
    }
    std::thread(serve, session).detach();
  }
}
