// The two Kubernetes API objects that list the API servers, and the requests that fetch them: the
// EndpointSlices of the `kubernetes` service (discovery.k8s.io/v1), and its older core/v1 Endpoints object.
#pragma once

#include "poolgate/config/address.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace poolgate::discovery {

// The port the API servers are taken to listen on when the object names no port "https".
inline constexpr std::uint16_t kDefaultApiServerPort = 6443;

// GET targets (path and encoded query).
std::string endpoint_slices_target();  // .../endpointslices?labelSelector=kubernetes.io%2Fservice-name%3Dkubernetes
std::string endpoints_target();        // /api/v1/namespaces/default/endpoints/kubernetes

// An EndpointSliceList: every address of every endpoint whose conditions.ready is not false, with the slice's
// port named "https" (else 6443). FQDN slices are skipped. Sorted by text, without duplicates; IPv6 hosts
// print as [addr]:port. Throws DiscoveryError naming the field: "EndpointSliceList: items[0].endpoints[1]...".
std::vector<config::HostPort> parse_endpoint_slice_list(std::string_view json);

// An Endpoints object: every address of every subset (notReadyAddresses are left out), with the subset's
// port named "https" (else 6443). Sorted, without duplicates. Throws DiscoveryError naming the field.
std::vector<config::HostPort> parse_endpoints(std::string_view json);

// A short reason from an error response's body: the message of a Kubernetes Status object, else the start of
// the body; empty if there is nothing useful.
std::string status_message(std::string_view body);

}  // namespace poolgate::discovery
