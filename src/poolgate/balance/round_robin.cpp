#include "poolgate/balance/round_robin.hpp"

namespace poolgate::balance {

void RoundRobin::reset(BackendSetPtr set) {
  set_ = std::move(set);
  cursor_ = 0;
}

Backend* RoundRobin::Attempt::next() {
  if (!owner_.set_) return nullptr;
  const auto& backends = owner_.set_->backends;
  const std::size_t count = backends.size();
  while (visited_ < count) {
    const std::size_t index = (start_ + visited_) % count;
    ++visited_;
    Backend& candidate = *backends[index];
    if (candidate.active.load(std::memory_order_relaxed)) {
      // The next client starts after this one, so inactive backends do not skew the rotation.
      owner_.cursor_ = (index + 1) % count;
      return &candidate;
    }
  }
  return nullptr;
}

}  // namespace poolgate::balance
