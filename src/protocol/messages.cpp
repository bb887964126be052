// placeholder: being written
#include "protocol/messages.hpp"
