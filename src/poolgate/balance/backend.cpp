#include "poolgate/balance/backend.hpp"

#include <algorithm>

namespace poolgate::balance {

BackendPtr BackendSet::find(const std::string& key) const {
  auto it = std::lower_bound(backends.begin(), backends.end(), key,
                             [](const BackendPtr& backend, const std::string& k) { return backend->key < k; });
  return it != backends.end() && (*it)->key == key ? *it : nullptr;
}

}  // namespace poolgate::balance
