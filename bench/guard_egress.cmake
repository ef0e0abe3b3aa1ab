# guard_egress_bench: what the guard's egress monitor (cgroup BPF programs) costs a
# connect-heavy job: loopback TCP connections and UDP sends from a worker in a cgroup, with
# no monitor, a recording one and a 20-rule allow list; needs root and a cgroup2 mount.
# Writes bench/results/guard_egress.json.
add_executable(guard_egress_bench ${CMAKE_CURRENT_LIST_DIR}/guard_egress_bench.cc)
target_link_libraries(guard_egress_bench PRIVATE aion_guard aion_core)
target_compile_definitions(guard_egress_bench PRIVATE
  AION_BENCH_RESULTS_DIR="${AION_BENCH_RESULTS_DIR}")
