# Warnings on for the project's own targets (not for third-party headers).
function(honeycomb_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor
    -Wold-style-cast -Woverloaded-virtual -Wimplicit-fallthrough
    # GCC 12 reports false positives inside std::variant (GCC bug 105562).
    -Wno-maybe-uninitialized
    # Designated initializers that leave members at their defaults are intended.
    -Wno-missing-field-initializers)
endfunction()
