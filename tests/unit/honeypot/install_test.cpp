#include "honeypot/install.hpp"

#include <gtest/gtest.h>

#include <set>

namespace honeycomb::honeypot {
namespace {

TEST(HoneypotInstall, SeedIsStablePerServiceAndDiffersBetweenServices) {
  EXPECT_EQ(install_seed("banner"), install_seed("banner"));
  EXPECT_NE(install_seed("banner"), install_seed("ftp"));
}

TEST(HoneypotInstall, InstallsDrawDifferentNamesAndBanners) {
  std::set<std::string> hostnames;
  std::set<std::string> ssh;
  std::set<std::string> ftp;
  for (std::uint64_t seed = 0; seed < 64; ++seed) {
    hostnames.insert(fake_hostname(seed));
    ssh.insert(default_banner(22, seed));
    ftp.insert(default_banner(21, seed));
  }
  EXPECT_GT(hostnames.size(), 20U);
  EXPECT_GT(ssh.size(), 3U);
  EXPECT_GT(ftp.size(), 3U);
  for (const auto& banner : ssh) {
    EXPECT_EQ(banner.rfind("SSH-2.0-OpenSSH_", 0), 0U) << banner;
    EXPECT_EQ(banner.substr(banner.size() - 2), "\r\n");
  }
  for (const auto& banner : ftp) {
    EXPECT_EQ(banner.substr(0, 3), "220") << banner;
  }
}

TEST(HoneypotInstall, PortsWhereTheClientSpeaksFirstGetNoBanner) {
  EXPECT_EQ(default_banner(80, 1), "");
  EXPECT_EQ(default_banner(6379, 1), "");
  EXPECT_EQ(default_banner(23, 1).substr(0, 3), "\xff\xfd\x18");
}

TEST(HoneypotInstall, SessionIdsAreTwelveHexDigitsAndUnique) {
  std::set<std::string> ids;
  for (int i = 0; i < 1000; ++i) {
    const auto id = new_session_id();
    EXPECT_EQ(id.size(), 12U);
    EXPECT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos);
    ids.insert(id);
  }
  EXPECT_EQ(ids.size(), 1000U);
}

}  // namespace
}  // namespace honeycomb::honeypot
