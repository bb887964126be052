// placeholder: being written
#include "store/storage.hpp"
