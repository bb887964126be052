#include "core/node_auth.hpp"

#include "common/clock.hpp"
#include "security/join_token.hpp"
#include "security/totp.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/asio/post.hpp>
#include <fmt/format.h>

#include <chrono>
#include <openssl/ssl.h>

namespace honeycomb::core {

namespace asio = boost::asio;

namespace {

/// The node port's server certificate is issued at every start (its key
/// never touches the disk); nodes trust the CA, not this certificate.
constexpr auto kServerCertificateValidity = std::chrono::hours(24 * 397);

}  // namespace

NodeAuthority::NodeAuthority(const CoreConfig& config, store::Storage& storage, asio::thread_pool& pool)
    : config_(config), storage_(storage), pool_(pool), log_(log::get("core.auth")) {}

std::string NodeAuthority::start() {
  if (certificates_required()) {
    auto loaded = security::CertificateAuthority::load_or_create(config_.pki_dir());
    if (auto* error = std::get_if<std::string>(&loaded)) {
      return "the node CA in " + config_.pki_dir().string() + ": " + *error;
    }
    ca_ = std::move(std::get<security::CertificateAuthority>(loaded));
    const auto server = ca_->issue_server(kServerCertificateValidity);
    auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
    // TLS 1.3 only: every node is ours, none needs an older version.
    SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_3_VERSION);
    boost::system::error_code ec;
    // The CA goes in the chain: a node enrolling checks it against the
    // fingerprint in its join token before it trusts anything else.
    const std::string chain = server.certificate_pem + ca_->certificate_pem();
    ctx->use_certificate_chain(asio::buffer(chain), ec);
    if (!ec) {
      ctx->use_private_key(asio::buffer(server.key_pem), asio::ssl::context::pem, ec);
    }
    if (!ec) {
      ctx->add_certificate_authority(asio::buffer(ca_->certificate_pem()), ec);
    }
    if (ec) {
      return "the node port's TLS setup: " + ec.message();
    }
    // A client certificate is asked for, not required: a node without one
    // may only enroll (the session enforces it, with a reason it can log).
    ctx->set_verify_mode(asio::ssl::verify_peer);
    tls_ = std::move(ctx);
  }
  refresh();
  std::lock_guard lock(mutex_);
  for (auto& [node_id, key] : storage_.node_totp_keys()) {
    totp_[node_id].key = key;
  }
  return {};
}

std::string NodeAuthority::ca_fingerprint() const {
  return ca_ ? ca_->fingerprint() : std::string();
}

bool NodeAuthority::refresh() {
  auto listed = storage_.node_certificates();
  std::lock_guard lock(mutex_);
  bool newly_revoked = false;
  for (auto& c : listed) {
    auto it = certificates_.find(c.serial);
    const bool revoked = c.revoked_us != 0;
    if (it != certificates_.end() && revoked && !it->second.revoked) {
      newly_revoked = true;
    }
    certificates_[c.serial] = CertificateState{c.node_id, c.node_name, c.not_after_us, revoked};
  }
  return newly_revoked;
}

bool NodeAuthority::certificate_current(const std::string& serial) const {
  std::lock_guard lock(mutex_);
  auto it = certificates_.find(serial);
  return it != certificates_.end() && !it->second.revoked;
}

std::string NodeAuthority::check_certificate(const NodePeer& peer,
                                             const protocol::NodeRegistration& registration) const {
  if (!certificates_required()) {
    return {};
  }
  if (!peer.certificate) {
    return "this core requires a node certificate: enroll the node with a join token "
           "(honeycomb core token create --node NAME, then honeycomb node --join TOKEN)";
  }
  const auto& cert = *peer.certificate;
  {
    std::lock_guard lock(mutex_);
    auto it = certificates_.find(cert.serial);
    if (it == certificates_.end()) {
      return fmt::format("certificate {} was not issued by this core's records", cert.serial);
    }
    if (it->second.revoked) {
      return fmt::format("certificate {} of node {} is revoked", cert.serial, cert.node_id);
    }
  }
  if (registration.node_id != cert.node_id) {
    return fmt::format("the certificate is node {}'s, the registration claims node {}", cert.node_id,
                       registration.node_id);
  }
  return {};
}

std::string NodeAuthority::check_totp(const protocol::NodeRegistration& registration, protocol::RegistrationAck& ack) {
  if (!config_.node_totp) {
    return {};
  }
  std::unique_lock lock(mutex_);
  auto& state = totp_[registration.node_id];
  if (state.key.empty()) {
    // First registration of this node (after its enrollment, with
    // certificates): the secret goes out in the ack, once (spec §2).
    state.key = security::make_totp_key();
    ack.totp_key = state.key;
    lock.unlock();
    asio::post(pool_,
               [this, id = registration.node_id, key = *ack.totp_key]() { storage_.set_node_totp_key(id, key); });
    return {};
  }
  if (!registration.totp_code || registration.totp_code->empty()) {
    return "a TOTP code is required (this node was given its TOTP secret at its first registration)";
  }
  if (!security::totp_verify(state.key, *registration.totp_code, unix_now_seconds(), &state.last_step)) {
    return "wrong TOTP code";
  }
  return {};
}

std::string NodeAuthority::check_registration(const NodePeer& peer, const protocol::NodeRegistration& registration,
                                              protocol::RegistrationAck& ack) {
  auto reason = check_certificate(peer, registration);
  if (reason.empty()) {
    reason = check_totp(registration, ack);
  }
  if (!reason.empty()) {
    ack.totp_key.reset();
    audit("peer:" + peer.address, "node.register", std::to_string(registration.node_id), reason);
  }
  return reason;
}

protocol::EnrollAck NodeAuthority::refuse(const NodePeer& peer, const protocol::Enroll& request, std::string reason) {
  audit("peer:" + peer.address, request.join_token.empty() ? "node.renew" : "node.enroll",
        std::to_string(request.node_id), reason);
  protocol::EnrollAck ack;
  ack.node_id = request.node_id;
  ack.accepted = false;
  ack.message = std::move(reason);
  return ack;
}

protocol::EnrollAck NodeAuthority::enroll(const NodePeer& peer, const protocol::Enroll& request) {
  if (!ca_) {
    return refuse(peer, request, "this core does not enroll nodes (node_auth: open)");
  }
  if (request.node_id == 0) {
    return refuse(peer, request, "node id 0 is not a node id");
  }
  std::string node_name;
  const bool renewal = peer.certificate.has_value();
  if (renewal) {
    if (!certificate_current(peer.certificate->serial)) {
      return refuse(peer, request, "the certificate of this connection is revoked");
    }
    if (request.node_id != peer.certificate->node_id) {
      return refuse(peer, request,
                    fmt::format("the certificate is node {}'s, the renewal asks for node {}", peer.certificate->node_id,
                                request.node_id));
    }
    node_name = peer.certificate->node_name;
  } else if (request.join_token.empty()) {
    return refuse(peer, request, "a join token is required");
  }
  // The request is checked before the token is spent: a node that sent a
  // bad request can try again with the same token.
  auto signed_or_error =
      ca_->sign_node_csr(request.csr, request.node_id, renewal ? node_name : request.node_name,
                         std::chrono::duration_cast<std::chrono::seconds>(config_.node_cert_validity));
  if (auto* error = std::get_if<std::string>(&signed_or_error)) {
    return refuse(peer, request, "bad certificate request: " + *error);
  }
  if (!renewal) {
    const auto now = unix_now_us();
    auto redeemed = storage_.redeem_join_token(security::hash_secret(request.join_token), request.node_id, now);
    if (auto* error = std::get_if<std::string>(&redeemed)) {
      return refuse(peer, request, *error);
    }
    node_name = std::get<store::JoinTokenRecord>(redeemed).node_name;
    // A token is for a node name; the id it claims must not be another
    // node's, or a token for a new sensor would take over an existing one.
    std::lock_guard lock(mutex_);
    for (const auto& [serial, c] : certificates_) {
      if (c.node_id == request.node_id && !c.revoked && c.node_name != node_name) {
        return refuse(peer, request,
                      fmt::format("node id {} belongs to the enrolled node '{}'", request.node_id, c.node_name));
      }
    }
  }
  // The certificate carries the name the operator chose (the token's),
  // whatever the request said.
  signed_or_error = ca_->sign_node_csr(request.csr, request.node_id, node_name,
                                       std::chrono::duration_cast<std::chrono::seconds>(config_.node_cert_validity));
  if (auto* error = std::get_if<std::string>(&signed_or_error)) {
    return refuse(peer, request, "bad certificate request: " + *error);
  }
  auto& issued = std::get<security::IssuedCertificate>(signed_or_error);
  store::NodeCertificateRecord record;
  record.serial = issued.serial;
  record.node_id = request.node_id;
  record.node_name = node_name;
  record.issued_us = unix_now_us();
  record.not_after_us = issued.not_after * 1'000'000;
  if (!storage_.add_node_certificate(record)) {
    return refuse(peer, request, "the core could not record the certificate");
  }
  {
    std::lock_guard lock(mutex_);
    certificates_[record.serial] = CertificateState{record.node_id, record.node_name, record.not_after_us, false};
  }
  const char* action = renewal ? "node.renew" : "node.enroll";
  storage_.audit(store::AuditRecord{0, 0, "peer:" + peer.address, action,
                                    fmt::format("{} ({})", request.node_id, node_name), "ok"});
  log_->info("node {} ('{}') {} from {}: certificate {}", request.node_id, node_name,
             renewal ? "renewed its certificate" : "enrolled", peer.address, record.serial);
  protocol::EnrollAck ack;
  ack.node_id = request.node_id;
  ack.accepted = true;
  ack.certificate = std::move(issued.certificate_pem);
  ack.ca_certificate = ca_->certificate_pem();
  return ack;
}

void NodeAuthority::audit(std::string actor, std::string action, std::string target, std::string outcome) {
  // Refusals are what anyone on the network can cause: a flood of them must
  // not flood the database (what is held back is counted in the log).
  if (outcome != "ok") {
    std::uint64_t suppressed = 0;
    if (!refusal_audit_.allow(suppressed)) {
      return;
    }
    if (suppressed != 0) {
      outcome += fmt::format(" ({} similar refusals not recorded)", suppressed);
    }
  }
  asio::post(pool_,
             [this, record = store::AuditRecord{0, unix_now_us(), std::move(actor), std::move(action),
                                                std::move(target), std::move(outcome)}]() { storage_.audit(record); });
}

}  // namespace honeycomb::core
