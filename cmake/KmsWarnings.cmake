# SPDX-License-Identifier: Apache-2.0
# INTERFACE targets that every project target links: warnings and hardening.
add_library(kms_warnings INTERFACE)
target_compile_options(kms_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wcast-qual -Wcast-align -Wformat=2
  -Wwrite-strings -Wvla -Wimplicit-fallthrough -Wstrict-prototypes
  -Wmissing-prototypes -Wundef)
if(KMS_WERROR)
  target_compile_options(kms_warnings INTERFACE -Werror)
endif()

# -Wconversion applies to the library only (style.md section 7).
add_library(kms_warnings_strict INTERFACE)
target_compile_options(kms_warnings_strict INTERFACE -Wconversion -Wsign-conversion)

add_library(kms_hardening INTERFACE)
target_compile_options(kms_hardening INTERFACE -fstack-protector-strong -fPIE
  -Wa,--noexecstack)
target_link_options(kms_hardening INTERFACE -pie -Wl,-z,relro,-z,now -Wl,-z,noexecstack)
if(NOT KMS_ASAN AND NOT KMS_UBSAN AND NOT KMS_FUZZ)
  # FORTIFY needs optimisation and fights the sanitizers' interceptors.
  target_compile_options(kms_hardening INTERFACE
    $<$<NOT:$<CONFIG:Debug>>:-U_FORTIFY_SOURCE -D_FORTIFY_SOURCE=2>)
endif()
