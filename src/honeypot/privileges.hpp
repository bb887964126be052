// Root only to bind: a built-in honeypot started as root switches the whole
// process to an unprivileged account (run_as, default nobody) once its
// ports are bound, and before the first attacker byte is read. What it
// needs later as root is opened before: the outputs' files, the host keys,
// the quarantine folder (handed to the account).
#pragma once

#include <optional>
#include <string>
#include <sys/types.h>

namespace honeycomb::honeypot {

struct Account {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
};

/// The account to switch to: nullopt when the process is not root (nothing
/// to drop) or `user` is "root" (kept on purpose). std::invalid_argument
/// naming `user` when no such account exists.
std::optional<Account> account_to_run_as(const std::string& user);

/// Switches every thread of the process to `account` (real, effective and
/// saved ids): no supplementary groups, its group, its user; regaining root
/// is checked to fail. std::runtime_error when a step fails.
void drop_privileges(const Account& account);

}  // namespace honeycomb::honeypot
