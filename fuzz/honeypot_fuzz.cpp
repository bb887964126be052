// The telnet honeypot's parsers on hostile bytes: the stream is cut into
// reads (sizes from the first input byte), decoded (negotiation answered),
// assembled into bounded lines, and every line is run by the fake shell. The
// answers must stay bounded; nothing may crash, hang or read out of bounds.
#include "honeypot/fake_shell.hpp"
#include "honeypot/telnet.hpp"

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace {

void require(bool ok) {
  if (!ok) {
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace honeycomb::honeypot;
  if (size == 0) {
    return 0;
  }
  const std::size_t step = 1 + data[0] % 64;
  std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  telnet::Decoder decoder;
  telnet::LineReader reader(256);
  FakeShell shell({.user = "root", .hostname = "fuzz", .seed = size});
  std::string decoded;
  std::string reply;
  std::string echo;
  std::vector<std::string> lines;
  while (!input.empty()) {
    const auto piece = input.substr(0, step);
    input.remove_prefix(piece.size());
    decoded.clear();
    reply.clear();
    decoder.feed(piece, decoded, reply);
    // Each answer is one 3-byte command or the 6-byte terminal-type request.
    require(reply.size() <= piece.size() * 6);
    lines.clear();
    reader.feed(decoded, lines, true, echo);
    for (const auto& line : lines) {
      require(line.size() <= 256);
      const auto result = shell.run(line);
      require(result.output.size() <= FakeShell::kMaxOutput);
    }
    require(reader.pending() <= 256);
  }
  require(decoder.terminal_type().size() <= telnet::Decoder::kMaxTerminalType);
  return 0;
}
