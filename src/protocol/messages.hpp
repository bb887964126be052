// HoneyBee Protocol v2 messages (../shared/specs/honeybee-protocol.md §2):
// one named type per variant. The codec (codec.hpp) turns JSON envelopes into
// these and back, accepting every form the public implementations send.
#pragma once

#include <boost/json/object.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace honeycomb::protocol {

inline constexpr int kVersion = 2;

/// Random unsigned 64-bit id, often above 2^63: never through double/int64.
using NodeId = std::uint64_t;

/// Extension names a peer may announce (docs/PROTOCOL.md "Extensions").
/// `event_ack`: the node numbers its PotEvents (`seq`) and deletes them from
/// its spool once the core confirms they are stored (EventAck).
inline constexpr std::string_view kEventAckExtension = "event_ack";
/// `enroll`: a node without a certificate presents a one-time join token
/// and a certificate request (Enroll) and gets a client certificate signed
/// by the core's CA (EnrollAck); on a connection already authenticated by
/// a certificate, Enroll without a token renews it. docs/SECURITY.md.
inline constexpr std::string_view kEnrollExtension = "enroll";

enum class NodeType { full, agent };
enum class NodeStatus { connected, deploying, running, stopped, failed, unknown };
/// `unknown` also stands for an empty or unrecognised status (the Go node
/// copies an event's usually empty `status` into PotStatusUpdate).
enum class PotStatus { installing, running, stopped, failed, unknown };

// ---- node -> core ----

struct NodeRegistration {
  NodeId node_id = 0;
  std::string node_name;
  std::string address;
  std::uint16_t port = 0;
  NodeType node_type = NodeType::full;
  std::optional<std::string> totp_code;
  /// Extension: the extensions this node speaks (none from the public
  /// nodes; written only when not empty).
  std::vector<std::string> extensions;

  bool operator==(const NodeRegistration&) const = default;
};

struct NodeStatusUpdate {
  NodeId node_id = 0;
  NodeStatus status = NodeStatus::unknown;

  bool operator==(const NodeStatusUpdate&) const = default;
};

struct NodeEvent {
  enum class Kind { started, stopped, alarm, error };
  Kind kind = Kind::started;
  std::string text;  ///< Alarm's `description` or Error's `message`

  bool operator==(const NodeEvent&) const = default;
};

struct NodeDrop {
  bool operator==(const NodeDrop&) const = default;
};

struct PotStatusUpdate {
  NodeId node_id = 0;
  std::string pot_id;
  std::string pot_type;
  PotStatus status = PotStatus::unknown;
  /// The status as sent when `status` is unknown (may be empty); after
  /// decode, the wire name (to_string) when it is known. encode() writes
  /// to_string(status) for a known status and status_text verbatim otherwise.
  std::string status_text;
  std::optional<std::string> message;

  bool operator==(const PotStatusUpdate&) const = default;
};

/// Both shapes: the documented one (`event_type`, ISO `timestamp`, `data`)
/// and the Go node's (`event`, `message`, string map `metadata`, unix
/// seconds `timestamp`). The Go shape is converted on decode: `event` ->
/// event_type, the unix time -> ISO `timestamp`, `metadata` (+ `message`)
/// -> data.
struct PotEvent {
  NodeId node_id = 0;
  std::string pot_id;
  std::string pot_type;  ///< empty when the sender did not say
  std::string event_type;
  std::string timestamp;     ///< ISO 8601 as sent, or converted from unix seconds
  boost::json::object data;  ///< the honeypot's record
  /// Extension (documented in docs/PROTOCOL.md): a sender-assigned unique id
  /// so that a resent event is stored once.
  std::optional<std::string> event_id;
  /// Extension `event_ack`: the node's spool sequence number, increasing
  /// across connections; the core's EventAck names the highest stored.
  std::optional<std::uint64_t> seq;

  bool operator==(const PotEvent&) const = default;
};

/// Extension `enroll`, node -> core: sent as the first message of a
/// TLS connection without a client certificate (with `join_token`), or on
/// a registered certificate-authenticated connection (renewal, no token).
struct Enroll {
  NodeId node_id = 0;
  std::string node_name;
  std::string join_token;  ///< the token's secret part (never its CA pin); empty: renewal
  std::string csr;         ///< PEM certificate request; its subject is ignored

  bool operator==(const Enroll&) const = default;
};

// ---- core -> node ----

struct RegistrationAck {
  NodeId node_id = 0;
  bool accepted = false;
  std::optional<std::string> message;
  std::optional<std::string> totp_key;
  /// Extension: the announced extensions this core will use with this node
  /// (written only when not empty, so only to a node that announced some).
  std::vector<std::string> extensions;

  bool operator==(const RegistrationAck&) const = default;
};

/// Extension `event_ack`, core -> node: every PotEvent of this node with a
/// `seq` up to this one is stored (durably committed). Cumulative; sent only
/// to a node that announced the extension.
struct EventAck {
  NodeId node_id = 0;
  std::uint64_t seq = 0;

  bool operator==(const EventAck&) const = default;
};

/// Extension `enroll`, core -> node: the answer to Enroll.
struct EnrollAck {
  NodeId node_id = 0;
  bool accepted = false;
  std::optional<std::string> message;  ///< why not, when refused
  std::string certificate;             ///< PEM, when accepted
  std::string ca_certificate;          ///< PEM of the core's CA, when accepted

  bool operator==(const EnrollAck&) const = default;
};

struct InstallPot {
  std::string pot_id;
  std::string honeypot_type;
  std::optional<std::string> git_url;
  std::optional<std::string> git_branch;
  std::optional<std::map<std::string, std::string>> config;
  bool auto_start = false;

  bool operator==(const InstallPot&) const = default;
};

struct Command {
  enum class Kind {
    restart,
    update_config,
    install_pot,
    deploy_pot,
    stop_pot,
    restart_pot,
    get_pot_status,
    get_pot_info,
    get_pot_logs,
    get_pot_metrics,
    get_installed_pots,
  };
  Kind kind = Kind::restart;
  std::string pot_id;                 ///< for the pot commands (for install_pot: a copy of install->pot_id)
  std::optional<InstallPot> install;  ///< for install_pot

  bool operator==(const Command&) const = default;
};

struct NodeCommand {
  NodeId node_id = 0;
  Command command;

  bool operator==(const NodeCommand&) const = default;
};

using Message = std::variant<NodeRegistration, NodeStatusUpdate, NodeEvent, NodeDrop, PotStatusUpdate, PotEvent,
                             RegistrationAck, NodeCommand, EventAck, Enroll, EnrollAck>;

/// Wire names ("Running", "GetPotStatus", ...).
const char* to_string(NodeType t);
const char* to_string(NodeStatus s);
const char* to_string(PotStatus s);
const char* to_string(NodeEvent::Kind k);
const char* to_string(Command::Kind k);
/// Parses a wire name (ASCII case-insensitive); nullopt when unknown.
std::optional<NodeType> node_type_from(std::string_view s);
std::optional<NodeEvent::Kind> node_event_kind_from(std::string_view s);
std::optional<NodeStatus> node_status_from(std::string_view s);
std::optional<PotStatus> pot_status_from(std::string_view s);
std::optional<Command::Kind> command_kind_from(std::string_view s);
/// True for the commands that carry a pot id (the newtype pot commands and
/// install_pot).
bool command_takes_pot_id(Command::Kind k);

}  // namespace honeycomb::protocol
