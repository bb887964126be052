#include "honeypot/connection_gate.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace honeycomb::honeypot {
namespace {

using boost::asio::ip::make_address;

TEST(ConnectionGate, CapsEachSourceAndCountsTheRefusals) {
  ConnectionGate gate({.max_connections = 10, .max_per_source = 2});
  ConnectionGate::Ticket a;
  ConnectionGate::Ticket b;
  ConnectionGate::Ticket c;
  EXPECT_EQ(gate.admit(make_address("192.0.2.1"), a), ConnectionGate::Verdict::admitted);
  EXPECT_EQ(gate.admit(make_address("192.0.2.1"), b), ConnectionGate::Verdict::admitted);
  EXPECT_EQ(gate.admit(make_address("192.0.2.1"), c), ConnectionGate::Verdict::source_cap);
  EXPECT_FALSE(c.valid());
  // IPv4 and its IPv4-mapped IPv6 form are the same source.
  EXPECT_EQ(gate.admit(make_address("::ffff:192.0.2.1"), c), ConnectionGate::Verdict::source_cap);
  EXPECT_EQ(gate.refused_source_cap(), 2U);
  EXPECT_EQ(gate.admit(make_address("192.0.2.2"), c), ConnectionGate::Verdict::admitted);
  EXPECT_EQ(gate.active(), 3U);
}

TEST(ConnectionGate, CapsAllConnections) {
  ConnectionGate gate({.max_connections = 3, .max_per_source = 3});
  std::vector<ConnectionGate::Ticket> tickets(4);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(gate.admit(make_address("2001:db8::" + std::to_string(i + 1)), tickets[i]),
              ConnectionGate::Verdict::admitted);
  }
  EXPECT_EQ(gate.admit(make_address("2001:db8::9"), tickets[3]), ConnectionGate::Verdict::total_cap);
  EXPECT_EQ(gate.refused_total_cap(), 1U);
}

TEST(ConnectionGate, AClosedConnectionFreesItsSlot) {
  ConnectionGate gate({.max_connections = 1, .max_per_source = 1});
  {
    ConnectionGate::Ticket t;
    ASSERT_EQ(gate.admit(make_address("198.51.100.7"), t), ConnectionGate::Verdict::admitted);
    ConnectionGate::Ticket moved = std::move(t);  // the slot moves with the ticket
    EXPECT_EQ(gate.active(), 1U);
  }
  EXPECT_EQ(gate.active(), 0U);
  ConnectionGate::Ticket again;
  EXPECT_EQ(gate.admit(make_address("198.51.100.7"), again), ConnectionGate::Verdict::admitted);
}

}  // namespace
}  // namespace honeycomb::honeypot
