// placeholder: being written
#include "events/normalize.hpp"
