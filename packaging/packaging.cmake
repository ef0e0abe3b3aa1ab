# Installation layout and the Debian package (CPack DEB), included at the end of the top-level
# CMakeLists.txt. The package 'aion' holds:
#   /usr/bin/aiond, /usr/bin/aion           the two programs
#   /usr/lib/aion/aion-shim                 the per-job supervisor aiond starts
#   /usr/lib/aion/aion-k8s-device-plugin    the Kubernetes device plugin `aion k8s device-plugin` runs
#   /usr/lib/aion/manifest.sha256           SHA-256 of every program and data file (aion guard verify)
#   /usr/share/aion/                        data/ (signatures, compatibility tables, profiles)
#   /etc/aion/aion.toml                     the commented default config, a conffile
#   /lib/systemd/system/aiond.service       the unit (not enabled at install)
#   /usr/share/bash-completion/completions/aion, /usr/share/doc/aion/ (README.md, the manuals)
# postinst creates the 'aion' system group (API admins); postrm purges the state.
# Build it with: (cd build/release && cpack -G DEB); tests/packaging checks its contents.
if(TARGET aiond AND TARGET aion)
  install(TARGETS aiond aion RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT aion)
  install(TARGETS aion-shim aion-k8s-device-plugin RUNTIME DESTINATION lib/aion COMPONENT aion)
endif()
install(DIRECTORY ${PROJECT_SOURCE_DIR}/data/
        DESTINATION ${CMAKE_INSTALL_DATADIR}/aion COMPONENT aion)
# Absolute destinations: Debian puts configuration in /etc and units in /lib whatever the prefix.
install(FILES ${PROJECT_SOURCE_DIR}/packaging/aion.toml DESTINATION /etc/aion COMPONENT aion)
install(FILES ${PROJECT_SOURCE_DIR}/packaging/aiond.service
        DESTINATION /lib/systemd/system COMPONENT aion)
install(FILES ${PROJECT_SOURCE_DIR}/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR} COMPONENT aion)
# The manuals: read by people, and indexed by `aion ask` for how-to questions.
install(DIRECTORY ${PROJECT_SOURCE_DIR}/docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR} COMPONENT aion
        FILES_MATCHING PATTERN "*.md")
if(TARGET aion)
  # The completion script is generated from the CLI's own command tree, so it never drifts.
  add_custom_command(OUTPUT ${PROJECT_BINARY_DIR}/aion.bash-completion
                     COMMAND aion completion bash > ${PROJECT_BINARY_DIR}/aion.bash-completion
                     DEPENDS aion VERBATIM)
  add_custom_target(aion_completion ALL DEPENDS ${PROJECT_BINARY_DIR}/aion.bash-completion)
  install(FILES ${PROJECT_BINARY_DIR}/aion.bash-completion
          DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions RENAME aion
          COMPONENT aion)
endif()

# The manifest `aion guard verify` checks the installation against: the SHA-256 of every
# program and data file as installed (stripped, for the package), paths relative to the root.
# Written last, over what was just installed (CPack's staging tree, or the prefix).
install(CODE [[
  set(_dest "$ENV{DESTDIR}")
  set(_lib "${_dest}${CMAKE_INSTALL_PREFIX}/lib/aion")
  set(_out "")
  foreach(_dir "${CMAKE_INSTALL_PREFIX}/bin" "${CMAKE_INSTALL_PREFIX}/lib/aion"
               "${CMAKE_INSTALL_PREFIX}/share/aion")
    file(GLOB_RECURSE _files LIST_DIRECTORIES false "${_dest}${_dir}/*")
    list(SORT _files)
    foreach(_f IN LISTS _files)
      get_filename_component(_name "${_f}" NAME)
      if(_dir MATCHES "/bin$" AND NOT _name MATCHES "^aiond?$")
        continue()
      endif()
      if(_name STREQUAL "manifest.sha256")
        continue()
      endif()
      file(SHA256 "${_f}" _sum)
      string(REPLACE "${_dest}/" "" _rel "${_f}")
      string(REGEX REPLACE "^/" "" _rel "${_rel}")
      string(APPEND _out "${_sum}  ${_rel}
")
    endforeach()
  endforeach()
  file(MAKE_DIRECTORY "${_lib}")
  file(WRITE "${_lib}/manifest.sha256" "${_out}")
  message(STATUS "Manifest: ${_lib}/manifest.sha256")
]] COMPONENT aion)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME aion)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "aion developers")
set(CPACK_PACKAGE_CONTACT "aion developers <aion@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "AI-native node layer for GPU servers: scheduling, telemetry, diagnosis, tuning")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
# Debug info stays in the build tree; the package ships stripped programs.
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# Library dependencies are computed with dpkg-shlibdeps; adduser is for postinst.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${PROJECT_SOURCE_DIR}/packaging/conffiles
    ${PROJECT_SOURCE_DIR}/packaging/postinst
    ${PROJECT_SOURCE_DIR}/packaging/prerm
    ${PROJECT_SOURCE_DIR}/packaging/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
