#include "ftp_protocol.hpp"

#include <algorithm>
#include <vector>

namespace honeycomb::services::ftp {

CommandLine parse_command(std::string_view line) {
  const auto space = line.find(' ');
  CommandLine c;
  c.verb = upper(line.substr(0, space));
  if (space != std::string_view::npos) {
    c.arg = std::string(line.substr(space + 1));
  }
  return c;
}

std::string upper(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(c >= 'a' && c <= 'z' ? c - 32 : c); });
  return out;
}

std::string resolve(const std::string& cwd, std::string_view path) {
  std::string full = !path.empty() && path.front() == '/' ? std::string(path) : cwd + "/" + std::string(path);
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (start <= full.size()) {
    const auto slash = full.find('/', start);
    const auto part = full.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    if (part == "..") {
      if (!parts.empty()) {
        parts.pop_back();
      }
    } else if (!part.empty() && part != ".") {
      parts.push_back(part);
    }
    if (slash == std::string::npos) {
      break;
    }
    start = slash + 1;
  }
  std::string out;
  for (const auto& p : parts) {
    out += "/" + p;
  }
  return out.empty() ? "/" : out;
}

std::string FakeTree::listing(const std::string& dir) const {
  if (dir == "/") {
    return "drwxr-xr-x    2 ftp      ftp          4096 Nov 14 09:12 pub\r\n"
           "-rw-r--r--    1 ftp      ftp      " +
           std::string(8 - std::min<std::size_t>(8, std::to_string(readme.size()).size()), ' ') +
           std::to_string(readme.size()) +
           " Nov 14 09:12 README\r\n"
           "drwxrwxr-x    2 ftp      ftp          4096 Nov 30 21:40 upload\r\n";
  }
  return {};
}

}  // namespace honeycomb::services::ftp
