# Installation layout and the Debian package (CPack DEB), included at the end of the top-level
# CMakeLists.txt. The package 'aion' holds:
#   /usr/bin/aiond, /usr/bin/aion           the two programs
#   /usr/lib/aion/aion-shim                 the per-job supervisor aiond starts
#   /usr/lib/aion/aion-k8s-device-plugin    the Kubernetes device plugin `aion k8s device-plugin` runs
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
