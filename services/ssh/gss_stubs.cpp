// libssh.a is linked statically (a shared libssh would bring its own
// libcrypto and Kerberos into every honeycomb process: +4 MB resident, see
// docs/DEPENDENCIES.md), and it references GSS-API for the
// gssapi-with-mic login. The honeypot never offers that method and refuses
// it before libssh's GSS-API code runs (on_gssapi_select_oid in
// ssh_engine.cpp), so these definitions only satisfy the linker: each
// reports failure, none is reached.
#include <cstdint>

// NOLINTBEGIN(cppcoreguidelines-pro-type-vararg,readability-identifier-naming,cppcoreguidelines-avoid-non-const-global-variables)
extern "C" {

namespace {
constexpr std::uint32_t kGssFailure = 13U << 16U;  // GSS_S_FAILURE
}

void* GSS_C_NT_HOSTBASED_SERVICE = nullptr;
void* GSS_C_NT_USER_NAME = nullptr;

#define HONEYCOMB_GSS_STUB(name)                  \
  std::uint32_t name(std::uint32_t* minor, ...) { \
    if (minor != nullptr) {                       \
      *minor = 0;                                 \
    }                                             \
    return kGssFailure;                           \
  }

HONEYCOMB_GSS_STUB(gss_accept_sec_context)
HONEYCOMB_GSS_STUB(gss_acquire_cred)
HONEYCOMB_GSS_STUB(gss_add_oid_set_member)
HONEYCOMB_GSS_STUB(gss_create_empty_oid_set)
HONEYCOMB_GSS_STUB(gss_display_name)
HONEYCOMB_GSS_STUB(gss_display_status)
HONEYCOMB_GSS_STUB(gss_get_mic)
HONEYCOMB_GSS_STUB(gss_import_name)
HONEYCOMB_GSS_STUB(gss_indicate_mechs)
HONEYCOMB_GSS_STUB(gss_init_sec_context)
HONEYCOMB_GSS_STUB(gss_inquire_cred)
HONEYCOMB_GSS_STUB(gss_inquire_cred_by_mech)
HONEYCOMB_GSS_STUB(gss_release_buffer)
HONEYCOMB_GSS_STUB(gss_release_cred)
HONEYCOMB_GSS_STUB(gss_release_name)
HONEYCOMB_GSS_STUB(gss_release_oid_set)
HONEYCOMB_GSS_STUB(gss_test_oid_set_member)
HONEYCOMB_GSS_STUB(gss_verify_mic)

#undef HONEYCOMB_GSS_STUB
}
// NOLINTEND(cppcoreguidelines-pro-type-vararg,readability-identifier-naming,cppcoreguidelines-avoid-non-const-global-variables)
