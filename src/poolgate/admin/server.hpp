// The admin HTTP endpoint (--admin-listen): GET /metrics, /healthz, /readyz, served by Boost.Beast on a thread
// and io_context of its own, so a scrape never runs on a worker's event loop. Beast stays inside server.cpp.
#pragma once

#include "poolgate/admin/telemetry.hpp"
#include "poolgate/config/address.hpp"

#include <boost/asio/ip/tcp.hpp>

#include <memory>
#include <stdexcept>

namespace poolgate::admin {

class AdminListenError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class AdminServer {
 public:
  AdminServer(config::HostPort address, const Telemetry& telemetry);
  ~AdminServer();  // stops the thread
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  // Binds, starts the admin thread and returns the bound address. Throws AdminListenError with a message for
  // the operator ("admin address 127.0.0.1:9778 is already in use").
  boost::asio::ip::tcp::endpoint start();
  // Closes the listener and every admin connection and joins the thread. Idempotent.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace poolgate::admin
