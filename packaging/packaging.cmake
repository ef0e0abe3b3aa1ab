# Installation layout and the Debian package (CPack DEB):
#   /usr/bin/aiond, /usr/bin/aion, /usr/share/aion (data), /etc/aion/aion.toml (conffile),
#   /lib/systemd/system/aiond.service, bash completion; postinst creates the 'aion' group.
if(TARGET aiond AND TARGET aion)
  install(TARGETS aiond aion RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT aion)
endif()
install(DIRECTORY ${PROJECT_SOURCE_DIR}/data/ DESTINATION ${CMAKE_INSTALL_DATADIR}/aion COMPONENT aion)
install(FILES ${PROJECT_SOURCE_DIR}/packaging/aion.toml DESTINATION /etc/aion COMPONENT aion)
install(FILES ${PROJECT_SOURCE_DIR}/packaging/aiond.service DESTINATION /lib/systemd/system COMPONENT aion)
install(FILES ${PROJECT_SOURCE_DIR}/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR} COMPONENT aion)
if(TARGET aion)
  # The completion script is generated from the CLI's own command tree at build time.
  add_custom_command(OUTPUT ${PROJECT_BINARY_DIR}/aion.bash-completion
                     COMMAND aion completion bash > ${PROJECT_BINARY_DIR}/aion.bash-completion
                     DEPENDS aion VERBATIM)
  add_custom_target(aion_completion ALL DEPENDS ${PROJECT_BINARY_DIR}/aion.bash-completion)
  install(FILES ${PROJECT_BINARY_DIR}/aion.bash-completion
          DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions RENAME aion COMPONENT aion)
endif()

set(CPACK_PACKAGE_NAME aion)
set(CPACK_PACKAGE_VENDOR "aion developers")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "AI-native node layer for GPU servers: scheduling, telemetry, diagnosis, tuning")
set(CPACK_PACKAGE_CONTACT "aion developers <aion@localhost>")
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${PROJECT_SOURCE_DIR}/packaging/postinst ${PROJECT_SOURCE_DIR}/packaging/postrm
    ${PROJECT_SOURCE_DIR}/packaging/prerm ${PROJECT_SOURCE_DIR}/packaging/conffiles)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
