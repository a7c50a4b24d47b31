// Round-robin choice over the active backends of one worker, with failover that visits each backend at
// most once per client.
#pragma once

#include "poolgate/balance/backend.hpp"

#include <cstddef>

namespace poolgate::balance {

class RoundRobin {
 public:
  // The candidates for one client, in order: active backends only, starting after the last one picked.
  class Attempt {
   public:
    // The next active backend this client has not tried yet, or nullptr when there is none left.
    Backend* next();

   private:
    friend class RoundRobin;
    Attempt(RoundRobin& owner, std::size_t start) : owner_(owner), start_(start) {}
    RoundRobin& owner_;
    std::size_t start_;
    std::size_t visited_ = 0;
  };

  void reset(BackendSetPtr set);
  const BackendSetPtr& set() const { return set_; }
  Attempt start() { return Attempt(*this, cursor_); }

 private:
  BackendSetPtr set_;
  std::size_t cursor_ = 0;
};

}  // namespace poolgate::balance
