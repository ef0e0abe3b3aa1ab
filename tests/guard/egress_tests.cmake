# The egress monitor: the rule grammar and the ClientHello parser (pure), and live tests that
# attach its BPF programs to a fresh cgroup2 directory (they need root, bpf() and a cgroup2
# mount, and skip with the reason where one is missing).
aion_test(guard_egress_test PREFIX "guard."
  SOURCES egress_test.cc
  LIBS aion_guard
  LABELS root)
