// Precompiled header: the heavy, stable third-party headers most translation units include.
#pragma once

#include <boost/asio.hpp>
#include <spdlog/spdlog.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>
