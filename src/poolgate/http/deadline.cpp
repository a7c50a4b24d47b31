#include "poolgate/http/deadline.hpp"

namespace poolgate::http {

void arm(const std::shared_ptr<Deadline>& deadline, config::Duration after) {
  const std::uint64_t generation = ++deadline->generation;
  deadline->expired = false;
  deadline->timer.expires_after(after);
  deadline->timer.async_wait([deadline, generation](const boost::system::error_code& ec) {
    if (ec || deadline->generation != generation || deadline->watched == nullptr) return;
    deadline->expired = true;
    boost::system::error_code ignored;
    deadline->watched->cancel(ignored);
  });
}

void disarm(Deadline& deadline) {
  ++deadline.generation;
  deadline.timer.cancel();
}

}  // namespace poolgate::http
