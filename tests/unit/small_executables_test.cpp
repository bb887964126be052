// The argument format between `honeycomb service run` and honeycomb-service
// (host/small_executables.hpp): what one writes, the other reads back whole.
#include "host/small_executables.hpp"

#include <gtest/gtest.h>

namespace honeycomb::host {
namespace {

RunRequest sample_request() {
  RunRequest request;
  request.home.root = "/var/lib/honeycomb home";
  request.home.library = "/usr/share/honeycomb/library";
  request.service = "simple_http";
  request.editable = true;
  request.daemon = true;
  request.verbose = true;
  request.args = {"port=8080", "--not-a-flag", "version=nginx 1.0", "-i"};
  request.integrations = {"json_file", "syslog"};
  request.ready_timeout = std::chrono::milliseconds(2500);
  return request;
}

TEST(ServiceExecTest, ArgumentsRoundTrip) {
  const RunRequest sent = sample_request();
  std::string error;
  const auto got = parse_service_exec_arguments(service_exec_arguments(sent), error);
  ASSERT_TRUE(got.has_value()) << error;
  EXPECT_EQ(got->home.root, sent.home.root);
  EXPECT_EQ(got->home.library, sent.home.library);
  EXPECT_EQ(got->service, sent.service);
  EXPECT_TRUE(got->editable);
  EXPECT_TRUE(got->daemon);
  EXPECT_TRUE(got->verbose);
  EXPECT_EQ(got->args, sent.args);  // service arguments that look like flags stay arguments
  EXPECT_EQ(got->integrations, sent.integrations);
  EXPECT_EQ(got->ready_timeout, sent.ready_timeout);
}

TEST(ServiceExecTest, DefaultsStayDefaults) {
  RunRequest sent;
  sent.home.root = "/h";
  sent.home.library = "/l";
  sent.service = "telnet";
  std::string error;
  const auto got = parse_service_exec_arguments(service_exec_arguments(sent), error);
  ASSERT_TRUE(got.has_value()) << error;
  EXPECT_FALSE(got->editable);
  EXPECT_FALSE(got->daemon);
  EXPECT_FALSE(got->verbose);
  EXPECT_TRUE(got->args.empty());
  EXPECT_TRUE(got->integrations.empty());
}

TEST(ServiceExecTest, RefusesWhatItDidNotWrite) {
  const std::vector<std::vector<std::string>> bad = {
      {},                                                                // nothing
      {"--home", "/h", "--library", "/l"},                               // no service
      {"--home", "/h", "--library", "/l", "--service"},                  // flag without value
      {"--home", "/h", "--library", "/l", "--service", "s", "--bogus"},  // unknown flag
      {"--home", "/h", "--library", "/l", "--service", "s", "port=1"},   // argument before --
      {"--home", "/h", "--library", "/l", "--service", "s", "--ready-timeout-ms", "0"},
      {"--home", "/h", "--library", "/l", "--service", "s", "--ready-timeout-ms", "12x"},
      {"--home", "/h", "--library", "/l", "--service", ""},
  };
  for (const auto& arguments : bad) {
    std::string error;
    EXPECT_FALSE(parse_service_exec_arguments(arguments, error).has_value());
    EXPECT_FALSE(error.empty());
  }
}

TEST(ServiceExecTest, NameServicesTheSmallExecutableHas) {
  EXPECT_TRUE(small_executable_resolves_names(""));  // no nsswitch.conf: glibc's defaults
  // Debian 12's default file.
  EXPECT_TRUE(
      small_executable_resolves_names("# /etc/nsswitch.conf\n"
                                      "passwd:         files systemd\n"
                                      "group:          files systemd\n"
                                      "shadow:         files\n"
                                      "gshadow:        files\n"
                                      "hosts:          files dns\n"
                                      "networks:       files\n"
                                      "netgroup:       nis\n"));
  EXPECT_TRUE(small_executable_resolves_names("hosts: files [NOTFOUND=return] dns\n"));
  EXPECT_TRUE(small_executable_resolves_names("hosts: files # mdns4_minimal\n"));
  EXPECT_FALSE(small_executable_resolves_names("passwd: files ldap\n"));
  EXPECT_FALSE(small_executable_resolves_names("passwd: compat\n"));
  EXPECT_FALSE(small_executable_resolves_names("group: files sss\n"));
  EXPECT_FALSE(small_executable_resolves_names("hosts: files mdns4_minimal [NOTFOUND=return] dns\n"));
  EXPECT_FALSE(small_executable_resolves_names("hosts: files myhostname dns\n"));
}

}  // namespace
}  // namespace honeycomb::host
