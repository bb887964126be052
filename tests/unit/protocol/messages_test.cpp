#include "protocol/messages.hpp"

#include <gtest/gtest.h>

namespace honeycomb::protocol {
namespace {

TEST(ProtocolMessages, WireNames) {
  EXPECT_STREQ(to_string(NodeType::full), "Full");
  EXPECT_STREQ(to_string(NodeType::agent), "Agent");
  EXPECT_STREQ(to_string(NodeStatus::connected), "Connected");
  EXPECT_STREQ(to_string(NodeStatus::deploying), "Deploying");
  EXPECT_STREQ(to_string(NodeStatus::running), "Running");
  EXPECT_STREQ(to_string(NodeStatus::stopped), "Stopped");
  EXPECT_STREQ(to_string(NodeStatus::failed), "Failed");
  EXPECT_STREQ(to_string(NodeStatus::unknown), "Unknown");
  EXPECT_STREQ(to_string(PotStatus::installing), "Installing");
  EXPECT_STREQ(to_string(PotStatus::running), "Running");
  EXPECT_STREQ(to_string(PotStatus::stopped), "Stopped");
  EXPECT_STREQ(to_string(PotStatus::failed), "Failed");
  EXPECT_STREQ(to_string(PotStatus::unknown), "Unknown");
  EXPECT_STREQ(to_string(NodeEvent::Kind::started), "Started");
  EXPECT_STREQ(to_string(NodeEvent::Kind::stopped), "Stopped");
  EXPECT_STREQ(to_string(NodeEvent::Kind::alarm), "Alarm");
  EXPECT_STREQ(to_string(NodeEvent::Kind::error), "Error");
  EXPECT_STREQ(to_string(Command::Kind::restart), "Restart");
  EXPECT_STREQ(to_string(Command::Kind::update_config), "UpdateConfig");
  EXPECT_STREQ(to_string(Command::Kind::install_pot), "InstallPot");
  EXPECT_STREQ(to_string(Command::Kind::deploy_pot), "DeployPot");
  EXPECT_STREQ(to_string(Command::Kind::stop_pot), "StopPot");
  EXPECT_STREQ(to_string(Command::Kind::restart_pot), "RestartPot");
  EXPECT_STREQ(to_string(Command::Kind::get_pot_status), "GetPotStatus");
  EXPECT_STREQ(to_string(Command::Kind::get_pot_info), "GetPotInfo");
  EXPECT_STREQ(to_string(Command::Kind::get_pot_logs), "GetPotLogs");
  EXPECT_STREQ(to_string(Command::Kind::get_pot_metrics), "GetPotMetrics");
  EXPECT_STREQ(to_string(Command::Kind::get_installed_pots), "GetInstalledPots");
}

TEST(ProtocolMessages, ParsesWireNamesCaseInsensitively) {
  EXPECT_EQ(node_type_from("Full"), NodeType::full);
  EXPECT_EQ(node_type_from("agent"), NodeType::agent);
  EXPECT_EQ(node_type_from("Sensor"), std::nullopt);
  EXPECT_EQ(node_status_from("Running"), NodeStatus::running);
  EXPECT_EQ(node_status_from("DEPLOYING"), NodeStatus::deploying);
  EXPECT_EQ(node_status_from("Unknown"), NodeStatus::unknown);
  EXPECT_EQ(node_status_from("Runnin"), std::nullopt);
  EXPECT_EQ(node_status_from(""), std::nullopt);
  EXPECT_EQ(pot_status_from("installing"), PotStatus::installing);
  EXPECT_EQ(pot_status_from("Failed"), PotStatus::failed);
  EXPECT_EQ(pot_status_from("Deploying"), std::nullopt);
  EXPECT_EQ(node_event_kind_from("alarm"), NodeEvent::Kind::alarm);
  EXPECT_EQ(node_event_kind_from("Crashed"), std::nullopt);
  EXPECT_EQ(command_kind_from("GetPotLogs"), Command::Kind::get_pot_logs);
  EXPECT_EQ(command_kind_from("getinstalledpots"), Command::Kind::get_installed_pots);
  EXPECT_EQ(command_kind_from("Reboot"), std::nullopt);
}

TEST(ProtocolMessages, EveryWireNameParsesBack) {
  for (auto k :
       {Command::Kind::restart, Command::Kind::update_config, Command::Kind::install_pot, Command::Kind::deploy_pot,
        Command::Kind::stop_pot, Command::Kind::restart_pot, Command::Kind::get_pot_status, Command::Kind::get_pot_info,
        Command::Kind::get_pot_logs, Command::Kind::get_pot_metrics, Command::Kind::get_installed_pots}) {
    EXPECT_EQ(command_kind_from(to_string(k)), k) << to_string(k);
  }
  for (auto s : {NodeStatus::connected, NodeStatus::deploying, NodeStatus::running, NodeStatus::stopped,
                 NodeStatus::failed, NodeStatus::unknown}) {
    EXPECT_EQ(node_status_from(to_string(s)), s) << to_string(s);
  }
  for (auto s : {PotStatus::installing, PotStatus::running, PotStatus::stopped, PotStatus::failed}) {
    EXPECT_EQ(pot_status_from(to_string(s)), s) << to_string(s);
  }
}

TEST(ProtocolMessages, CommandsTakingAPotId) {
  EXPECT_FALSE(command_takes_pot_id(Command::Kind::restart));
  EXPECT_FALSE(command_takes_pot_id(Command::Kind::update_config));
  EXPECT_FALSE(command_takes_pot_id(Command::Kind::get_installed_pots));
  EXPECT_TRUE(command_takes_pot_id(Command::Kind::install_pot));
  EXPECT_TRUE(command_takes_pot_id(Command::Kind::deploy_pot));
  EXPECT_TRUE(command_takes_pot_id(Command::Kind::stop_pot));
  EXPECT_TRUE(command_takes_pot_id(Command::Kind::restart_pot));
  EXPECT_TRUE(command_takes_pot_id(Command::Kind::get_pot_status));
  EXPECT_TRUE(command_takes_pot_id(Command::Kind::get_pot_info));
  EXPECT_TRUE(command_takes_pot_id(Command::Kind::get_pot_logs));
  EXPECT_TRUE(command_takes_pot_id(Command::Kind::get_pot_metrics));
}

TEST(ProtocolMessages, Equality) {
  NodeRegistration a{.node_id = 1, .node_name = "n", .address = "a", .port = 9001};
  NodeRegistration b = a;
  EXPECT_EQ(Message(a), Message(b));
  b.totp_code = "123456";
  EXPECT_NE(Message(a), Message(b));
  PotEvent e1{.node_id = 1, .pot_id = "p"};
  PotEvent e2 = e1;
  e2.data["k"] = "v";
  EXPECT_NE(Message(e1), Message(e2));
  EXPECT_EQ(Message(NodeDrop{}), Message(NodeDrop{}));
}

}  // namespace
}  // namespace honeycomb::protocol
