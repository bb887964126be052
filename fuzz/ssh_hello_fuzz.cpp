// The ssh honeypot's parsers of attacker bytes: the cleartext hello (version
// line and KEXINIT, for HASSH) read in pieces whose sizes come from the
// first input byte, and the same bytes typed into a pty (line editor) and
// sent without one (line splitter). Everything must stay bounded; nothing
// may crash or read out of bounds.
#include "honeypot/line_editor.hpp"
#include "honeypot/ssh_hello.hpp"

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
  const std::string_view all(reinterpret_cast<const char*>(data) + 1, size - 1);

  SshHelloReader hello;
  LineEditor editor(128);
  std::vector<LineEditor::Input> inputs;
  std::string echo;
  std::string partial;
  std::vector<std::string> lines;
  for (auto input = all; !input.empty();) {
    const auto piece = input.substr(0, step);
    input.remove_prefix(piece.size());
    hello.feed(piece);
    require(hello.first_bytes().size() <= 256);

    inputs.clear();
    echo.clear();
    editor.feed(piece, inputs, echo);
    for (const auto& typed : inputs) {
      require(typed.text.size() <= 128);
    }
    // Each key echoes at most 4 bytes ("^C\r\n", "\b \b").
    require(echo.size() <= piece.size() * 4 + 128 * 3);

    lines.clear();
    split_lines(piece, partial, 128, lines);
    for (const auto& line : lines) {
      require(line.size() <= 128);
    }
    require(partial.size() <= 128);
  }
  if (hello.state() == SshHelloReader::State::done) {
    require(hello.hello().hassh.size() == 32);
  }
  require(hello.hello().version.size() <= SshHelloReader::kMaxVersionLine * 4);
  return 0;
}
