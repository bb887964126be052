// libpq, loaded when the first PostgreSQL store opens rather than linked.
// Linked, libpq.so brings Kerberos, LDAP, GnuTLS and a second OpenSSL into
// every honeycomb process — each pot's service runner too — for about 5 MB
// of resident memory each (measured with bench/idle_memory), although only
// a core on PostgreSQL ever uses it.
#pragma once

#include <libpq-fe.h>
#include <string>

namespace honeycomb::store::pg {

/// The libpq functions the store calls, resolved from libpq.so.5. Members
/// are named as the functions they hold.
struct Lib {
  decltype(&::PQclear) PQclear;
  decltype(&::PQcmdTuples) PQcmdTuples;
  decltype(&::PQconnectdbParams) PQconnectdbParams;
  decltype(&::PQconsumeInput) PQconsumeInput;
  decltype(&::PQerrorMessage) PQerrorMessage;
  decltype(&::PQexec) PQexec;
  decltype(&::PQexecParams) PQexecParams;
  decltype(&::PQfinish) PQfinish;
  decltype(&::PQfreemem) PQfreemem;
  decltype(&::PQgetResult) PQgetResult;
  decltype(&::PQgetisnull) PQgetisnull;
  decltype(&::PQgetlength) PQgetlength;
  decltype(&::PQgetvalue) PQgetvalue;
  decltype(&::PQnotifies) PQnotifies;
  decltype(&::PQntuples) PQntuples;
  decltype(&::PQputCopyData) PQputCopyData;
  decltype(&::PQputCopyEnd) PQputCopyEnd;
  decltype(&::PQresultErrorField) PQresultErrorField;
  decltype(&::PQresultStatus) PQresultStatus;
  decltype(&::PQsetNoticeProcessor) PQsetNoticeProcessor;
  decltype(&::PQsocket) PQsocket;
  decltype(&::PQstatus) PQstatus;
  decltype(&::PQtransactionStatus) PQtransactionStatus;
};

/// Loads libpq once (thread-safe); false with the reason when it is missing.
bool load(std::string& error);

/// The loaded library; only after load() returned true.
const Lib& lib();

}  // namespace honeycomb::store::pg
