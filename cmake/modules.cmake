# One static library per module (DESIGN.md). Every module has a rank; a module may depend only
# on modules of a lower rank, or, among domain modules (rank 2), on each other. The table
# below is the one statement of that rule: aion_module() refuses any other dependency at
# configure time, and scripts/check-layers.py reads the same table to check that every
# #include "aion/<module>/..." names a module of the includer's DEPS (scripts/test.sh and
# the ctest test `layering` run it).
set(AION_MODULE_RANKS
  core:0
  # privacy: the gate every byte leaving the node passes (secrets and personal data).
  hw:1 store:1 tsdb:1 privacy:1
  # k8s (Kubernetes extender, node features, device plugin) is a domain module like cluster.
  # guard: sandbox profiles, network egress policy and per-job egress records for jobs.
  sched:2 cluster:2 telemetry:2 diagnose:2 logs:2 envcfg:2 tune:2 pipeline:2 k8s:2 guard:2
  # copilot and api are services side by side: neither includes the other; aiond wires the
  # copilot's POST /v1/ask into api's router, and api's node schema declares [copilot].
  api:3 copilot:3)
foreach(entry IN LISTS AION_MODULE_RANKS)
  string(REPLACE ":" ";" pair "${entry}")
  list(GET pair 0 module)
  list(GET pair 1 rank)
  set(AION_MODULE_RANK_${module} ${rank})
endforeach()

# aion_module(NAME SOURCES ... DEPS aion modules ... LIBS external targets ...)
function(aion_module name)
  cmake_parse_arguments(M "" "" "SOURCES;DEPS;LIBS;PRIVATE_LIBS" ${ARGN})
  if(NOT DEFINED AION_MODULE_RANK_${name})
    message(FATAL_ERROR "module '${name}' has no rank in cmake/modules.cmake (see DESIGN.md)")
  endif()
  foreach(dep IN LISTS M_DEPS)
    if(NOT DEFINED AION_MODULE_RANK_${dep})
      message(FATAL_ERROR "module '${name}' depends on unknown module '${dep}'")
    endif()
    set(r ${AION_MODULE_RANK_${name}})
    set(dr ${AION_MODULE_RANK_${dep}})
    if(dr GREATER r OR (dr EQUAL r AND NOT r EQUAL 2))
      message(FATAL_ERROR "layering: module '${name}' (rank ${r}) may not depend on '${dep}' (rank ${dr})")
    endif()
  endforeach()
  add_library(aion_${name} STATIC ${M_SOURCES})
  target_include_directories(aion_${name} PUBLIC ${PROJECT_SOURCE_DIR}/src ${PROJECT_BINARY_DIR}/src)
  list(TRANSFORM M_DEPS PREPEND aion_ OUTPUT_VARIABLE dep_targets)
  target_link_libraries(aion_${name} PUBLIC ${dep_targets} ${M_LIBS} PRIVATE ${M_PRIVATE_LIBS})
endfunction()
