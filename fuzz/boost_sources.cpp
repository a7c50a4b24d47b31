// Boost.JSON and Boost.URL built from source inside the fuzz build, instrumented like the code that calls them.
#include <boost/json/src.hpp>
#include <boost/url/src.hpp>
