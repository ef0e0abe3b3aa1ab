# The egress programs (bpf/*.bpf.c), compiled for the BPF target and embedded in aion_guard.
# Sets GUARD_EGRESS_SOURCES (sources added to aion_guard) and GUARD_EGRESS_DEPENDS (targets
# aion_guard waits for). So far the pure parts: the rule grammar and the ClientHello parser.
set(GUARD_EGRESS_SOURCES
  ${CMAKE_CURRENT_SOURCE_DIR}/egress_rule.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/egress_tls.cc)
set(GUARD_EGRESS_DEPENDS "")
