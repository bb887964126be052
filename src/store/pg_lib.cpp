// See pg_lib.hpp.
#include "store/pg_lib.hpp"

#include <dlfcn.h>
#include <mutex>

namespace honeycomb::store::pg {
namespace {

Lib g_lib{};
bool g_loaded = false;
std::string g_error;

template <class Fn>
bool resolve(void* handle, const char* name, Fn& out) {
  out = reinterpret_cast<Fn>(
      dlsym(handle, name));  // NOLINT(cppcoreguidelines-pro-type-reinterpret-cast): dlsym's contract
  if (out == nullptr) {
    g_error = std::string("libpq.so.5 has no ") + name;
    return false;
  }
  return true;
}

}  // namespace

bool load(std::string& error) {
  static std::once_flag once;
  std::call_once(once, [] {
    // Never unloaded: connections may live until exit.
    void* handle = dlopen("libpq.so.5", RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
      const char* why = dlerror();
      g_error = std::string("the PostgreSQL store needs libpq (Debian package libpq5): ") +
                (why != nullptr ? why : "libpq.so.5 not found");
      return;
    }
    Lib& l = g_lib;
    g_loaded =
        resolve(handle, "PQclear", l.PQclear) && resolve(handle, "PQcmdTuples", l.PQcmdTuples) &&
        resolve(handle, "PQconnectdbParams", l.PQconnectdbParams) &&
        resolve(handle, "PQconsumeInput", l.PQconsumeInput) && resolve(handle, "PQerrorMessage", l.PQerrorMessage) &&
        resolve(handle, "PQexec", l.PQexec) && resolve(handle, "PQexecParams", l.PQexecParams) &&
        resolve(handle, "PQfinish", l.PQfinish) && resolve(handle, "PQfreemem", l.PQfreemem) &&
        resolve(handle, "PQgetResult", l.PQgetResult) && resolve(handle, "PQgetisnull", l.PQgetisnull) &&
        resolve(handle, "PQgetlength", l.PQgetlength) && resolve(handle, "PQgetvalue", l.PQgetvalue) &&
        resolve(handle, "PQnotifies", l.PQnotifies) && resolve(handle, "PQntuples", l.PQntuples) &&
        resolve(handle, "PQputCopyData", l.PQputCopyData) && resolve(handle, "PQputCopyEnd", l.PQputCopyEnd) &&
        resolve(handle, "PQresultErrorField", l.PQresultErrorField) &&
        resolve(handle, "PQresultStatus", l.PQresultStatus) &&
        resolve(handle, "PQsetNoticeProcessor", l.PQsetNoticeProcessor) && resolve(handle, "PQsocket", l.PQsocket) &&
        resolve(handle, "PQstatus", l.PQstatus) && resolve(handle, "PQtransactionStatus", l.PQtransactionStatus);
  });
  if (!g_loaded) {
    error = g_error;
  }
  return g_loaded;
}

const Lib& lib() {
  return g_lib;
}

}  // namespace honeycomb::store::pg
