// The normalised event: one record per honeypot event, whatever the honeypot
// (Cowrie, the seed's shape, Honeycomb alerts, HonnyPotter...), with the
// common honeypot vocabulary as fields and the original record kept whole.
// Shared by the node (event port, issue 5) and the core (event store, API).
#pragma once

#include <cstdint>
#include <string>

namespace honeycomb::events {

struct Event {
  std::string event_id;        ///< sender-assigned unique id; empty when none (never deduplicated)
  std::int64_t received_us = 0;  ///< when the core (or node) received it, unix microseconds
  std::int64_t event_us = 0;     ///< the event's own time, unix microseconds (received_us when absent/unparsable)
  std::uint64_t node_id = 0;
  std::string pot_id;
  std::string pot_type;
  std::string event_type;
  std::string src_ip;
  std::int32_t src_port = 0;   ///< 0: unknown
  std::string dst_ip;
  std::int32_t dst_port = 0;   ///< 0: unknown
  std::string username;
  std::string password;
  std::string command;         ///< `input` / `command` / `cmd`
  std::string session;
  std::string url;
  std::string message;
  std::string raw_json;        ///< the original record, compact JSON object text
};

}  // namespace honeycomb::events
