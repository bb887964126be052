// wss:// — the WebSocket server with an SSL context (a self-signed
// certificate made for the test): TLS handshake, token header, hello, items;
// a plain-TCP WebSocket client gets nowhere.
#include "core/auth.hpp"
#include "core/metrics.hpp"
#include "core/stream_hub.hpp"
#include "core/ws/ws_server.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <string>
#include <thread>
#include <vector>

namespace honeycomb::core {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

constexpr auto kTimeout = std::chrono::seconds(20);

struct Pem {
  std::string cert;
  std::string key;
};

std::string bio_text(BIO* bio) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(n));
}

/// A throwaway self-signed P-256 certificate for CN=localhost.
Pem self_signed() {
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"),
                                                          &EVP_PKEY_free);
  std::unique_ptr<X509, decltype(&X509_free)> cert(X509_new(), &X509_free);
  if (!key || !cert) {
    return {};
  }
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -60);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3600);
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) {
    return {};
  }
  std::unique_ptr<BIO, decltype(&BIO_free)> cert_bio(BIO_new(BIO_s_mem()), &BIO_free);
  std::unique_ptr<BIO, decltype(&BIO_free)> key_bio(BIO_new(BIO_s_mem()), &BIO_free);
  PEM_write_bio_X509(cert_bio.get(), cert.get());
  PEM_write_bio_PrivateKey(key_bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr);
  return {bio_text(cert_bio.get()), bio_text(key_bio.get())};
}

/// Runs one asynchronous operation of `stream` on `io` under a deadline.
template <class Stream, class Initiate>
beast::error_code run(asio::io_context& io, Stream& stream, Initiate initiate) {
  beast::error_code result;
  bool done = false;
  beast::get_lowest_layer(stream).expires_after(kTimeout);
  initiate([&](beast::error_code ec, auto&&...) {
    result = ec;
    done = true;
  });
  io.restart();
  while (!done && io.run_one() != 0) {
  }
  return done ? result : beast::error_code(asio::error::operation_aborted);
}

TEST(WsTls, WssWithTokenHeader) {
  char tmpl[] = "/tmp/honeycomb-wstls-test-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::filesystem::path dir = tmpl;
  std::string error;
  store::StorageOptions options;
  options.path = (dir / "events.db").string();
  auto storage = store::open_sqlite(options, error);
  ASSERT_TRUE(storage) << error;
  Auth auth(*storage);
  const std::string token = auth.create("tls");

  const auto pem = self_signed();
  ASSERT_FALSE(pem.cert.empty());
  auto server_tls = std::make_shared<ssl::context>(ssl::context::tls_server);
  server_tls->use_certificate_chain(asio::buffer(pem.cert));
  server_tls->use_private_key(asio::buffer(pem.key), ssl::context::pem);

  CoreConfig config;
  config.ws_listen = Listen{"127.0.0.1", 0};
  StreamHub hub;
  Metrics metrics;
  asio::thread_pool pool(1);
  {
    asio::io_context io(1);
    auto work = asio::make_work_guard(io);
    WsServer server(io, WsContext{config, hub, auth, metrics, pool}, server_tls);
    ASSERT_EQ(server.start(), "");
    std::thread thread([&io] { io.run(); });
    const tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), server.port());
    const std::string host = "localhost:" + std::to_string(server.port());

    {
      asio::io_context cio;
      ssl::context client_tls(ssl::context::tls_client);
      client_tls.set_verify_mode(ssl::verify_peer);
      client_tls.add_certificate_authority(asio::buffer(pem.cert));
      websocket::stream<beast::ssl_stream<beast::tcp_stream>> ws(cio, client_tls);
      EXPECT_FALSE(run(cio, ws, [&](auto h) { beast::get_lowest_layer(ws).async_connect(endpoint, std::move(h)); }));
      EXPECT_FALSE(
          run(cio, ws, [&](auto h) { ws.next_layer().async_handshake(ssl::stream_base::client, std::move(h)); }));
      ws.set_option(websocket::stream_base::decorator(
          [&token](websocket::request_type& req) { req.set(http::field::authorization, "Bearer " + token); }));
      EXPECT_FALSE(run(cio, ws, [&](auto h) { ws.async_handshake(host, "/api/v1/stream", std::move(h)); }));
      beast::flat_buffer buffer;
      EXPECT_FALSE(run(cio, ws, [&](auto h) { ws.async_read(buffer, std::move(h)); }));
      EXPECT_EQ(beast::buffers_to_string(buffer.data()), R"({"type":"hello","version":"1","filter":{}})");

      auto item = std::make_shared<StreamItem>();
      item->json = R"({"type":"event","tag":"tls"})";
      hub.publish(item);
      buffer.clear();
      EXPECT_FALSE(run(cio, ws, [&](auto h) { ws.async_read(buffer, std::move(h)); }));
      EXPECT_EQ(beast::buffers_to_string(buffer.data()), item->json);
      EXPECT_FALSE(run(cio, ws, [&](auto h) { ws.async_close(websocket::close_code::normal, std::move(h)); }));
    }
    {
      // Plain WebSocket to the TLS port: no upgrade.
      asio::io_context cio;
      websocket::stream<beast::tcp_stream> ws(cio);
      EXPECT_FALSE(run(cio, ws, [&](auto h) { beast::get_lowest_layer(ws).async_connect(endpoint, std::move(h)); }));
      EXPECT_TRUE(run(cio, ws, [&](auto h) { ws.async_handshake(host, "/api/v1/stream", std::move(h)); }));
    }

    server.stop();
    work.reset();
    io.stop();
    thread.join();
    pool.join();
  }
  EXPECT_FALSE(hub.has_subscribers());
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

}  // namespace
}  // namespace honeycomb::core
