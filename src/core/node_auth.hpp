// Who may speak for which node on the Protocol v2 port (docs/SECURITY.md).
//
// With `node_auth: certificate` (the default) the core runs its own CA
// (<data_dir>/pki, created at first start). A node proves itself with a
// client certificate that CA issued to it, bound to its node id; it gets one
// by presenting a one-time join token the operator created (`honeycomb core
// token create --node NAME`) with a certificate request (the `enroll`
// extension). With `node_auth: open` anyone may register, as with the public
// HoneyBee core. TOTP (spec §2) can be required on top of either.
//
// Decisions the sessions take per message (check_registration,
// certificate_current) use memory only; what needs the database (enroll,
// refresh) runs on the database pool.
#pragma once

#include "common/log.hpp"
#include "core/config.hpp"
#include "protocol/messages.hpp"
#include "security/pki.hpp"
#include "store/storage.hpp"

#include <boost/asio/ssl/context.hpp>
#include <boost/asio/thread_pool.hpp>

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace honeycomb::core {

/// A node connection as the authority sees it.
struct NodePeer {
  std::string address;                                ///< "ip:port"
  std::optional<security::NodeIdentity> certificate;  ///< the verified client certificate, when one was presented
};

class NodeAuthority {
 public:
  NodeAuthority(const CoreConfig& config, store::Storage& storage, boost::asio::thread_pool& pool);

  /// Blocking, at start-up: loads (or creates) the CA and the node port's
  /// TLS context in certificate mode, the issued certificates and the TOTP
  /// secrets. Error text, empty on success.
  std::string start();
  /// The node port's TLS context in certificate mode; null in open mode.
  std::shared_ptr<boost::asio::ssl::context> node_tls() const { return tls_; }
  bool certificates_required() const { return config_.node_auth == NodeAuth::certificate; }
  /// The CA's fingerprint (what join tokens pin); empty in open mode.
  std::string ca_fingerprint() const;

  /// Non-blocking. Empty when the registration may go on (`ack.totp_key`
  /// is set when a TOTP secret is handed out now); otherwise why not.
  std::string check_registration(const NodePeer& peer, const protocol::NodeRegistration& registration,
                                 protocol::RegistrationAck& ack);
  /// Non-blocking: a session authenticated by this certificate may go on.
  bool certificate_current(const std::string& serial) const;

  /// Blocking (run it on the database pool): enrollment with a join token,
  /// or the renewal of the peer's own certificate.
  protocol::EnrollAck enroll(const NodePeer& peer, const protocol::Enroll& request);
  /// Blocking: reloads the certificate list (revocations made with the
  /// CLI); true when a certificate was revoked since the last reload.
  bool refresh();
  /// Non-blocking: the record is written on the database pool.
  void audit(std::string actor, std::string action, std::string target, std::string outcome);

 private:
  std::string check_certificate(const NodePeer& peer, const protocol::NodeRegistration& registration) const;
  std::string check_totp(const protocol::NodeRegistration& registration, protocol::RegistrationAck& ack);
  protocol::EnrollAck refuse(const NodePeer& peer, const protocol::Enroll& request, std::string reason);

  const CoreConfig& config_;
  store::Storage& storage_;
  boost::asio::thread_pool& pool_;
  std::optional<security::CertificateAuthority> ca_;
  std::shared_ptr<boost::asio::ssl::context> tls_;
  std::shared_ptr<spdlog::logger> log_;
  log::RateLimiter refusal_audit_{20};  ///< refusals recorded per second, at most

  struct CertificateState {
    std::uint64_t node_id = 0;
    std::string node_name;
    std::int64_t not_after_us = 0;
    bool revoked = false;
  };
  struct TotpState {
    std::string key;
    std::int64_t last_step = 0;  ///< a code is accepted once
  };
  mutable std::mutex mutex_;
  std::unordered_map<std::string, CertificateState> certificates_;  ///< by serial
  std::unordered_map<std::uint64_t, TotpState> totp_;               ///< by node id
};

}  // namespace honeycomb::core
