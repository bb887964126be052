// placeholder: being written
#include "core/config.hpp"
