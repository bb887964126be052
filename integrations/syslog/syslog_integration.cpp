// syslog: placeholder until the RFC 5424 implementation lands.
#include "pipeline/integration.hpp"

namespace honeycomb::integrations {
namespace {
class SyslogIntegration final : public pipeline::Integration {
 public:
  explicit SyslogIntegration(const pipeline::IntegrationContext& /*c*/) {}
  pipeline::SendResult send(std::span<const pipeline::AlertRecordPtr> /*batch*/) override {
    return {0, "not implemented"};
  }
  pipeline::TestResult test_connection() override { return {false, "not implemented"}; }
};
}  // namespace
}  // namespace honeycomb::integrations

HONEYCOMB_INTEGRATION(honeycomb::integrations::SyslogIntegration, "syslog")
