#include "support/nginx.hpp"

#include "support/wait.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <stdexcept>

namespace poolgate::test {
namespace {

// A port the kernel considers free right now (bound to 0, then released): nginx binds it a moment later.
std::uint16_t pick_free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    if (fd >= 0) ::close(fd);
    throw std::runtime_error("cannot pick a free loopback port");
  }
  ::close(fd);
  return ntohs(address.sin_port);
}

bool accepts_connections(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(port);
  const bool connected = fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  if (fd >= 0) ::close(fd);
  return connected;
}

}  // namespace

NginxBackend::NginxBackend(const std::filesystem::path& dir) : port_(pick_free_port()) {
  std::filesystem::create_directories(dir / "temp");
  const std::string d = dir.string();
  const std::filesystem::path config = dir / "nginx.conf";
  std::ofstream(config) << "daemon off;\nmaster_process off;\nworker_processes 1;\n"
                        << "pid " << d << "/nginx.pid;\nerror_log " << d << "/error.log;\n"
                        << "events { worker_connections 4096; }\n"
                        << "http {\n  access_log off;\n"
                        << "  client_body_temp_path " << d << "/temp/body;\n"
                        << "  proxy_temp_path " << d << "/temp/proxy;\n"
                        << "  fastcgi_temp_path " << d << "/temp/fastcgi;\n"
                        << "  uwsgi_temp_path " << d << "/temp/uwsgi;\n"
                        << "  scgi_temp_path " << d << "/temp/scgi;\n"
                        << "  keepalive_requests 100000;\n  keepalive_timeout 75s;\n"
                        << "  server {\n    listen 127.0.0.1:" << port_ << ";\n"
                        << "    location / { return 200 \"" << kBodyPrefix << "$connection\"; }\n  }\n}\n";
  process_ = std::make_unique<PoolgateProcess>("/usr/sbin/nginx", std::vector<std::string>{"-c", config.string(), "-e", d + "/error.log"},
                                               dir / "nginx.out");
  if (!wait_until([&] { return accepts_connections(port_) || !process_->running(); }, 10s) || !process_->running()) {
    throw std::runtime_error("nginx did not come up on port " + std::to_string(port_) + "; see " + d + "/error.log");
  }
}

}  // namespace poolgate::test
