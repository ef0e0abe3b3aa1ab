# The egress programs (bpf/*.bpf.c), compiled for the BPF target and embedded in aion_guard.
# Sets GUARD_EGRESS_SOURCES (sources added to aion_guard) and GUARD_EGRESS_DEPENDS (targets
# aion_guard waits for).
#
# clang compiles bpf/egress.bpf.c with the UAPI headers of linux-libc-dev and libbpf-dev's
# <bpf/bpf_helpers.h>; bpf/embed.cmake then writes the object's bytes into a .cc, so the
# library carries its programs and needs no file at run time.
find_program(AION_BPF_CLANG NAMES clang clang-14 DOC "clang, to compile the BPF programs")
if(NOT AION_BPF_CLANG)
  message(FATAL_ERROR "clang not found: the guard's egress BPF programs are compiled with it; "
                      "install the Debian package clang (scripts/setup.sh does)")
endif()

# <linux/bpf.h> includes <asm/types.h>, which lives in the multiarch include directory
# (/usr/include/<triplet>); clang's BPF target does not search it by itself.
set(guard_bpf_multiarch "${CMAKE_LIBRARY_ARCHITECTURE}")
if(NOT guard_bpf_multiarch)
  execute_process(COMMAND ${CMAKE_C_COMPILER} -print-multiarch
                  OUTPUT_VARIABLE guard_bpf_multiarch OUTPUT_STRIP_TRAILING_WHITESPACE
                  ERROR_QUIET)
endif()
set(guard_bpf_includes "")
foreach(dir IN LISTS LIBBPF_INCLUDE_DIRS)
  list(APPEND guard_bpf_includes "-I${dir}")
endforeach()
if(guard_bpf_multiarch AND IS_DIRECTORY "/usr/include/${guard_bpf_multiarch}")
  list(APPEND guard_bpf_includes "-I/usr/include/${guard_bpf_multiarch}")
endif()
set(guard_bpf_warnings -Wall -Wextra)
if(AION_WERROR)
  list(APPEND guard_bpf_warnings -Werror)
endif()

set(guard_bpf_dir ${CMAKE_CURRENT_SOURCE_DIR}/bpf)
set(guard_bpf_object ${CMAKE_CURRENT_BINARY_DIR}/egress.bpf.o)
set(guard_bpf_embedded ${CMAKE_CURRENT_BINARY_DIR}/egress_bpf_object.cc)
add_custom_command(
  OUTPUT ${guard_bpf_object}
  COMMAND ${AION_BPF_CLANG} -O2 -g -target bpf ${guard_bpf_warnings} ${guard_bpf_includes}
          -c ${guard_bpf_dir}/egress.bpf.c -o ${guard_bpf_object}
  DEPENDS ${guard_bpf_dir}/egress.bpf.c ${guard_bpf_dir}/egress_abi.h
  COMMENT "Compiling the guard's egress BPF programs"
  VERBATIM)
add_custom_command(
  OUTPUT ${guard_bpf_embedded}
  COMMAND ${CMAKE_COMMAND} -DINPUT=${guard_bpf_object} -DOUTPUT=${guard_bpf_embedded}
          -P ${guard_bpf_dir}/embed.cmake
  DEPENDS ${guard_bpf_object} ${guard_bpf_dir}/embed.cmake
  COMMENT "Embedding the guard's egress BPF object"
  VERBATIM)
add_custom_target(aion_guard_egress_bpf DEPENDS ${guard_bpf_embedded})

set(GUARD_EGRESS_SOURCES
  ${CMAKE_CURRENT_SOURCE_DIR}/egress.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/egress_load.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/egress_rule.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/egress_tls.cc
  ${guard_bpf_embedded})
set(GUARD_EGRESS_DEPENDS aion_guard_egress_bpf)
