#include "poolgate/relay/drained_wait.hpp"

namespace poolgate::relay {
namespace asio_access {

// A protected member, reached as asio_internals.hpp explains.
struct TaskResult {
  using type = unsigned int boost::asio::detail::scheduler_operation::*;
  friend type member_of(TaskResult);
};
template struct Grant<TaskResult, &boost::asio::detail::scheduler_operation::task_result_>;

}  // namespace asio_access

unsigned int DrainedWait::events_being_handled(boost::asio::detail::reactor::per_descriptor_data state) {
  // A C-style cast may convert to a private base class.
  auto* as_operation = (boost::asio::detail::scheduler_operation*)(state);
  return as_operation->*member_of(asio_access::TaskResult{});
}

}  // namespace poolgate::relay
