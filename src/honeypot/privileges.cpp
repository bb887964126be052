#include "honeypot/privileges.hpp"

#include <array>
#include <cerrno>
#include <cstring>
#include <grp.h>
#include <pwd.h>
#include <stdexcept>
#include <unistd.h>
#include <vector>

namespace honeycomb::honeypot {

namespace {
[[noreturn]] void fail(const std::string& what) {
  throw std::runtime_error("cannot drop root privileges: " + what + ": " + std::strerror(errno));
}
}  // namespace

std::optional<Account> account_to_run_as(const std::string& user) {
  if (::geteuid() != 0 || user == "root") {
    return std::nullopt;
  }
  passwd entry{};
  passwd* found = nullptr;
  std::vector<char> buffer(16384);
  if (::getpwnam_r(user.c_str(), &entry, buffer.data(), buffer.size(), &found) != 0 || found == nullptr) {
    throw std::invalid_argument("run_as: no account named '" + user + "' on this machine");
  }
  if (found->pw_uid == 0) {
    return std::nullopt;  // another name for root
  }
  return Account{user, found->pw_uid, found->pw_gid};
}

void drop_privileges(const Account& account) {
  // glibc applies each of these to every thread of the process.
  if (::setgroups(0, nullptr) != 0) {
    fail("setgroups");
  }
  if (::setresgid(account.gid, account.gid, account.gid) != 0) {
    fail("setresgid");
  }
  if (::setresuid(account.uid, account.uid, account.uid) != 0) {
    fail("setresuid");
  }
  if (::setuid(0) == 0 || ::geteuid() == 0) {
    errno = EPERM;
    fail("root could be regained");
  }
}

}  // namespace honeycomb::honeypot
